/**
 * Exit codes and error reporting of the `agent-trace` CLI. Every failure becomes one line,
 * `agent-trace: <message> (<code>)`, with no stack unless `--debug`, and with every URL reduced to
 * {@link describeUrl} and every known secret (presigned URL, grant) replaced, so a pasted terminal
 * log never leaks a credential.
 *
 * @packageDocumentation
 */
import {
  ConfigError,
  GrantError,
  SpoolError,
  TraceError,
  TraceFormatError,
  TraceKeyError,
  UploadError,
} from '../errors.js';
import { safeText } from '../sanitize.js';
import { terminalSafeText } from './terminal-safe.js';

/** Process exit codes of `agent-trace` (also printed by `agent-trace --help`). */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** Verification found problems, or an upload failed. */
  failure: 1,
  /** Bad usage or invalid input: unknown option, missing argument, invalid id, bad transport config. */
  usage: 2,
  /** I/O error, or a corrupt or truncated trace. */
  io: 3,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error raised by a CLI command with the exit code it maps to. */
export class CliError extends TraceError {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  constructor(exitCode: ExitCodeValue, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
    this.code = code;
  }
}

/** `1 attempt`, `2 attempts`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** A usage error (exit 2) with code `ERR_USAGE`. */
export function usageError(message: string): CliError {
  return new CliError(ExitCode.usage, 'ERR_USAGE', message);
}

// errno-style codes (ENOENT, EACCES, EISDIR, ...), not Node's own ERR_* codes.
const NODE_SYSTEM_CODE = /^E(?!RR_)[A-Z0-9]+$/;

function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return (
    err instanceof Error &&
    typeof (err as NodeJS.ErrnoException).code === 'string' &&
    (typeof (err as NodeJS.ErrnoException).syscall === 'string' ||
      NODE_SYSTEM_CODE.test((err as NodeJS.ErrnoException).code ?? ''))
  );
}

/** AWS SDK v3 service errors carry `$metadata`; their code is the error name (e.g. `NoSuchKey`). */
function isAwsServiceError(err: unknown): err is Error & { $metadata: unknown } {
  return err instanceof Error && typeof (err as { $metadata?: unknown }).$metadata === 'object';
}

/** The exit code an error maps to. */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof TraceKeyError || err instanceof ConfigError) return ExitCode.usage;
  if (err instanceof TraceFormatError || err instanceof SpoolError) return ExitCode.io;
  if (err instanceof UploadError || err instanceof GrantError) return ExitCode.failure;
  if (isSystemError(err) || isAwsServiceError(err)) return ExitCode.io;
  return ExitCode.failure;
}

/** The stable code shown in parentheses after the message. */
export function errorCode(err: unknown): string {
  if (err instanceof TraceError) return err.code;
  if (isSystemError(err)) return err.code ?? 'ERR_IO';
  if (isAwsServiceError(err)) return err.name;
  return 'ERR_UNEXPECTED';
}

/**
 * Removes what must never reach a terminal (through the SDK's one sanitizer): URL query strings
 * (presigned signatures), token-shaped strings, known secret shapes, and the literal values of
 * `secrets` (a grant, a presigned URL passed as an option).
 */
export function sanitize(text: string, secrets: readonly string[] = []): string {
  return safeText(text, { secrets, maxChars: Number.POSITIVE_INFINITY, multiline: true });
}

/** The one line printed for a failure, or the sanitized stack (and causes) with `debug`. */
export function formatError(
  err: unknown,
  opts: { debug?: boolean; secrets?: readonly string[] } = {},
): string {
  const message = err instanceof Error ? err.message : String(err);
  let text = `agent-trace: ${message} (${errorCode(err)})\n`;
  if (opts.debug === true) {
    let cause: unknown = err;
    for (let depth = 0; cause instanceof Error && depth < 8; depth++) {
      text += `${depth === 0 ? '' : 'caused by: '}${cause.stack ?? cause.message}\n`;
      cause = cause.cause;
    }
  }
  // Messages quote ids and paths taken from artifacts and sidecars: no control sequence may pass.
  return terminalSafeText(sanitize(text, opts.secrets));
}
