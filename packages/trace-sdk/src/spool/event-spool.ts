/**
 * The compress → spool stage: JSONL lines in, a sealed gzip body out, in bounded memory, without
 * ever compressing on the caller's thread.
 *
 * Two parts with one job each: a {@link BatchCompressor} cuts lines into batches and has the
 * process-wide worker pool turn them into gzip members, in order; a {@link MemberSink} keeps the
 * members in memory and in the spill file. This module wires them, keeps them durable on a timer
 * (`flushIntervalMs`), and seals or snapshots the body.
 *
 * @packageDocumentation
 */
import { gzipMember } from '../compress/gzip-members.js';
import { ConfigError, RecorderStateError, SpoolError } from '../errors.js';
import { numberOption } from '../option-checks.js';
import { safeCause, safeErrorMessage } from '../sanitize.js';
import { BatchCompressor } from './batch-compressor.js';
import { MemberSink, type SinkFs, type SpoolUnavailable } from './member-sink.js';
import { type BodyPart, bodyOf, hashParts } from './sealed-body.js';
import type { EventSpool, EventSpoolOptions, SealedBody } from './types.js';

export type { PartSidecar, SpoolUnavailable } from './member-sink.js';

/** Default uncompressed bytes per gzip member. */
export const DEFAULT_BATCH_BYTES = 1024 * 1024;
/** Default compressed bytes kept in memory before spilling to a file (when not flushing on a timer). */
export const DEFAULT_MEMORY_THRESHOLD_BYTES = 8 * 1024 * 1024;
/** Default uncompressed bytes at the compression workers before batches go to the raw spill file. */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Default bound on what is recorded but not yet on disk as complete gzip members (ms). */
export const DEFAULT_FLUSH_INTERVAL_MS = 2000;
/** Default lease a live recording holds on its spill file (renewed every quarter of it). */
export const DEFAULT_LEASE_MS = 10_000;
/** Default compressed bytes kept in memory when the spool directory cannot be written. */
export const DEFAULT_MEMORY_FALLBACK_BYTES = 64 * 1024 * 1024;
/** Default zlib level, chosen by measurement (docs/performance.md, "Compression level"). */
export const DEFAULT_LEVEL = 1;

/** The spool built by {@link createEventSpool}. */
export interface GzipEventSpool extends EventSpool {
  /** Compressed bytes of the members emitted so far. */
  readonly compressedBytes: number;
  /** Members emitted so far. */
  readonly members: number;
  /** The spill file, once members went to disk. */
  readonly spillPath: string | undefined;
  /** Set when the spool directory could not be written; the trace is then kept in memory. */
  readonly unavailable: SpoolUnavailable | undefined;
  /** Lines recorded but not in the body (no memory and no disk was left for them). */
  readonly droppedLines: number;
  /** Uncompressed bytes of those lines. */
  readonly droppedBytes: number;
  flush(): Promise<void>;
  snapshot(headerLine: string): Promise<SealedBody>;
}

/** Test seams: not part of the options users pass. */
export interface EventSpoolInternals {
  /** File operations of the spill file (to inject a full or read-only disk). */
  readonly fs?: SinkFs | undefined;
}

/** An integer option through the one option check (a bad value is a ConfigError naming it). */
function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number) {
  return numberOption('createEventSpool', name, value, fallback, { min, max, integer: true });
}

/**
 * Creates the spool a recorder appends serialized lines to.
 *
 * @throws {@link ConfigError} on an invalid option.
 * @example
 * const spool = createEventSpool({ spoolDir: os.tmpdir(), key: traceKey({ userId, taskId }) });
 * spool.append(`${JSON.stringify(event)}\n`);
 * const body = await spool.seal(`${JSON.stringify(header)}\n`);
 */
export function createEventSpool(
  opts: EventSpoolOptions,
  internals: EventSpoolInternals = {},
): GzipEventSpool {
  return new Spool(opts, internals);
}

const MAX = Number.MAX_SAFE_INTEGER;

class Spool implements GzipEventSpool {
  private readonly compressor: BatchCompressor;
  private readonly sink: MemberSink;
  private readonly flushIntervalMs: number;
  private state: 'open' | 'sealing' | 'sealed' | 'discarded' = 'open';
  private timer: NodeJS.Timeout | undefined;
  /** When the batch being filled got its first line (ms), for the flush timer. */
  private batchSince = 0;
  private readonly level: number;
  private body: SealedBody | undefined;
  private discarded: Promise<void> | undefined;

  constructor(opts: EventSpoolOptions, internals: EventSpoolInternals) {
    if (typeof opts?.spoolDir !== 'string' || opts.spoolDir === '') {
      throw new ConfigError('spoolDir must be a directory path', 'spoolDir');
    }
    // At most 4 MiB: readers verify members up to 8 MiB whole (see readGzipMembers).
    const batchBytes = intOption('batchBytes', opts.batchBytes, DEFAULT_BATCH_BYTES, 1, 4 * 1024 * 1024);
    const memoryThresholdBytes = intOption(
      'memoryThresholdBytes',
      opts.memoryThresholdBytes,
      DEFAULT_MEMORY_THRESHOLD_BYTES,
      0,
      MAX,
    );
    const maxInFlight = intOption('maxInFlight', opts.maxInFlight, 0, 0, 64);
    const maxPendingBytes = intOption(
      'maxPendingBytes',
      opts.maxPendingBytes,
      maxInFlight > 0 ? maxInFlight * batchBytes : DEFAULT_MAX_PENDING_BYTES,
      0,
      MAX,
    );
    this.level = intOption('level', opts.level, DEFAULT_LEVEL, -1, 9);
    this.flushIntervalMs = intOption(
      'flushIntervalMs',
      opts.flushIntervalMs,
      DEFAULT_FLUSH_INTERVAL_MS,
      0,
      3_600_000,
    );
    const leaseMs = intOption('leaseMs', opts.leaseMs, DEFAULT_LEASE_MS, 200, 600_000);
    const fallbackBytes = intOption(
      'memoryFallbackBytes',
      opts.memoryFallbackBytes,
      DEFAULT_MEMORY_FALLBACK_BYTES,
      0,
      MAX,
    );
    const spoolDir = opts.spoolDir;
    this.sink = new MemberSink({
      spoolDir,
      key: opts.key,
      startedAt: new Date().toISOString(),
      memoryThresholdBytes,
      fallbackBytes,
      leaseMs,
      fs: internals.fs,
    });
    this.compressor = new BatchCompressor({
      batchBytes,
      level: this.level,
      maxPendingBytes,
      rawSpillDir: spoolDir,
      onMember: (member, lines) => this.sink.accept(member, lines),
    });
  }

  get uncompressedBytes(): number {
    return this.compressor.appendedBytes;
  }

  get compressedBytes(): number {
    return this.sink.bytes - this.sink.droppedBytes;
  }

  get members(): number {
    return this.sink.members - this.sink.droppedMembers;
  }

  get spillPath(): string | undefined {
    return this.sink.partPath;
  }

  get unavailable(): SpoolUnavailable | undefined {
    return this.sink.unavailable;
  }

  get droppedLines(): number {
    return this.compressor.droppedLines + this.sink.droppedLines;
  }

  get droppedBytes(): number {
    // The sink counts compressed bytes; the compressor uncompressed ones. Report uncompressed only
    // where known, so this is a lower bound when the sink dropped.
    return this.compressor.droppedBytes;
  }

  append(line: string): void {
    if (this.state !== 'open' || typeof line !== 'string') return;
    try {
      if (this.compressor.pendingInBatch === 0) this.startBatchClock();
      this.compressor.append(line);
    } catch {
      // append never throws; a failure here shows up as dropped lines.
    }
  }

  /** Compresses what is pending as its own member and waits until every member is on disk (or, if the disk failed, in memory). */
  async flush(): Promise<void> {
    if (this.state !== 'open') return;
    this.compressor.cut();
    await this.compressor.whenIdle();
    this.sink.makeDurable();
  }

  async snapshot(headerLine: string): Promise<SealedBody> {
    if (this.state !== 'open') throw new RecorderStateError(`Cannot snapshot a spool that is ${this.state}`);
    this.compressor.cut();
    await this.compressor.whenIdle();
    const header = await headerMember(headerLine);
    const parts: BodyPart[] = [header, ...this.sink.parts()];
    return bodyOf(parts, await hashParts(parts));
  }

  async seal(headerLine: string): Promise<SealedBody> {
    if (this.state !== 'open') throw new RecorderStateError(`Cannot seal a spool that is ${this.state}`);
    this.state = 'sealing';
    this.stopTimer();
    this.compressor.cut();
    await this.compressor.whenIdle();
    this.compressor.close();
    this.sink.close();
    this.assertNotDiscarded();
    try {
      const header = await headerMember(headerLine);
      this.assertNotDiscarded();
      const parts: BodyPart[] = [header, ...this.sink.parts()];
      const sha256 = await hashParts(parts);
      this.assertNotDiscarded();
      const spill = this.sink.spill();
      const sealed = bodyOf(parts, sha256, () => this.sink.release());
      // A file-backed body names its spill files (`partPath`, `sidecarPath`, `eventsBytes`), as before.
      const body: SealedBody = spill === undefined ? sealed : { ...sealed, ...spill };
      const byteLength = body.byteLength;
      await this.sink.markSealed({ sha256, byteLength, header: header.toString('base64') });
      // discard() may have run meanwhile.
      this.assertNotDiscarded();
      this.body = body;
    } catch (err) {
      if (err instanceof RecorderStateError) throw err;
      throw new SpoolError(`Sealing the trace body failed: ${safeErrorMessage(err)}`, {
        cause: safeCause(err),
      });
    }
    this.state = 'sealed';
    return this.body;
  }

  discard(): Promise<void> {
    this.discarded ??= (async () => {
      this.state = 'discarded';
      this.stopTimer();
      this.compressor.close();
      if (this.body !== undefined) await this.body.dispose();
      await this.sink.release();
    })();
    return this.discarded;
  }

  private assertNotDiscarded(): void {
    if ((this.state as string) === 'discarded')
      throw new RecorderStateError('The spool was discarded while sealing');
  }

  /** The first line of a batch: the flush timer cuts the batch once it is half an interval old. */
  private startBatchClock(): void {
    if (this.flushIntervalMs === 0) return;
    this.batchSince = Date.now();
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), Math.max(10, this.flushIntervalMs / 2));
    // Never keeps a process alive.
    this.timer.unref();
  }

  /** What was recorded half an interval ago is compressed now and reaches disk right after. */
  private tick(): void {
    if (this.state !== 'open') return;
    if (this.compressor.pendingInBatch > 0 && Date.now() - this.batchSince >= this.flushIntervalMs / 2)
      this.compressor.cut();
    this.sink.makeDurable();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The header as its own member, at zlib's default level (it is tiny; recovery writes it alike). */
async function headerMember(headerLine: string): Promise<Buffer> {
  const line = headerLine.endsWith('\n') ? headerLine : `${headerLine}\n`;
  // On the libuv threadpool: the caller's thread does not compress, even the header.
  return Buffer.from(await gzipMember(Buffer.from(line, 'utf8')));
}
