/**
 * Checkpoint uploads: while recording, the trace so far is PUT to its own key on a geometric
 * schedule, each checkpoint a complete artifact whose header says `partial: true`, so a sandbox
 * that dies with its disk still leaves its trace up to the last checkpoint. The final upload
 * replaces it.
 *
 * The schedule. A checkpoint is due when at least `intervalMs` passed since the last one (or since
 * recording began) and the trace has grown to `growth` times what the last checkpoint held. Before
 * it is sent, its compressed size `c` must also satisfy `c >= (growth - 1) * spent`, where `spent`
 * is every checkpoint byte sent so far. Checkpoints are single attempts (a failed one is simply
 * superseded by the next), so by induction `spent <= growth / (growth - 1) * c_last`, and since the
 * final body is at least the last checkpoint:
 *
 *   checkpoint bytes <= growth / (growth - 1) * final bytes   (2x with the default growth of 2)
 *   all bytes uploaded <= (1 + growth / (growth - 1)) * final  (3x worst case, when the task ends
 *                                                               right after a checkpoint)
 *
 * The price of the byte bound is that intervals grow with the trace: a trace recorded at a steady
 * rate loses at most the part recorded since its size last doubled (and `intervalMs`).
 *
 * `record()` is never blocked: the snapshot is taken asynchronously, and lines recorded while the
 * spool flushes are held in memory (bounded) and appended right after, so a checkpoint's header
 * counts are exactly the lines it holds.
 *
 * @packageDocumentation
 */
import type { EventSpool, SealedBody } from '../spool/types.js';
import { deliver } from '../upload/deliver.js';
import { unwrapRetry, withRetry } from '../upload/retry.js';
import { TRACE_CONTENT_TYPE, type TraceArtifact, type TraceTransport } from '../upload/types.js';

/** How checkpoints are scheduled; every field is optional. */
export interface CheckpointOptions {
  /** Shortest time between checkpoints, and before the first, in ms. Default 5000. */
  readonly intervalMs?: number | undefined;
  /**
   * Growth factor between checkpoints (> 1, default 2): the trace must have grown to this multiple
   * of the last checkpoint. Checkpoint bytes stay within `growth / (growth - 1)` times the final size.
   */
  readonly growth?: number | undefined;
  /** Bound on one checkpoint upload, in ms. Default 60 000. */
  readonly timeoutMs?: number | undefined;
}

/** Defaults of {@link CheckpointOptions}. */
export const DEFAULT_CHECKPOINTS = { intervalMs: 5000, growth: 2, timeoutMs: 60_000 } as const;

/** Resolved checkpoint options. */
export type CheckpointSchedule = Required<{ [K in keyof CheckpointOptions]: number }>;

/** What checkpointing did, as `finish()` reports it. */
export interface CheckpointStats {
  /** Checkpoints stored by the transport. */
  readonly uploaded: number;
  /** Checkpoints whose upload failed (each superseded by the next one, or by the final upload). */
  readonly failed: number;
  /** Compressed bytes of every checkpoint sent (uploaded or failed). */
  readonly bytes: number;
  /**
   * Why no checkpoint could be taken, when none could: the spool cannot snapshot (it lacks
   * `flush`/`snapshot`).
   */
  readonly unavailable?: string | undefined;
}

/** Longest wait in `stop()` for a checkpoint whose spool flush or snapshot does not return. */
const STOP_WAIT_MS = 5000;
/** Lines held while the spool flushes; past this, the checkpoint is abandoned and the lines released. */
const HOLD_LIMIT_BYTES = 8 * 1024 * 1024;

/** What a {@link Checkpointer} needs from its recorder. */
export interface CheckpointHost {
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  readonly transport: TraceTransport;
  readonly spool: EventSpool;
  /** The header of a checkpoint holding every line written so far, with `checkpoint: ordinal`. */
  headerLine(ordinal: number): string;
}

/** Takes checkpoints for one recorder; see the module comment. */
export class Checkpointer {
  private readonly host: CheckpointHost;
  private readonly schedule: CheckpointSchedule;
  /** One attempt per checkpoint: the byte bound counts every byte sent, and the next one supersedes it. */
  private readonly transport: TraceTransport;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /**
   * The transport's own calls until each has settled. Delivery stops waiting on the abort at once,
   * but a transport may still be committing (a file renamed after its fsync, a PUT whose body the
   * server has): `stop()` waits for these too, so that write cannot land over the final upload.
   */
  private readonly calls = new Set<Promise<void>>();
  private stopped = false;
  private held: string[] | undefined;
  private heldBytes = 0;
  private spoiled = false;
  private lastUncompressed = 0;
  /** Set when a snapshot was too small for the byte bound: where the next one may be big enough. */
  private minUncompressed = 0;
  private spent = 0;
  private ordinal = 0;
  private uploaded = 0;
  private failed = 0;
  private readonly unavailable: string | undefined;

  constructor(host: CheckpointHost, schedule: CheckpointSchedule) {
    this.host = host;
    this.schedule = schedule;
    this.transport = withRetry(this.tracked(unwrapRetry(host.transport)), {
      retries: 0,
      deadlineMs: schedule.timeoutMs,
    });
    const spool = host.spool;
    this.unavailable =
      typeof spool.flush !== 'function' || typeof spool.snapshot !== 'function'
        ? 'the spool cannot snapshot the trace so far (no flush/snapshot)'
        : undefined;
    if (this.unavailable === undefined) this.arm();
  }

  /** Appends a recorded line: to the spool, or held while a snapshot is being cut. Never throws. */
  write(line: string): void {
    if (this.held === undefined) {
      this.host.spool.append(line);
      return;
    }
    this.held.push(line);
    this.heldBytes += line.length;
    // A flush that takes long while the agent records fast: give up this checkpoint, not memory.
    if (this.heldBytes > HOLD_LIMIT_BYTES) {
      this.spoiled = true;
      this.release();
    }
  }

  /** What was done so far. */
  stats(): CheckpointStats {
    return {
      uploaded: this.uploaded,
      failed: this.failed,
      bytes: this.spent,
      ...(this.unavailable === undefined ? {} : { unavailable: this.unavailable }),
    };
  }

  /**
   * Stops the schedule, aborts a checkpoint upload in flight and waits until it has settled, so
   * nothing can land after (and over) the final upload. Idempotent.
   *
   * @param callWaitMs - longest wait for the transport's own call once aborted (default 5 s):
   *   `finish()` gives a part of its deadline, so a transport that ignores the abort cannot make it
   *   overrun a short one (a SIGTERM grace period, a serverless runtime's remaining time).
   */
  async stop(callWaitMs: number = STOP_WAIT_MS): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stopping.abort();
    // Held lines go to the spool now, before the final seal; a snapshot being cut is discarded.
    this.release();
    const running = this.running;
    if (running === undefined && this.calls.size === 0) return;
    // Delivery settles at once on the abort, and a transport that honours its signal soon after;
    // only a spool whose flush hangs, or a transport that ignores the abort, could hold us here.
    const timers: NodeJS.Timeout[] = [];
    const after = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        timer.unref();
        timers.push(timer);
      });
    const bound = after(STOP_WAIT_MS);
    await Promise.race([running?.catch(() => {}), bound]);
    const wait = Number.isNaN(callWaitMs) ? 0 : Math.max(0, Math.min(callWaitMs, STOP_WAIT_MS));
    if (this.calls.size > 0) await Promise.race([Promise.all(this.calls), bound, after(wait)]);
    for (const timer of timers) clearTimeout(timer);
  }

  /** `inner`, with each of its upload calls kept in `calls` until it has settled. */
  private tracked(inner: TraceTransport): TraceTransport {
    return {
      name: inner.name,
      ...(inner.bucketWide === true ? { bucketWide: true } : {}),
      upload: (artifact, opts) => {
        const call = Promise.resolve().then(() => inner.upload(artifact, opts));
        const settled = call.then(
          () => {},
          () => {},
        );
        this.calls.add(settled);
        void settled.then(() => this.calls.delete(settled));
        return call;
      },
    };
  }

  /** Takes a checkpoint now if one is due (for tests and the tick). */
  async tick(): Promise<void> {
    if (this.stopped || this.unavailable !== undefined || this.running !== undefined) return;
    const grown = this.host.spool.uncompressedBytes;
    if (grown === 0 || grown < this.schedule.growth * this.lastUncompressed || grown < this.minUncompressed)
      return;
    this.running = this.take(grown).finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick()
        .catch(() => {
          // A checkpoint is best effort: the final upload and the spool still stand.
        })
        .finally(() => this.arm());
    }, this.schedule.intervalMs);
    // Checkpoints never keep a process alive.
    this.timer.unref();
  }

  private async take(uncompressed: number): Promise<void> {
    const spool = this.host.spool as Required<Pick<EventSpool, 'flush' | 'snapshot'>> & EventSpool;
    const ordinal = this.ordinal + 1;
    let body: SealedBody | undefined;
    this.held = [];
    this.heldBytes = 0;
    this.spoiled = false;
    try {
      // The counts of every line appended so far; lines recorded from here on are held.
      const header = this.host.headerLine(ordinal);
      await spool.flush();
      if (this.spoiled || this.stopped) return;
      body = await spool.snapshot(header);
    } finally {
      this.release();
    }
    try {
      if (this.spoiled || this.stopped) return;
      // The byte bound (module comment): too small against what was already sent, wait for growth.
      const required = (this.schedule.growth - 1) * this.spent;
      if (body.byteLength < required) {
        // Compression got better than the growth check assumed: look again once it has caught up.
        this.minUncompressed = Math.ceil((uncompressed * required) / Math.max(1, body.byteLength));
        return;
      }
      this.ordinal = ordinal;
      this.lastUncompressed = uncompressed;
      this.spent += body.byteLength;
      const sealed = body;
      const artifact: TraceArtifact = {
        key: this.host.key,
        userId: this.host.userId,
        taskId: this.host.taskId,
        byteLength: sealed.byteLength,
        sha256: sealed.sha256,
        contentType: TRACE_CONTENT_TYPE,
        open: () => sealed.open(),
      };
      const delivery = await deliver(this.transport, artifact, {
        signal: this.stopping.signal,
        timeoutMs: this.schedule.timeoutMs,
        // Checkpoints never keep a process alive.
        keepAlive: false,
      });
      if (delivery.status === 'uploaded') this.uploaded++;
      else this.failed++;
    } finally {
      await body?.dispose().catch(() => {});
    }
  }

  /** Appends the held lines, in order, and stops holding. */
  private release(): void {
    const lines = this.held;
    this.held = undefined;
    this.heldBytes = 0;
    if (lines === undefined) return;
    for (const line of lines) this.host.spool.append(line);
  }
}
