#!/usr/bin/env node
/**
 * `agent-trace`: read, check and move trace artifacts from a shell.
 *
 * Builds the commander program (one file per command in `./commands`), runs it against an
 * injectable {@link CliIo} so tests drive it in-process, and maps every outcome to the documented
 * exit codes. Run as a script (the package's `bin`), it drives the real process.
 *
 * @packageDocumentation
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { SDK_VERSION } from '../version.js';
import { addCatCommand } from './commands/cat.js';
import { addInspectCommand } from './commands/inspect.js';
import { addKeyCommand } from './commands/key.js';
import { addPresignCommand } from './commands/presign.js';
import { addSpoolCommand } from './commands/spool.js';
import { addUploadCommand } from './commands/upload.js';
import { addVerifyCommand } from './commands/verify.js';
import type { CliContext } from './context.js';
import { ExitCode, type ExitCodeValue, exitCodeFor, formatError, sanitize } from './errors.js';
import { type CliIo, processIo } from './io.js';
import { terminalSafeText } from './terminal-safe.js';

/** Printed after the top-level help; kept in step with docs/operations.md. */
export const HELP_EPILOG = `
Exit codes:
  0  success
  1  verification found problems, or an upload failed
  2  usage error or invalid input (unknown option, invalid id, bad transport configuration)
  3  I/O error, or a corrupt or truncated trace

Environment (upload, spool flush):
  TRACE_TRANSPORT              presigned-put | lambda | s3-put-object | file
  TRACE_UPLOAD_URL             presigned PUT URL (a secret: never printed)
  TRACE_UPLOADER_FUNCTION      uploader Lambda name or ARN
  TRACE_UPLOAD_GRANT           upload grant for the uploader Lambda (a secret: never printed)
  TRACE_ARTIFACTS_BUCKET_NAME  bucket for the legacy s3-put-object transport
  TRACE_ALLOW_BUCKET_WIDE_PUT  1 to accept s3-put-object's bucket-wide grant (or --allow-bucket-wide-put)
  TRACE_DIR                    directory for the file transport
Environment (cat s3://, presign, lambda, s3-put-object):
  AWS_REGION (required by lambda and s3-put-object), AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_LAMBDA
  and the usual AWS credential variables (presign needs credentials)

Docs: docs/operations.md (exit codes, spool recovery), docs/transports.md`;

/** Builds the program for one invocation. Commands report their exit code through `ctx`. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('agent-trace')
    .description('Read, verify and upload agent-trace artifacts (traces/<user_id>/<task_id>.jsonl.gz).')
    .version(SDK_VERSION, '-V, --version', 'print the version')
    .option('--debug', 'print stack traces for errors')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
      // runCli prints every error in one format; commander's own line would duplicate it.
      outputError: () => {},
    })
    .addHelpText('after', HELP_EPILOG);
  addCatCommand(program, ctx);
  addInspectCommand(program, ctx);
  addVerifyCommand(program, ctx);
  addKeyCommand(program, ctx);
  addPresignCommand(program, ctx);
  addUploadCommand(program, ctx);
  addSpoolCommand(program, ctx);
  return program;
}

function commanderOutcome(err: CommanderError, ctx: CliContext): ExitCodeValue {
  // Help and version exit 0; help shown because no (sub)command was given is a usage error.
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
  if (err.code === 'commander.help') return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  const [first = '', ...rest] = err.message.replace(/^error: /, '').split('\n');
  const hint = [...rest.filter((l) => l.length > 0), "Run 'agent-trace --help' for usage."].join('\n');
  ctx.io.stderr.write(
    terminalSafeText(sanitize(`agent-trace: ${first} (ERR_USAGE)\n${hint}\n`, ctx.secrets)),
  );
  return ExitCode.usage;
}

/**
 * Runs the CLI with `argv` (the arguments after the script name) and resolves with the exit
 * code. Never throws and never calls `process.exit`.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<ExitCodeValue> {
  const ctx: CliContext = { io, exitCode: ExitCode.ok, secrets: [] };
  for (const name of [
    'TRACE_UPLOAD_URL',
    'TRACE_UPLOAD_GRANT',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
  ]) {
    const value = io.env[name];
    if (value !== undefined && value !== '') ctx.secrets.push(value);
  }
  try {
    await createProgram(ctx).parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return commanderOutcome(err, ctx);
    io.stderr.write(formatError(err, { debug: argv.includes('--debug'), secrets: ctx.secrets }));
    return exitCodeFor(err);
  }
}

function isEntryPoint(): boolean {
  if (typeof import.meta.main === 'boolean') return import.meta.main;
  // Node releases without import.meta.main: compare the script with this file (bins are symlinks).
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * Drives the real process: runs the CLI on `process.argv` and exits with its code. The package's
 * `bin` (bin/agent-trace.js, committed so package managers can link it before `dist/` is built)
 * calls this.
 */
export async function main(): Promise<never> {
  // `agent-trace cat trace.gz | head`: the reader went away; stop quietly, as cat(1) does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.ok);
  });
  const code = await runCli(process.argv.slice(2));
  // Exit explicitly once stdout and stderr have flushed: idle keep-alive sockets of the HTTP and
  // AWS clients would otherwise hold the process open for seconds after the work is done.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

if (isEntryPoint()) await main();
