/**
 * The trace recorder: `record` → serialize (serialize/event-serializer.ts) → spool, then `finish`
 * → seal → deliver (upload/deliver.ts), which keeps the artifact in the spool directory when the
 * upload fails.
 *
 * `record` is synchronous and never throws: each event is serialized once into a JSONL line and
 * handed to the spool, which compresses in bounded memory. Whatever goes wrong with one event (a
 * throwing getter, a cycle, a failing redactor, a bug) costs that event at most, and is counted.
 *
 * @packageDocumentation
 */
import type { SpoolError } from '../errors.js';
import { activeSpanIdsSafe, EventSerializer, type Serialized } from '../serialize/event-serializer.js';
import { createEventSpool } from '../spool/event-spool.js';
import type { EventSpool, SealedBody } from '../spool/types.js';
import { instruments } from '../telemetry/otel.js';
import { Checkpointer } from './checkpoint.js';
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
} from './events.js';
import { invalidFinishOption, sealAndDeliver, spoolDirRefusal } from './finish.js';
import { headerLine } from './header.js';
import { type ResolvedOptions, resolveOptions, type TraceRecorderOptions } from './options.js';
import type { FinishOptions, FinishResult, FinishResultBase, RecorderStats, TraceRecorder } from './types.js';

export type { FinishOptions, FinishResult, RecorderStats, TraceRecorder } from './types.js';

/**
 * What a line counts against `maxBytes`: its JSON without the newline, as the Python agent sums
 * `len(json.dumps(event))` (the header's `accumulated_bytes` is this sum).
 */
const jsonBytes = (out: Serialized): number => out.bytes - 1;

/** Events between two flushes of the OpenTelemetry counters. */
const METRICS_EVERY = 1024;

let warnedAfterClose = false;

function warnAfterClose(): void {
  if (warnedAfterClose) return;
  warnedAfterClose = true;
  try {
    process.emitWarning(
      'TraceRecorder.record() was called after finish() or abort(); the event was ignored',
      { code: 'AGENT_TRACE_RECORD_AFTER_CLOSE' },
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
  const refusal = spoolDirRefusal(opts.spoolDir);
  const spool = createEventSpool({
    spoolDir: opts.spoolDir,
    key: opts.key,
    // A refused spool directory is never written: the trace stays in memory and is still uploaded.
    memoryThresholdBytes: refusal === undefined ? opts.spoolMemoryBytes : Number.MAX_SAFE_INTEGER,
    flushIntervalMs: refusal === undefined ? opts.flushIntervalMs : 0,
    level: opts.compressionLevel,
  });
  return new Recorder(opts, spool, refusal);
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

class Recorder implements TraceRecorder {
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;

  private readonly opts: ResolvedOptions;
  private readonly spool: EventSpool;
  private readonly serializer: EventSerializer;
  private readonly startedAt: number;
  /** Takes checkpoint uploads, when they are on; every kept line then goes through it. */
  private readonly checkpoints: Checkpointer | undefined;
  /** Why the spool directory is not used, when it is not. */
  private readonly spoolRefusal: SpoolError | undefined;

  private state: 'recording' | 'finishing' | 'aborted' = 'recording';
  private busy = false;
  private seq = 0;
  private bytes = 0;
  private dropped = 0;
  private filtered = 0;
  private errors = 0;
  private afterClose = 0;
  private truncateFired = false;
  private finishing: Promise<FinishResult> | undefined;
  private aborting: Promise<void> | undefined;
  /** Counts already added to the OpenTelemetry counters. */
  private reported = { events: 0, dropped: 0, redactions: 0, bytes: 0 };
  private sinceReport = 0;

  constructor(opts: ResolvedOptions, spool: EventSpool, spoolRefusal?: SpoolError) {
    this.opts = opts;
    this.spoolRefusal = spoolRefusal;
    this.key = opts.key;
    this.userId = opts.userId;
    this.taskId = opts.taskId;
    this.spool = spool;
    this.serializer = new EventSerializer({
      taskId: opts.taskId,
      maxEventBytes: opts.maxEventBytes,
      maxTextChars: opts.maxTextChars,
      maxToolResultChars: opts.maxToolResultChars,
      maxDepth: opts.maxDepth,
      redactPatterns: opts.redactPatterns,
    });
    this.startedAt = this.now();
    const transport = opts.transport;
    this.checkpoints =
      opts.checkpoints === undefined || transport === null
        ? undefined
        : new Checkpointer(
            {
              key: this.key,
              userId: this.userId,
              taskId: this.taskId,
              transport,
              spool,
              headerLine: (ordinal) => this.headerLine(ordinal),
            },
            opts.checkpoints,
          );
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
      masked: this.serializer.masked,
      oversized: this.serializer.oversized,
      bytes: this.bytes,
      redactions: this.serializer.redactions,
      truncatedFields: this.serializer.truncated,
      errors: this.errors,
      afterClose: this.afterClose,
    };
  }

  finish(opts: FinishOptions = {}): Promise<FinishResult> {
    if (this.finishing !== undefined) return this.finishing;
    const invalid = invalidFinishOption(opts);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (this.state === 'aborted') {
      this.finishing = Promise.resolve({ ...this.counts(undefined), status: 'skipped', reason: 'aborted' });
      return this.finishing;
    }
    this.state = 'finishing';
    this.finishing = this.sealAndDeliver(opts);
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
    this.aborting = (async () => {
      await this.checkpoints?.stop();
      await this.spool.discard();
    })().catch(() => {
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
        return this.keep(this.serializer.maskedLine(event, this.seq, this.now()));
      }
    }
    const remaining = this.opts.maxBytes - this.bytes;
    const mark = this.serializer.mark();
    const out = this.serializer.line(event, this.seq, this.now(), activeSpanIdsSafe(), remaining);
    if (out === undefined || jsonBytes(out) > remaining) {
      // Counts describe the kept lines only.
      this.serializer.rollback(mark);
      return this.drop();
    }
    return this.keep(out);
  }

  private keep(out: Serialized): boolean {
    // finish() or abort() called from inside a getter or hook while this event was being written.
    if (this.state !== 'recording') {
      this.afterClose++;
      return false;
    }
    if (jsonBytes(out) > this.opts.maxBytes - this.bytes) return this.drop();
    if (this.checkpoints === undefined) this.spool.append(out.line);
    else this.checkpoints.write(out.line);
    this.seq++;
    this.bytes += jsonBytes(out);
    return true;
  }

  private drop(): false {
    this.dropped++;
    if (!this.truncateFired) {
      this.truncateFired = true;
      try {
        this.opts.onTruncate?.(this.opts.maxBytes, this.dropped);
      } catch {
        // Documented: onTruncate's errors are swallowed.
      }
    }
    return false;
  }

  private reportMetrics(): void {
    this.sinceReport = 0;
    try {
      const m = instruments();
      const now = {
        events: this.seq,
        dropped: this.dropped,
        redactions: this.serializer.redactions,
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

  // ---- finishing -------------------------------------------------------------------------------

  /** The counts every result carries. */
  private counts(body: SealedBody | undefined): Omit<FinishResultBase, 'transport' | 'legacy'> {
    const unavailable = this.spoolRefusal?.message ?? this.spool.unavailable?.reason;
    return {
      key: this.key,
      events: this.seq - this.spoolDropped(),
      dropped: this.dropped + this.spoolDropped(),
      bytes: body?.byteLength ?? 0,
      uncompressedBytes: this.bytes,
      sha256: body?.sha256 ?? '',
      attempts: 0,
      ...(this.checkpoints === undefined ? {} : { checkpoints: this.checkpoints.stats() }),
      ...(unavailable === undefined ? {} : { spoolUnavailable: unavailable }),
    };
  }

  /** Lines the spool could not keep (its last resort when neither memory nor disk had room). */
  private spoolDropped(): number {
    const n = this.spool.droppedLines;
    return typeof n === 'number' && n > 0 ? n : 0;
  }

  /** The header line for every line kept so far; a checkpoint's when `checkpoint` is given. */
  private headerLine(checkpoint?: number): string {
    return headerLine({
      userId: this.userId,
      taskId: this.taskId,
      events: this.seq - this.spoolDropped(),
      bytes: this.bytes,
      dropped: this.dropped + this.spoolDropped(),
      maxBytes: this.opts.maxBytes,
      startedAt: this.startedAt,
      finishedAt: this.now(),
      redactions: this.serializer.redactions,
      truncatedFields: this.serializer.truncated,
      operator: this.opts.operator,
      checkpoint,
    });
  }

  private sealAndDeliver(opts: FinishOptions): Promise<FinishResult> {
    this.reportMetrics();
    return sealAndDeliver(
      {
        key: this.key,
        userId: this.userId,
        taskId: this.taskId,
        opts: this.opts,
        spool: this.spool,
        spoolRefusal: this.spoolRefusal,
        checkpoints: this.checkpoints,
        counts: (body) => this.counts(body),
        headerLine: () => this.headerLine(),
      },
      opts,
    );
  }
}
