/**
 * Recorder options: their types, defaults and validation. Bad options fail at construction with a
 * {@link ConfigError} naming the option; nothing is recorded then.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { traceKey } from '../key.js';
import { booleanOption, describeValue, functionOption, numberOption } from '../option-checks.js';
import type { RedactionPattern } from '../serialize/redact.js';
import { defaultSpoolDir } from '../spool/private-dir.js';
import type { TraceTransport } from '../upload/types.js';
import { type CheckpointOptions, type CheckpointSchedule, DEFAULT_CHECKPOINTS } from './checkpoint.js';
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
  /**
   * Every event recorded more than this many ms ago is on disk in the spill file as complete gzip
   * members, whatever the trace size (default 2000, like OpenTelemetry's batch schedule): what a
   * killed process can lose while its disk survives. 0 turns the timer off.
   */
  readonly flushIntervalMs?: number | undefined;
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
  /**
   * Spill files and failed artifacts go here. Default `<os.tmpdir()>/agent-trace-<uid>/spool`, created
   * private (0700) and refused when another user could read or plant files in it.
   */
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
  /**
   * Checkpoint uploads (default off): while recording, PUT the trace so far to its key through
   * `transport` on a geometric schedule, each a complete artifact whose header says
   * `partial: true`; the final upload replaces it. Bounds what is lost when the sandbox dies with
   * its disk. `true` takes the defaults (first after 5 s, then each time the trace doubled, at
   * least 5 s apart); checkpoint bytes stay within `growth / (growth - 1)` (2x by default) times
   * the final size. Consumers of the bucket see partial objects: check the header's `partial`.
   */
  readonly checkpoints?: boolean | CheckpointOptions | undefined;
  /**
   * zlib level of the compressed trace, -1 to 9 (default 1, or `TRACE_COMPRESSION_LEVEL` when set):
   * measured fastest for the agent's CPU at a few percent more bytes (docs/performance.md).
   */
  readonly compressionLevel?: number | undefined;
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
  readonly flushIntervalMs: number | undefined;
  readonly operator: string | undefined;
  readonly now: () => number;
  /** Checkpoint schedule, when checkpoints are on (and there is a transport). */
  readonly checkpoints: CheckpointSchedule | undefined;
  /** zlib level, or undefined for the spool's default. */
  readonly compressionLevel: number | undefined;
}

/** The recorder's options are named bare (`maxBytes`, `limits.maxDepth`): they are the caller's own words. */
const OWNER = '';

function integer(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  return numberOption(OWNER, name, value, fallback, { min, max, integer: true });
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
    throw new ConfigError(`limits must be an object, got ${describeValue(limits)}`, 'limits');
  }
  if (opts.spoolDir !== undefined && (typeof opts.spoolDir !== 'string' || opts.spoolDir === '')) {
    throw new ConfigError('spoolDir must be a non-empty path', 'spoolDir');
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
  const now = functionOption(OWNER, 'now', opts.now as (() => number) | undefined) ?? Date.now;
  const transport = transportOption(opts.transport);
  const checkpoints = checkpointOption(opts.checkpoints);
  return {
    key,
    userId: opts.userId,
    taskId: opts.taskId,
    transport,
    maxBytes: integer('maxBytes', opts.maxBytes, DEFAULT_MAX_BYTES, 1),
    spoolDir: opts.spoolDir ?? defaultSpoolDir(),
    redact: functionOption(OWNER, 'redact', opts.redact),
    redactPatterns: opts.redactPatterns,
    onTruncate: functionOption(OWNER, 'onTruncate', opts.onTruncate),
    failOpen: booleanOption(OWNER, 'failOpen', opts.failOpen) ?? true,
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
    flushIntervalMs:
      limits.flushIntervalMs === undefined
        ? undefined
        : integer('limits.flushIntervalMs', limits.flushIntervalMs, 0, 0, 3_600_000),
    operator,
    now,
    checkpoints: transport === null ? undefined : checkpoints,
    compressionLevel: compressionLevelOption(opts.compressionLevel),
  };
}

function checkpointOption(value: unknown): CheckpointSchedule | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...DEFAULT_CHECKPOINTS };
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError(
      `checkpoints must be a boolean or { intervalMs, growth, timeoutMs }, got ${describeValue(value)}`,
      'checkpoints',
    );
  }
  const o = value as CheckpointOptions;
  const growth = o.growth ?? DEFAULT_CHECKPOINTS.growth;
  if (typeof growth !== 'number' || !(growth > 1) || growth > 1000) {
    throw new ConfigError(
      `checkpoints.growth must be a number above 1 (at most 1000), got ${describeValue(growth)}`,
      'checkpoints.growth',
    );
  }
  return {
    intervalMs: integer(
      'checkpoints.intervalMs',
      o.intervalMs,
      DEFAULT_CHECKPOINTS.intervalMs,
      1,
      2 ** 31 - 1,
    ),
    growth,
    timeoutMs: integer('checkpoints.timeoutMs', o.timeoutMs, DEFAULT_CHECKPOINTS.timeoutMs, 1, 2 ** 31 - 1),
  };
}

/** The compression level: the option, else `TRACE_COMPRESSION_LEVEL`, else the spool's default. */
function compressionLevelOption(value: unknown): number | undefined {
  if (value !== undefined) return integer('compressionLevel', value, 1, -1, 9);
  const env = process.env['TRACE_COMPRESSION_LEVEL'];
  if (env === undefined || env.trim() === '') return undefined;
  const level = Number(env);
  if (!Number.isInteger(level) || level < -1 || level > 9) {
    throw new ConfigError(
      'TRACE_COMPRESSION_LEVEL must be an integer from -1 to 9',
      'TRACE_COMPRESSION_LEVEL',
    );
  }
  return level;
}
