/**
 * The trace recorder: `record` → serialize (redact, truncate, cap) → spool, then `finish` → seal →
 * upload, or keep the artifact in the spool directory when the upload fails.
 *
 * `record` is synchronous and never throws: each event is serialized once into a JSONL line and
 * handed to the spool, which compresses in bounded memory. Whatever goes wrong with one event (a
 * throwing getter, a cycle, a failing redactor, a bug) costs that event at most, and is counted.
 *
 * @packageDocumentation
 */
import { performance } from 'node:perf_hooks';
import type { Span } from '@opentelemetry/api';
import { ConfigError, SpoolError, TraceError, UploadError } from '../errors.js';
import { RedactionFailure, Redactor } from '../serialize/redact.js';
import { type FieldShape, fieldShape, JsonWriter, SizeBudgetExceeded } from '../serialize/safe-json.js';
import { redactAndTruncate } from '../serialize/truncate.js';
import { createEventSpool } from '../spool/event-spool.js';
import { persistFailedArtifact } from '../spool/spool-store.js';
import type { EventSpool, SealedBody } from '../spool/types.js';
import { activeSpanIds, inSpan, instruments } from '../telemetry/otel.js';
import { safeCause } from '../upload/transports/error-mapping.js';
import { TRACE_CONTENT_TYPE, type TraceArtifact, type TraceTransport } from '../upload/types.js';
import {
  type OutputScreeningInput,
  outputScreeningEvent,
  type PolicyDecisionInput,
  policyDecisionEvent,
  type ResultInput,
  resultEvent,
  type TraceEvent,
  type TurnInput,
  turnEvent,
  UNKNOWN_EVENT,
} from './events.js';
import { headerLine } from './header.js';
import { type ResolvedOptions, resolveOptions, type TraceRecorderOptions } from './options.js';

/** Options of {@link TraceRecorder.finish}. */
export interface FinishOptions {
  /** Cancels the upload; the artifact is then kept in `spoolDir` like any failed upload. */
  readonly signal?: AbortSignal | undefined;
  /** Upper bound on the upload in milliseconds (combined with `signal`). */
  readonly timeoutMs?: number | undefined;
}

/** What {@link TraceRecorder.finish} reports. */
export interface FinishResult {
  /**
   * `uploaded`: stored by the transport. `skipped`: nothing uploaded by choice (`transport: null`,
   * or `abort()` came first; see `reason`). `failed`: see `error`; the artifact is at `spooledPath`
   * unless even that failed.
   */
  readonly status: 'uploaded' | 'skipped' | 'failed';
  /** Why a `skipped` finish uploaded nothing. */
  readonly reason?: 'no-transport' | 'aborted';
  /** The object key, `traces/<user_id>/<task_id>.jsonl.gz`. */
  readonly key: string;
  /** Where the transport stored it, when it says. */
  readonly uri?: string;
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
  /** The spooled artifact, when the upload failed and the body was kept. */
  readonly spooledPath?: string;
  /** Why the upload (or sealing) failed. */
  readonly error?: TraceError;
}

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

const RESERVED = new Set(['event', 'task_id', 'seq', 'ts']);
const RESERVED_WITH_SPAN = new Set([...RESERVED, 'trace_id', 'span_id']);
const RESERVED_SHRUNK = new Set([...RESERVED, 'truncated']);
const RESERVED_WITH_SPAN_SHRUNK = new Set([...RESERVED_WITH_SPAN, 'truncated']);
/** Event names longer than this are truncated. */
const MAX_NAME_CHARS = 256;
/** Event names written as is in a `redaction_failed` marker; anything else becomes `UNKNOWN`. */
const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
/** Quoted event names cached per recorder. */
const NAME_CACHE_MAX = 256;
/** Events between two flushes of the OpenTelemetry counters. */
const METRICS_EVERY = 1024;

let warnedAfterClose = false;

function warnAfterClose(): void {
  if (warnedAfterClose) return;
  warnedAfterClose = true;
  try {
    process.emitWarning(
      'TraceRecorder.record() was called after finish() or abort(); the event was ignored',
      {
        code: 'AGENT_TRACE_RECORD_AFTER_CLOSE',
      },
    );
  } catch {
    // Warnings are best effort.
  }
}

/**
 * Creates a recorder for one task.
 *
 * @throws {@link TraceKeyError} when `userId` or `taskId` is invalid (nothing is recorded or uploaded);
 *   {@link ConfigError} naming the option when another option is invalid.
 * @example
 * const rec = createTraceRecorder({ userId, taskId, transport: presignedPutTransport({ url }) });
 * rec.recordTurn({ turn: 1, model: 'claude', text: 'Hello' });
 * const result = await rec.finish({ timeoutMs: 30_000 });
 */
export function createTraceRecorder(options: TraceRecorderOptions): TraceRecorder {
  const opts = resolveOptions(options);
  const spool = createEventSpool({
    spoolDir: opts.spoolDir,
    key: opts.key,
    memoryThresholdBytes: opts.spoolMemoryBytes,
  });
  return new Recorder(opts, spool);
}

/**
 * The recorder over any {@link EventSpool}. Lets tests drive a recorder with a spool of their own;
 * applications use {@link createTraceRecorder}.
 *
 * @internal
 */
export function createRecorderWithSpool(options: TraceRecorderOptions, spool: EventSpool): TraceRecorder {
  return new Recorder(resolveOptions(options), spool);
}

interface Serialized {
  line: string;
  bytes: number;
}

class Recorder implements TraceRecorder {
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;

  private readonly opts: ResolvedOptions;
  private readonly spool: EventSpool;
  private readonly writer: JsonWriter;
  private readonly rootShape: FieldShape;
  private readonly taskPart: string;
  private readonly startedAt: number;
  private readonly names = new Map<string, string>();

  private state: 'recording' | 'finishing' | 'aborted' = 'recording';
  private busy = false;
  private seq = 0;
  private bytes = 0;
  private dropped = 0;
  private filtered = 0;
  private masked = 0;
  private oversized = 0;
  private errors = 0;
  private afterClose = 0;
  private truncateFired = false;
  private finishing: Promise<FinishResult> | undefined;
  private aborting: Promise<void> | undefined;
  /** Counts already added to the OpenTelemetry counters. */
  private reported = { events: 0, dropped: 0, redactions: 0, bytes: 0 };
  private sinceReport = 0;

  constructor(opts: ResolvedOptions, spool: EventSpool) {
    this.opts = opts;
    this.key = opts.key;
    this.userId = opts.userId;
    this.taskId = opts.taskId;
    this.spool = spool;
    this.writer = new JsonWriter(new Redactor(opts.redactPatterns), { maxDepth: opts.maxDepth });
    this.rootShape = fieldShape({
      thinking: opts.maxTextChars,
      text: opts.maxTextChars,
      tool_results: fieldShape({ content: opts.maxToolResultChars }),
    });
    this.taskPart = `,"task_id":${JSON.stringify(opts.taskId)},"seq":`;
    this.startedAt = this.now();
  }

  record(event: TraceEvent | Record<string, unknown>): boolean {
    if (this.state !== 'recording') {
      this.afterClose++;
      warnAfterClose();
      return false;
    }
    // A getter or hook that calls record() while this event is being written would corrupt it.
    if (this.busy) {
      this.errors++;
      return false;
    }
    this.busy = true;
    try {
      return this.write(event);
    } catch {
      this.errors++;
      return false;
    } finally {
      this.busy = false;
      if (++this.sinceReport >= METRICS_EVERY) this.reportMetrics();
    }
  }

  recordTurn(input: TurnInput): boolean {
    return this.recordBuilt('TRAJECTORY_TURN', () => turnEvent(input));
  }

  recordResult(input: ResultInput): boolean {
    return this.recordBuilt('TRAJECTORY_RESULT', () => resultEvent(input));
  }

  recordPolicyDecision(input: PolicyDecisionInput): boolean {
    return this.recordBuilt('POLICY_DECISION', () => policyDecisionEvent(input));
  }

  recordOutputScreening(input: OutputScreeningInput): boolean {
    return this.recordBuilt('OUTPUT_SCREENING', () => outputScreeningEvent(input));
  }

  stats(): RecorderStats {
    return {
      events: this.seq,
      dropped: this.dropped,
      filtered: this.filtered,
      masked: this.masked,
      oversized: this.oversized,
      bytes: this.bytes,
      redactions: this.writer.redactor.count,
      truncatedFields: this.writer.truncated,
      errors: this.errors,
      afterClose: this.afterClose,
    };
  }

  finish(opts: FinishOptions = {}): Promise<FinishResult> {
    if (this.finishing !== undefined) return this.finishing;
    const invalid = invalidFinishOption(opts);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (this.state === 'aborted') {
      this.finishing = Promise.resolve(this.result('skipped', undefined, { reason: 'aborted' }));
      return this.finishing;
    }
    this.state = 'finishing';
    this.finishing = this.seal(opts);
    return this.finishing;
  }

  abort(): Promise<void> {
    if (this.aborting !== undefined) return this.aborting;
    if (this.state === 'finishing') {
      this.aborting = Promise.resolve();
      return this.aborting;
    }
    this.state = 'aborted';
    this.reportMetrics();
    this.aborting = this.spool.discard().catch(() => {
      // Nothing left to report to: the trace is being thrown away.
    });
    return this.aborting;
  }

  // ---- recording -------------------------------------------------------------------------------

  private recordBuilt(name: string, build: () => TraceEvent): boolean {
    let event: TraceEvent;
    try {
      event = build();
    } catch (err) {
      // Hostile input (a throwing getter on the helper's argument): keep the evidence, not the data.
      event = { event: name, input_error: `[Unserializable: ${err instanceof Error ? err.name : 'Error'}]` };
    }
    return this.record(event);
  }

  private now(): number {
    try {
      const t = this.opts.now();
      if (typeof t === 'number' && Number.isFinite(t)) return t;
    } catch {
      // A broken clock must not cost the event.
    }
    return Date.now();
  }

  private write(input: unknown): boolean {
    let event = input;
    const hook = this.opts.redact;
    if (hook !== undefined) {
      try {
        const out = hook(event as TraceEvent);
        if (out === null) {
          this.filtered++;
          return false;
        }
        if (out !== undefined) event = out;
      } catch {
        return this.keep(this.maskedLine(event));
      }
    }
    const remaining = this.opts.maxBytes - this.bytes;
    const ids = activeSpanIds();
    const ts = this.now();
    const redactionsBefore = this.writer.redactor.count;
    const truncatedBefore = this.writer.truncated;
    let out: Serialized;
    try {
      const name = this.nameJson(readName(event));
      const head = this.head(name, ts, ids);
      // Not even the stamps fit: drop without serializing.
      if (head.length + 2 > remaining) return this.drop(redactionsBefore, truncatedBefore);
      let first: Serialized | undefined;
      try {
        first = this.serialize(event, head);
      } catch (err) {
        if (!(err instanceof SizeBudgetExceeded)) throw err;
      }
      out =
        first !== undefined && first.bytes <= this.opts.maxEventBytes
          ? first
          : this.shrink(event, head, name, ts, ids, first?.bytes);
    } catch (err) {
      if (!(err instanceof RedactionFailure)) throw err;
      this.writer.redactor.count = redactionsBefore;
      this.writer.truncated = truncatedBefore;
      out = this.maskedLine(event);
    }
    if (out.bytes > remaining) return this.drop(redactionsBefore, truncatedBefore);
    return this.keep(out);
  }

  private keep(out: Serialized): boolean {
    // finish() or abort() called from inside a getter or hook while this event was being written.
    if (this.state !== 'recording') {
      this.afterClose++;
      return false;
    }
    if (out.bytes > this.opts.maxBytes - this.bytes) {
      this.dropped++;
      this.fireTruncate();
      return false;
    }
    this.spool.append(out.line);
    this.seq++;
    this.bytes += out.bytes;
    return true;
  }

  private drop(redactionsBefore: number, truncatedBefore: number): false {
    // Counts describe the kept lines only.
    this.writer.redactor.count = redactionsBefore;
    this.writer.truncated = truncatedBefore;
    this.dropped++;
    this.fireTruncate();
    return false;
  }

  private fireTruncate(): void {
    if (this.truncateFired) return;
    this.truncateFired = true;
    const cb = this.opts.onTruncate;
    if (cb === undefined) return;
    try {
      cb(this.opts.maxBytes, this.dropped);
    } catch {
      // Documented: onTruncate's errors are swallowed.
    }
  }

  /** The quoted, redacted event name (cached for clean names). */
  private nameJson(name: string): string {
    const cached = this.names.get(name);
    if (cached !== undefined) return cached;
    const redactor = this.writer.redactor;
    const before = redactor.count;
    const r = redactAndTruncate(name, MAX_NAME_CHARS, (s) => redactor.redact(s));
    if (r.truncated) this.writer.truncated++;
    const json = JSON.stringify(r.text);
    if (redactor.count === before && !r.truncated && this.names.size < NAME_CACHE_MAX)
      this.names.set(name, json);
    return json;
  }

  private head(nameJson: string, ts: number, ids: { traceId: string; spanId: string } | undefined): string {
    const head = `{"event":${nameJson}${this.taskPart}${this.seq},"ts":${ts}`;
    return ids === undefined ? head : `${head},"trace_id":"${ids.traceId}","span_id":"${ids.spanId}"`;
  }

  /** One line for `event`: the stamps in `head`, then the event's own fields. */
  private serialize(event: unknown, head: string, stringCap?: number, shrunk = false): Serialized {
    const writer = this.writer;
    // First pass: stop early on a monster event instead of building it whole.
    writer.reset(
      stringCap,
      stringCap === undefined ? this.opts.maxEventBytes * 16 : this.opts.maxEventBytes * 2,
    );
    const withSpan = head.includes(',"trace_id":');
    const skip = shrunk
      ? withSpan
        ? RESERVED_WITH_SPAN_SHRUNK
        : RESERVED_SHRUNK
      : withSpan
        ? RESERVED_WITH_SPAN
        : RESERVED;
    let body = '';
    if (event !== null && typeof event === 'object') {
      try {
        body = writer.members(event, 0, this.rootShape, skip);
      } catch (err) {
        if (err instanceof RedactionFailure || err instanceof SizeBudgetExceeded) throw err;
        // The event object itself cannot be read (e.g. a Proxy whose ownKeys trap throws).
        body = `"unserializable":${writer.marker(`[Unserializable: ${err instanceof Error ? err.name : 'Error'}]`)}`;
      }
    } else if (event !== undefined) {
      body = `"value":${writer.value(event, 0) ?? 'null'}`;
    }
    if (shrunk) body = body === '' ? '"truncated":true' : `${body},"truncated":true`;
    const line = body === '' ? `${head}}\n` : `${head},${body}}\n`;
    return { line, bytes: Buffer.byteLength(line, 'utf8') };
  }

  /**
   * Fits an oversized event under `maxEventBytes` by cutting its longest strings to the largest
   * common length that fits (binary search), marked `"truncated": true`. When even empty strings
   * do not fit (too many keys or numbers), writes a small `oversized` marker instead.
   */
  private shrink(
    event: unknown,
    head: string,
    nameJson: string,
    ts: number,
    ids: { traceId: string; spanId: string } | undefined,
    originalBytes: number | undefined,
  ): Serialized {
    this.oversized++;
    const max = this.opts.maxEventBytes;
    const redactor = this.writer.redactor;
    const redactionsBefore = redactor.count;
    const truncatedBefore = this.writer.truncated;
    const attempt = (cap: number): Serialized | undefined => {
      redactor.count = redactionsBefore;
      this.writer.truncated = truncatedBefore;
      try {
        const out = this.serialize(event, head, cap, true);
        return out.bytes <= max ? out : undefined;
      } catch (err) {
        if (err instanceof SizeBudgetExceeded) return undefined;
        throw err;
      }
    };
    let best = attempt(0);
    if (best !== undefined) {
      let lo = 0;
      // attempt(0) met every string, so this is the longest one: caps at or above it cut nothing.
      let hi = this.writer.longestString;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        const out = attempt(mid);
        if (out !== undefined) {
          lo = mid;
          best = out;
        } else hi = mid - 1;
      }
      // Re-run the winner so the counts are those of the line kept.
      best = attempt(lo) ?? best;
      return best;
    }
    redactor.count = redactionsBefore;
    this.writer.truncated = truncatedBefore;
    const size =
      originalBytes === undefined
        ? `"original_bytes":${max * 16},"original_bytes_is_lower_bound":true`
        : `"original_bytes":${originalBytes}`;
    const line = `${this.head(nameJson, ts, ids)},"truncated":true,"oversized":true,${size}}\n`;
    return { line, bytes: Buffer.byteLength(line, 'utf8') };
  }

  /** The marker written instead of an event whose redaction failed: no field of it is kept. */
  private maskedLine(event: unknown): Serialized {
    this.masked++;
    let name = UNKNOWN_EVENT;
    try {
      const raw = readName(event);
      // Only a plain identifier that the built-in patterns leave alone is safe to keep.
      if (PLAIN_NAME.test(raw) && new Redactor().redact(raw) === raw) name = raw;
    } catch {
      // Keep UNKNOWN.
    }
    const line = `${this.head(JSON.stringify(name), this.now(), activeSpanIdsSafe())},"redaction_failed":true}\n`;
    return { line, bytes: Buffer.byteLength(line, 'utf8') };
  }

  // ---- finishing -------------------------------------------------------------------------------

  private reportMetrics(): void {
    this.sinceReport = 0;
    try {
      const m = instruments();
      const now = {
        events: this.seq,
        dropped: this.dropped,
        redactions: this.writer.redactor.count,
        bytes: this.bytes,
      };
      const r = this.reported;
      if (now.events > r.events) m.eventsRecorded.add(now.events - r.events);
      if (now.dropped > r.dropped) m.eventsDropped.add(now.dropped - r.dropped);
      if (now.redactions > r.redactions) m.redactions.add(now.redactions - r.redactions);
      if (now.bytes > r.bytes) m.bytesIn.add(now.bytes - r.bytes);
      this.reported = now;
    } catch {
      // Metrics are best effort.
    }
  }

  private result(
    status: FinishResult['status'],
    body: SealedBody | undefined,
    extra: Partial<Omit<FinishResult, 'status' | 'key'>> = {},
  ): FinishResult {
    return {
      status,
      key: this.key,
      events: this.seq,
      dropped: this.dropped,
      bytes: body?.byteLength ?? 0,
      uncompressedBytes: this.bytes,
      sha256: body?.sha256 ?? '',
      attempts: 0,
      ...extra,
    };
  }

  private async seal(opts: FinishOptions): Promise<FinishResult> {
    this.reportMetrics();
    const line = headerLine({
      userId: this.userId,
      taskId: this.taskId,
      events: this.seq,
      bytes: this.bytes,
      dropped: this.dropped,
      maxBytes: this.opts.maxBytes,
      startedAt: this.startedAt,
      finishedAt: this.now(),
      redactions: this.writer.redactor.count,
      truncatedFields: this.writer.truncated,
      operator: this.opts.operator,
    });
    let body: SealedBody;
    try {
      body = await this.spool.seal(line);
    } catch (err) {
      const error =
        err instanceof TraceError
          ? err
          : new SpoolError(`Sealing the trace failed: ${messageOf(err)}`, { cause: err });
      if (!this.opts.failOpen) throw error;
      return this.result('failed', undefined, { error });
    }
    try {
      const transport = this.opts.transport;
      if (transport === null) return this.result('skipped', body, { reason: 'no-transport' });
      return await this.upload(transport, body, opts);
    } finally {
      await body.dispose().catch(() => {});
    }
  }

  private async upload(
    transport: TraceTransport,
    body: SealedBody,
    opts: FinishOptions,
  ): Promise<FinishResult> {
    const { signal, timeout } = uploadSignal(opts);
    const artifact: TraceArtifact = {
      key: this.key,
      userId: this.userId,
      taskId: this.taskId,
      byteLength: body.byteLength,
      sha256: body.sha256,
      contentType: TRACE_CONTENT_TYPE,
      open: () => body.open(),
    };
    const m = instruments();
    const metricAttrs = { 'agent_trace.transport': transport.name };
    const started = performance.now();
    const spanAttrs = { 'agent_trace.transport': transport.name, 'agent_trace.bytes': body.byteLength };
    try {
      const receipt = await inSpan('agent_trace.upload', spanAttrs, async (span: Span) => {
        try {
          const r = await untilAborted(transport.upload(artifact, { signal }), signal);
          span.setAttribute('agent_trace.attempts', r.attempts ?? 1);
          span.setAttribute('agent_trace.outcome', 'uploaded');
          return r;
        } catch (err) {
          span.setAttribute('agent_trace.attempts', attemptsOf(err));
          span.setAttribute('agent_trace.outcome', 'failed');
          throw err;
        }
      });
      m.uploadDuration.record((performance.now() - started) / 1000, {
        ...metricAttrs,
        'agent_trace.outcome': 'uploaded',
      });
      m.bytesOut.add(body.byteLength, metricAttrs);
      return this.result('uploaded', body, {
        ...(receipt.uri === undefined ? {} : { uri: receipt.uri }),
        attempts: receipt.attempts ?? 1,
      });
    } catch (err) {
      m.uploadDuration.record((performance.now() - started) / 1000, {
        ...metricAttrs,
        'agent_trace.outcome': 'failed',
      });
      m.uploadFailures.add(1, metricAttrs);
      let error = toUploadError(err, transport.name, opts, timeout);
      const attempts = attemptsOf(err);
      let spooledPath: string | undefined;
      try {
        spooledPath = await persistFailedArtifact(this.opts.spoolDir, body, {
          key: this.key,
          transport: transport.name,
          error: { code: error.code, message: error.message },
          attempts,
        });
      } catch (spoolErr) {
        error = withSpoolFailure(error, this.opts.spoolDir, spoolErr);
      }
      if (!this.opts.failOpen) throw error;
      return this.result('failed', body, {
        attempts,
        error,
        ...(spooledPath === undefined ? {} : { spooledPath }),
      });
    }
  }
}

function readName(event: unknown): string {
  if (event === null || typeof event !== 'object') return UNKNOWN_EVENT;
  let name: unknown;
  try {
    name = (event as { event?: unknown }).event;
  } catch {
    // A throwing getter or Proxy trap: still write the event (as UNKNOWN) rather than lose it silently.
    return UNKNOWN_EVENT;
  }
  return typeof name === 'string' && name !== '' ? name : UNKNOWN_EVENT;
}

function activeSpanIdsSafe(): { traceId: string; spanId: string } | undefined {
  try {
    return activeSpanIds();
  } catch {
    return undefined;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function attemptsOf(err: unknown): number {
  const attempts = (err as { attempts?: unknown } | null)?.attempts;
  return typeof attempts === 'number' && attempts > 0 ? attempts : 1;
}

/** A {@link ConfigError} for a malformed finish option (the recorder stays open), else `undefined`. */
function invalidFinishOption(opts: FinishOptions): ConfigError | undefined {
  if (opts === null || typeof opts !== 'object')
    return new ConfigError('finish expects an options object', 'options');
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
    return new ConfigError('signal must be an AbortSignal', 'signal');
  }
  const t = opts.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
    return new ConfigError(`timeoutMs must be a finite number >= 0, got ${String(t)}`, 'timeoutMs');
  }
  return undefined;
}

/** The caller's signal combined with the `timeoutMs` deadline. */
function uploadSignal(opts: FinishOptions): {
  signal: AbortSignal | undefined;
  timeout: AbortSignal | undefined;
} {
  const timeout = opts.timeoutMs === undefined ? undefined : AbortSignal.timeout(opts.timeoutMs);
  const signals = [opts.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  return { signal, timeout };
}

/** Settles with `p`, or rejects as soon as `signal` aborts, even if the transport ignores it. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Query strings of URLs, which may carry presigned signatures. */
const URL_QUERY = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"']*)\?[^\s#"']*/gi;

/** A message from a foreign error, safe to keep: URLs lose their query, secrets are redacted. */
function safeMessage(err: unknown): string {
  try {
    return new Redactor().redact(messageOf(err).replace(URL_QUERY, '$1?<redacted>')).slice(0, 1000);
  } catch {
    return 'unknown error';
  }
}

/** Typed errors pass through; an abort or deadline becomes its `UploadError`; anything else is wrapped. */
function toUploadError(
  err: unknown,
  transport: string,
  opts: FinishOptions,
  timeout: AbortSignal | undefined,
): TraceError {
  if (err instanceof TraceError) return err;
  const attempts = attemptsOf(err);
  if (timeout?.aborted === true && opts.signal?.aborted !== true) {
    return new UploadError(
      'ERR_UPLOAD_DEADLINE',
      `Upload through ${transport} did not finish within ${opts.timeoutMs} ms`,
      {
        transport,
        attempts,
        cause: safeCause(err),
      },
    );
  }
  if (opts.signal?.aborted === true) {
    return new UploadError('ERR_UPLOAD_ABORTED', `Upload through ${transport} was aborted`, {
      transport,
      attempts,
      cause: safeCause(err),
    });
  }
  // A custom transport's raw error may quote a presigned URL: keep only a sanitised copy as the cause.
  return new UploadError('ERR_UPLOAD_NETWORK', `Upload through ${transport} failed: ${safeMessage(err)}`, {
    transport,
    attempts,
    cause: safeCause(err),
  });
}

/** `error`, saying that the artifact could not be kept either. */
function withSpoolFailure(error: TraceError, spoolDir: string, spoolErr: unknown): TraceError {
  const message = `${error.message}; keeping the artifact in ${spoolDir} failed too (${safeMessage(spoolErr)}), so this trace is lost`;
  if (error instanceof UploadError) {
    return new UploadError(error.code, message, {
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.s3Code === undefined ? {} : { s3Code: error.s3Code }),
      retryable: error.retryable,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      ...(error.transport === undefined ? {} : { transport: error.transport }),
      ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
      cause: spoolErr,
    });
  }
  error.message = message;
  return error;
}
