/**
 * Recorder options: their types, defaults and validation. Bad options fail at construction with a
 * {@link ConfigError} naming the option; nothing is recorded then.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { traceKey } from '../key.js';
import type { RedactionPattern } from '../serialize/redact.js';
import { defaultSpoolDir } from '../spool/private-dir.js';
import type { TraceTransport } from '../upload/types.js';
import type { TraceEvent } from './events.js';

/** Default cap on kept uncompressed JSONL: 50 MiB, as the Python agent. */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;
/** Default cap on one serialized event line: 256 KiB. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024;
/** Default cap on `thinking` and `text`: 4000 characters. */
export const DEFAULT_MAX_TEXT_CHARS = 4000;
/** Default cap on tool result `content` (strings and text blocks): 2000 characters. */
export const DEFAULT_MAX_TOOL_RESULT_CHARS = 2000;
/** Default nesting depth written before `"[Max depth]"`. */
export const DEFAULT_MAX_DEPTH = 64;
/** Deepest nesting accepted for `limits.maxDepth` (recursion stays far from the stack limit). */
const MAX_DEPTH = 1000;
/** Smallest per-event cap accepted: room for the stamps and a marker. */
const MIN_EVENT_BYTES = 1024;

export { defaultSpoolDir } from '../spool/private-dir.js';

/** Size and shape limits; every field is optional. */
export interface RecorderLimits {
  /** Largest serialized event line in bytes (default 256 KiB); larger events are shrunk, or replaced by a marker. */
  readonly maxEventBytes?: number | undefined;
  /** Characters kept of `thinking` and `text` (default 4000). */
  readonly maxTextChars?: number | undefined;
  /** Characters kept of tool result `content` and its text blocks (default 2000). */
  readonly maxToolResultChars?: number | undefined;
  /** Nesting depth written before `"[Max depth]"` (default 64, at most 1000). */
  readonly maxDepth?: number | undefined;
  /** Compressed bytes held in memory before the spool spills to a file in `spoolDir` (spool default 8 MiB). */
  readonly spoolMemoryBytes?: number | undefined;
}

/**
 * A hook that sees each event before it is written. Return the event (the same object, possibly
 * changed, or a new one) to keep it, `null` to drop it (counted as filtered). Returning `undefined`
 * keeps the event as passed. A hook that throws masks the whole event.
 */
export type RedactHook = (event: TraceEvent) => TraceEvent | Record<string, unknown> | null | undefined;

/** Options of `createTraceRecorder`. */
export interface TraceRecorderOptions {
  /** Owner of the trace; validated by `traceKey`. */
  readonly userId: string;
  /** The task this trace records; validated by `traceKey`. */
  readonly taskId: string;
  /** Where `finish` uploads the artifact. `null` records without uploading (`finish` reports `skipped`). */
  readonly transport: TraceTransport | null;
  /** Cap on kept uncompressed JSONL in bytes (default 50 MiB). Events that do not fit are dropped and counted. */
  readonly maxBytes?: number | undefined;
  /** Spill files and failed artifacts go here (default `<os.tmpdir()>/agent-trace/spool`). */
  readonly spoolDir?: string | undefined;
  /** Your own redaction hook, run before the built-in patterns. */
  readonly redact?: RedactHook | undefined;
  /** Extra patterns replaced by `[REDACTED-<label>]`, after the built-in ones. */
  readonly redactPatterns?: readonly RedactionPattern[] | undefined;
  /** Called once, the first time an event is dropped by `maxBytes`. Its errors are swallowed. */
  readonly onTruncate?: ((maxBytes: number, droppedSoFar: number) => void) | undefined;
  /**
   * `true` (default): a failed upload keeps the artifact in `spoolDir` and `finish` resolves with
   * `status: 'failed'`. `false`: `finish` rejects with the typed error (after spooling).
   */
  readonly failOpen?: boolean | undefined;
  /** Size and shape limits. */
  readonly limits?: RecorderLimits | undefined;
  /** Who ran the task, written to the header as `attribution.operator`. */
  readonly attribution?: { readonly operator: string } | undefined;
  /** Clock in epoch milliseconds (default `Date.now`), for `ts`, `started_at` and `finished_at`. */
  readonly now?: (() => number) | undefined;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedOptions {
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  readonly transport: TraceTransport | null;
  readonly maxBytes: number;
  readonly spoolDir: string;
  readonly redact: RedactHook | undefined;
  readonly redactPatterns: readonly RedactionPattern[] | undefined;
  readonly onTruncate: ((maxBytes: number, droppedSoFar: number) => void) | undefined;
  readonly failOpen: boolean;
  readonly maxEventBytes: number;
  readonly maxTextChars: number;
  readonly maxToolResultChars: number;
  readonly maxDepth: number;
  readonly spoolMemoryBytes: number | undefined;
  readonly operator: string | undefined;
  readonly now: () => number;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  return typeof value;
}

function integer(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(`${name} must be an integer ${range}, got ${describe(value)}`, name);
  }
  return value;
}

function optionalFunction<T>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function')
    throw new ConfigError(`${name} must be a function, got ${describe(value)}`, name);
  return value as T;
}

function transportOption(value: unknown): TraceTransport | null {
  if (value === null) return null;
  if (value === undefined) {
    throw new ConfigError('transport is required (pass null to record without uploading)', 'transport');
  }
  const t = value as Partial<TraceTransport>;
  if (
    typeof t !== 'object' ||
    typeof t.upload !== 'function' ||
    typeof t.name !== 'string' ||
    t.name === ''
  ) {
    throw new ConfigError(
      'transport must be a TraceTransport: { name: string, upload(artifact, opts) }',
      'transport',
    );
  }
  return value as TraceTransport;
}

/**
 * Validates `opts` and fills in defaults.
 *
 * @throws {@link TraceKeyError} for an invalid `userId`/`taskId`; {@link ConfigError} for any other bad option.
 */
export function resolveOptions(opts: TraceRecorderOptions): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new ConfigError('createTraceRecorder expects an options object', 'options');
  }
  const key = traceKey({ userId: opts.userId, taskId: opts.taskId });
  const limits: RecorderLimits = opts.limits ?? {};
  if (typeof limits !== 'object' || limits === null) {
    throw new ConfigError(`limits must be an object, got ${describe(limits)}`, 'limits');
  }
  if (opts.spoolDir !== undefined && (typeof opts.spoolDir !== 'string' || opts.spoolDir === '')) {
    throw new ConfigError('spoolDir must be a non-empty path', 'spoolDir');
  }
  if (opts.failOpen !== undefined && typeof opts.failOpen !== 'boolean') {
    throw new ConfigError(`failOpen must be a boolean, got ${describe(opts.failOpen)}`, 'failOpen');
  }
  if (opts.redactPatterns !== undefined && !Array.isArray(opts.redactPatterns)) {
    throw new ConfigError('redactPatterns must be an array of { label, pattern }', 'redactPatterns');
  }
  let operator: string | undefined;
  if (opts.attribution !== undefined) {
    const op = (opts.attribution as { operator?: unknown } | null)?.operator;
    if (typeof op !== 'string' || op === '' || op.length > 256) {
      throw new ConfigError(
        'attribution.operator must be a non-empty string of at most 256 characters',
        'attribution',
      );
    }
    operator = op;
  }
  const now = optionalFunction<() => number>('now', opts.now) ?? Date.now;
  return {
    key,
    userId: opts.userId,
    taskId: opts.taskId,
    transport: transportOption(opts.transport),
    maxBytes: integer('maxBytes', opts.maxBytes, DEFAULT_MAX_BYTES, 1),
    spoolDir: opts.spoolDir ?? defaultSpoolDir(),
    redact: optionalFunction<RedactHook>('redact', opts.redact),
    redactPatterns: opts.redactPatterns,
    onTruncate: optionalFunction('onTruncate', opts.onTruncate),
    failOpen: opts.failOpen ?? true,
    maxEventBytes: integer(
      'limits.maxEventBytes',
      limits.maxEventBytes,
      DEFAULT_MAX_EVENT_BYTES,
      MIN_EVENT_BYTES,
    ),
    maxTextChars: integer('limits.maxTextChars', limits.maxTextChars, DEFAULT_MAX_TEXT_CHARS, 1),
    maxToolResultChars: integer(
      'limits.maxToolResultChars',
      limits.maxToolResultChars,
      DEFAULT_MAX_TOOL_RESULT_CHARS,
      1,
    ),
    maxDepth: integer('limits.maxDepth', limits.maxDepth, DEFAULT_MAX_DEPTH, 1, MAX_DEPTH),
    spoolMemoryBytes:
      limits.spoolMemoryBytes === undefined
        ? undefined
        : integer('limits.spoolMemoryBytes', limits.spoolMemoryBytes, 0, 0),
    operator,
    now,
  };
}
