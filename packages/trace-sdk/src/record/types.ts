/**
 * The recorder's public types: what `createTraceRecorder` returns and what `finish` reports.
 *
 * @packageDocumentation
 */
import type { TraceError } from '../errors.js';
import type { CheckpointStats } from './checkpoint.js';
import type {
  OutputScreeningInput,
  PolicyDecisionInput,
  ResultInput,
  TraceEvent,
  TurnInput,
} from './events.js';

/** Options of {@link TraceRecorder.finish}. */
export interface FinishOptions {
  /** Cancels the upload; the artifact is then kept in `spoolDir` like any failed upload. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Upper bound on finishing in milliseconds (combined with `signal`): the upload gets what
   * stopping checkpoints and sealing left of it; default
   * 130 000 (the retry deadline plus a grace), `Infinity` for none. Zero,
   * negative or `NaN` means "no time left": nothing is sent and the artifact is spooled, so a value
   * derived from a serverless runtime's remaining time is always safe to pass.
   */
  readonly timeoutMs?: number | undefined;
}

/** Fields of every {@link FinishResult}. */
export interface FinishResultBase {
  /** The object key, `traces/<user_id>/<task_id>.jsonl.gz`. */
  readonly key: string;
  /** Event lines in the artifact (the header excluded). */
  readonly events: number;
  /** Events dropped by `maxBytes`. */
  readonly dropped: number;
  /** Compressed body size in bytes (0 when there is no body). */
  readonly bytes: number;
  /** Uncompressed event bytes (the header's `accumulated_bytes`). */
  readonly uncompressedBytes: number;
  /** Lowercase hex SHA-256 of the body (`''` when there is no body: aborted, or sealing failed). */
  readonly sha256: string;
  /** Upload attempts made (0 when none was). */
  readonly attempts: number;
  /** Name of the transport used (absent when there was none). */
  readonly transport?: string | undefined;
  /**
   * True when the transport holds a bucket-wide write grant (the legacy `s3-put-object` transport):
   * a compromised runtime could have written other users' traces. See docs/migration.md.
   */
  readonly legacy?: boolean | undefined;
  /** Why the spool directory could not be used, when it could not (the trace was kept in memory). */
  readonly spoolUnavailable?: string | undefined;
  /** What checkpoint uploads did, when the `checkpoints` option is on. */
  readonly checkpoints?: CheckpointStats | undefined;
}

/** The trace was stored by the transport. */
export interface FinishUploaded extends FinishResultBase {
  readonly status: 'uploaded';
  /** Where the transport stored it, when it says. */
  readonly uri?: string | undefined;
  /**
   * The storage server's clock minus this host's, in ms, when the transport saw a skew of 2 s or
   * more (from S3's `Date` header; positive: the server is ahead).
   */
  readonly clockSkewMs?: number | undefined;
  readonly reason?: undefined;
  readonly error?: undefined;
  readonly spooledPath?: undefined;
}

/** Nothing was uploaded by choice: `transport: null`, or `abort()` came first. */
export interface FinishSkipped extends FinishResultBase {
  readonly status: 'skipped';
  /** Why nothing was uploaded. */
  readonly reason: 'no-transport' | 'aborted';
  readonly uri?: undefined;
  readonly error?: undefined;
  readonly spooledPath?: undefined;
}

/** The upload (or sealing) failed; the artifact is at `spooledPath` unless even that failed. */
export interface FinishFailed extends FinishResultBase {
  readonly status: 'failed';
  /** Why it failed: switch on `error.code`. Safe to log. */
  readonly error: TraceError;
  /** The spooled artifact, when the body was kept for `uploadSpooled`. */
  readonly spooledPath?: string | undefined;
  readonly uri?: undefined;
  readonly reason?: undefined;
}

/**
 * What {@link TraceRecorder.finish} reports, discriminated by `status`:
 * `if (r.status === 'failed') console.log(r.error.code)`.
 */
export type FinishResult = FinishUploaded | FinishSkipped | FinishFailed;

/** Running counts of a recorder. */
export interface RecorderStats {
  /** Events written (kept). */
  readonly events: number;
  /** Events dropped because they did not fit under `maxBytes`. */
  readonly dropped: number;
  /** Events the `redact` hook dropped by returning `null`. */
  readonly filtered: number;
  /** Events replaced by a `redaction_failed` marker because a redactor threw. */
  readonly masked: number;
  /** Events over the per-event limit (shrunk, or replaced by an `oversized` marker). */
  readonly oversized: number;
  /** Uncompressed bytes of the kept lines. */
  readonly bytes: number;
  /** Secrets replaced in the kept lines. */
  readonly redactions: number;
  /** Strings truncated in the kept lines. */
  readonly truncatedFields: number;
  /** Events lost to an unexpected internal error (should stay 0), or recorded re-entrantly from inside a getter or hook. */
  readonly errors: number;
  /** `record` calls after `finish` or `abort` (ignored). */
  readonly afterClose: number;
}

/** Records one task's trace. Created by {@link createTraceRecorder}. */
export interface TraceRecorder {
  /** `traces/<user_id>/<task_id>.jsonl.gz`. */
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  /**
   * Records one event. Synchronous, never throws. Stamps `event` (`'UNKNOWN'` when missing),
   * `task_id`, `seq`, `ts` and the active OpenTelemetry `trace_id`/`span_id`; fields with those
   * names in `event` are replaced.
   *
   * @returns whether the event was kept (false when dropped, filtered, or after finish/abort).
   */
  record(event: TraceEvent | Record<string, unknown>): boolean;
  /** Records a `TRAJECTORY_TURN` (see `turnEvent` for the field mapping). */
  recordTurn(input: TurnInput): boolean;
  /** Records a `TRAJECTORY_RESULT`. */
  recordResult(input: ResultInput): boolean;
  /** Records a `POLICY_DECISION`. */
  recordPolicyDecision(input: PolicyDecisionInput): boolean;
  /** Records an `OUTPUT_SCREENING`. */
  recordOutputScreening(input: OutputScreeningInput): boolean;
  /** Current counts. */
  stats(): RecorderStats;
  /**
   * Seals the trace and uploads it. Idempotent: later calls return the same promise. Resolves with
   * `status: 'failed'` on failure unless `failOpen: false`, which rejects with the typed error
   * (after keeping the artifact in `spoolDir`). After {@link TraceRecorder.abort}, resolves `skipped`.
   */
  finish(opts?: FinishOptions): Promise<FinishResult>;
  /**
   * Discards everything recorded and removes temp files. Idempotent; a no-op once `finish` was
   * called (cancel an upload with `finish({ signal })`).
   */
  abort(): Promise<void>;
}
