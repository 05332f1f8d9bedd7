/**
 * The compress → spool stage: JSONL lines in, a sealed gzip body out, in bounded memory.
 *
 * `append` copies each line into a preallocated batch buffer (one UTF-8 encode, no allocation per
 * line). A full batch becomes its own gzip member, compressed by a worker thread (see
 * {@link GzipWorker}) while the producer goes on; members are emitted strictly in order, first to an
 * in-memory list and, past `memoryThresholdBytes`, to a spill file. Batch and output buffers are
 * shared with the worker and reused, so the recorder's heap sees no per-batch allocation.
 *
 * Past `maxInFlight` batches at the worker, `append` compresses the new batch inline: the producer
 * pays for the work it creates and both cores compress. Results are polled synchronously, so even
 * a producer that never yields sees them; when more than a few finished members wait behind the
 * worker's oldest job, `append` blocks on that job (the worker is busy with it, so the wait is
 * work being done, never work redone). Nothing queues without bound.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GzipEngine, gzipBound, gzipMember, gzipMemberSync } from '../compress/gzip-members.js';
import { GzipWorker, type GzipWorkerResult } from '../compress/gzip-worker.js';
import { ConfigError, RecorderStateError, SpoolError } from '../errors.js';
import { memoryBody, type SpillFiles, spilledBody } from './sealed-body.js';
import {
  HOSTNAME,
  newStem,
  ownedByThisProcess,
  PART_SIDECAR_SUFFIX,
  PART_SUFFIX,
  removeFile,
  writeJsonAtomic,
  writeJsonAtomicSync,
} from './spool-files.js';
import type { EventSpool, EventSpoolOptions, SealedBody } from './types.js';

/** Default uncompressed bytes per gzip member. */
export const DEFAULT_BATCH_BYTES = 1024 * 1024;
/** Default compressed bytes kept in memory before spilling to a file. */
export const DEFAULT_MEMORY_THRESHOLD_BYTES = 8 * 1024 * 1024;
/** Default batches queued at the compression worker at once (one compressing, one ready next). */
export const DEFAULT_MAX_IN_FLIGHT = 2;
/** Room past `batchBytes` in a batch buffer, so a line up to the per-event limit never splits a batch early. */
const BATCH_SLACK_BYTES = 256 * 1024;
/** Finished members allowed to wait behind the worker's oldest job before `append` waits for it. */
const MAX_WAITING_MEMBERS = 2;
/** How long `append` waits for a worker job before presuming the worker stuck and redoing it inline. */
const STALL_MS = 5000;
const HASH_READ_BYTES = 256 * 1024;

/** What a spill file's sidecar records (`<stem>.events.gz.part.json`). */
export interface PartSidecar {
  readonly version: 1;
  /** Object key of the trace. */
  readonly key: string;
  /** Recording process. */
  readonly pid: number;
  /** Host of the recording process. */
  readonly hostname: string;
  /** When the spool was created (ISO 8601). */
  readonly startedAt: string;
  /** Present once sealed: the exact body, so a crash before upload loses nothing. */
  readonly sealed?: {
    readonly sha256: string;
    readonly byteLength: number;
    /** The header member, base64. */
    readonly header: string;
  };
}

/** The spool built by {@link createEventSpool}. */
export interface GzipEventSpool extends EventSpool {
  /** Compressed bytes emitted so far (members finished, in memory or in the spill file). */
  readonly compressedBytes: number;
  /** Members emitted so far. */
  readonly members: number;
  /** The spill file, once compressed output went past the memory threshold. */
  readonly spillPath: string | undefined;
  /**
   * Compresses what is pending as its own member now and waits until every member is in memory
   * or in the spill file: a recovery point for a process that may be killed. Changes where members
   * are cut, so call it at deterministic points if byte-identical output matters.
   */
  flush(): Promise<void>;
}

interface Job {
  /** Batch bytes at the worker; kept to redo the work inline if the worker dies or stalls. */
  input: Buffer | undefined;
  /** Shared batch buffer to return to the pool once the worker no longer reads it. */
  pooled: Buffer | undefined;
  /** Shared buffer the worker writes the member into; returned to its pool once emitted. */
  output: Buffer | undefined;
  member: Buffer | undefined;
  done: boolean;
  /** Redone inline; the worker's result is ignored when it lands. */
  stolen: boolean;
}

function positiveInt(name: string, value: number | undefined, fallback: number, min: number, max: number) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`, name);
  }
  return value;
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
export function createEventSpool(opts: EventSpoolOptions): GzipEventSpool {
  return new Spool(opts);
}

class Spool implements GzipEventSpool {
  uncompressedBytes = 0;
  compressedBytes = 0;
  members = 0;

  private readonly spoolDir: string;
  private readonly key: string;
  private readonly startedAt = new Date().toISOString();
  private readonly batchBytes: number;
  private readonly memoryThreshold: number;
  private readonly maxInFlight: number;
  private readonly gzipOpts: { level?: number; chunkBytes: number };
  /** Size of every batch buffer (a batch plus room for one more line up to the per-event limit). */
  private readonly bufferBytes: number;
  /** Size of every output buffer: the largest member a batch buffer can compress to. */
  private readonly outputBytes: number;
  /**
   * Buffers of each kind kept for reuse: as many as can be in use at once (jobs at the worker, members
   * waiting behind them, the batch being filled), so none is ever allocated past the first few.
   * Dropping one instead would not free it soon: the worker's own wrapper keeps it until its next GC.
   */
  private readonly poolSize: number;

  private state: 'open' | 'sealing' | 'sealed' | 'discarded' = 'open';
  private batch: Buffer;
  private used = 0;
  private readonly pool: Buffer[] = [];
  private readonly outputPool: Buffer[] = [];
  /** Members not yet emitted, in order; the head is unfinished whenever the queue is non-empty. */
  private queue: Job[] = [];
  /** Jobs at the worker by id (stolen ones included: their buffers are still the worker's). */
  private readonly jobs = new Map<number, Job>();
  private nextJobId = 0;
  private worker: GzipWorker | undefined;
  /** Compresses inline batches into pooled output buffers, reusing one deflate stream. */
  private readonly engine: GzipEngine;
  /** The worker could not start or died: compress inline from now on. */
  private workerFailed = false;
  private drainWaiters: Array<() => void> = [];
  private chunks: Buffer[] = [];
  private memoryBytes = 0;
  private spill: SpillFiles | undefined;
  private fd: number | undefined;
  private fileBytes = 0;
  private error: SpoolError | undefined;
  private body: SealedBody | undefined;
  private discarded: Promise<void> | undefined;

  constructor(opts: EventSpoolOptions) {
    if (typeof opts?.spoolDir !== 'string' || opts.spoolDir === '') {
      throw new ConfigError('spoolDir must be a directory path', 'spoolDir');
    }
    this.spoolDir = resolve(opts.spoolDir);
    this.key = opts.key;
    // At most 4 MiB: readers verify members up to 8 MiB whole (see readGzipMembers).
    this.batchBytes = positiveInt('batchBytes', opts.batchBytes, DEFAULT_BATCH_BYTES, 1, 4 * 1024 * 1024);
    this.memoryThreshold = positiveInt(
      'memoryThresholdBytes',
      opts.memoryThresholdBytes,
      DEFAULT_MEMORY_THRESHOLD_BYTES,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    this.maxInFlight = positiveInt('maxInFlight', opts.maxInFlight, DEFAULT_MAX_IN_FLIGHT, 0, 64);
    const level = positiveInt('level', opts.level, -1, -1, 9);
    this.bufferBytes = Math.ceil((this.batchBytes + BATCH_SLACK_BYTES) / 65536) * 65536;
    this.outputBytes = Math.ceil(gzipBound(this.bufferBytes) / 65536) * 65536;
    this.gzipOpts = level === -1 ? { chunkBytes: this.outputBytes } : { level, chunkBytes: this.outputBytes };
    this.poolSize = this.maxInFlight + MAX_WAITING_MEMBERS + 2;
    this.engine = new GzipEngine({ level: this.gzipOpts.level });
    this.batch = this.takeBuffer();
  }

  get spillPath(): string | undefined {
    return this.spill?.partPath;
  }

  append(line: string): void {
    if (this.state !== 'open' || typeof line !== 'string') return;
    try {
      if (this.error !== undefined) {
        this.uncompressedBytes += Buffer.byteLength(line);
        return;
      }
      // A UTF-16 unit is at most 3 UTF-8 bytes: only near the end of a batch is the exact size needed.
      if (this.used + line.length * 3 > this.batch.length) {
        const bytes = Buffer.byteLength(line);
        if (this.used + bytes > this.batch.length) {
          this.flushBatch();
          if (bytes > this.batch.length) {
            this.uncompressedBytes += bytes;
            this.submit(Buffer.from(line, 'utf8'), undefined);
            return;
          }
        }
      }
      const written = this.batch.write(line, this.used);
      this.used += written;
      this.uncompressedBytes += written;
      if (this.used >= this.batchBytes) this.flushBatch();
    } catch (err) {
      this.fail('Compressing trace events failed', err);
    }
  }

  flush(): Promise<void> {
    if (this.state !== 'open') return Promise.resolve();
    this.flushBatch();
    return this.whenDrained();
  }

  async seal(headerLine: string): Promise<SealedBody> {
    if (this.state !== 'open') {
      throw new RecorderStateError(`Cannot seal a spool that is ${this.state}`);
    }
    this.state = 'sealing';
    this.flushBatch();
    await this.whenDrained();
    this.closeWorker();
    this.assertNotDiscarded();
    if (this.error !== undefined) throw this.error;
    try {
      const line = headerLine.endsWith('\n') ? headerLine : `${headerLine}\n`;
      const header = compact(await gzipMember(Buffer.from(line, 'utf8'), { level: this.gzipOpts.level }));
      this.assertNotDiscarded();
      const body =
        this.spill === undefined ? this.sealInMemory(header) : await this.sealSpilled(header, this.spill);
      if ((this.state as string) === 'discarded') {
        // discard() ran while the spill file was being hashed: it may have raced the sidecar rewrite.
        await body.dispose();
        this.assertNotDiscarded();
      }
      this.body = body;
    } catch (err) {
      if (err instanceof RecorderStateError || err instanceof SpoolError) throw err;
      throw new SpoolError(`Sealing the trace body failed: ${describeError(err)}`, { cause: err });
    }
    this.state = 'sealed';
    this.releaseBuffers();
    return this.body!;
  }

  discard(): Promise<void> {
    this.discarded ??= (async () => {
      this.state = 'discarded';
      this.closeWorker();
      this.closeFile();
      this.releaseBuffers();
      this.chunks = [];
      this.queue = [];
      this.resolveDrainWaiters();
      if (this.body !== undefined) await this.body.dispose();
      else if (this.spill !== undefined) {
        try {
          await removeFile(this.spill.partPath);
          await removeFile(this.spill.sidecarPath);
        } finally {
          ownedByThisProcess.delete(this.spill.partPath);
        }
      }
    })();
    return this.discarded;
  }

  private assertNotDiscarded(): void {
    if ((this.state as string) === 'discarded')
      throw new RecorderStateError('The spool was discarded while sealing');
  }

  private takeBuffer(): Buffer {
    // Shared, so the worker reads the batch where it was written: no copy, no transfer.
    return this.pool.pop() ?? Buffer.from(new SharedArrayBuffer(this.bufferBytes));
  }

  private takeOutput(): Buffer {
    return this.outputPool.pop() ?? Buffer.from(new SharedArrayBuffer(this.outputBytes));
  }

  private release(buf: Buffer | undefined): void {
    if (buf !== undefined && this.pool.length < this.poolSize && this.state !== 'discarded')
      this.pool.push(buf);
  }

  private releaseOutput(buf: Buffer | undefined): void {
    if (buf !== undefined && this.outputPool.length < this.poolSize && this.state !== 'discarded')
      this.outputPool.push(buf);
  }

  private releaseBuffers(): void {
    this.pool.length = 0;
    this.outputPool.length = 0;
    this.batch = Buffer.alloc(0);
    this.used = 0;
  }

  /** Hands the pending batch to compression. */
  private flushBatch(): void {
    if (this.used === 0 || this.error !== undefined) return;
    const pooled = this.batch;
    const input = pooled.subarray(0, this.used);
    this.batch = this.state === 'open' ? this.takeBuffer() : Buffer.alloc(0);
    this.used = 0;
    this.submit(input, pooled);
  }

  /** The worker, started with the first full batch (small traces never start one). */
  private liveWorker(): GzipWorker | undefined {
    if (this.worker !== undefined) return this.worker.alive ? this.worker : undefined;
    if (this.workerFailed || this.maxInFlight === 0 || this.state !== 'open') return undefined;
    try {
      this.worker = new GzipWorker({
        level: this.gzipOpts.level,
        chunkBytes: this.gzipOpts.chunkBytes,
        onResult: (r) => this.onCompressed(r),
        onDead: () => this.onWorkerDead(),
      });
      return this.worker;
    } catch {
      // No worker threads here (or none to spare): compress inline, as with maxInFlight 0.
      this.workerFailed = true;
      return undefined;
    }
  }

  private closeWorker(): void {
    this.worker?.close();
    this.engine.close();
  }

  /** `pooled` is the shared batch buffer `input` views, or undefined for a one-off buffer. */
  private submit(input: Buffer, pooled: Buffer | undefined): void {
    const worker = pooled === undefined ? undefined : this.liveWorker();
    worker?.poll();
    if (worker?.alive && worker.outstanding < this.maxInFlight) {
      const output = this.takeOutput();
      const job: Job = { input, pooled, output, member: undefined, done: false, stolen: false };
      const id = this.nextJobId++;
      this.queue.push(job);
      this.jobs.set(id, job);
      worker.submit(
        id,
        pooled!.buffer as SharedArrayBuffer,
        input.length,
        output.buffer as SharedArrayBuffer,
      );
      return;
    }
    // The worker has enough queued: compress here, so both cores work. This is the backpressure.
    const output = input.length <= this.bufferBytes ? this.takeOutput() : undefined;
    const member = this.compressInline(input, output);
    this.release(pooled);
    if (member === undefined) {
      this.releaseOutput(output);
      return;
    }
    this.queue.push({
      input: undefined,
      pooled: undefined,
      output,
      member,
      done: true,
      stolen: false,
    });
    this.drain();
    this.bound();
  }

  /**
   * Keeps the finished members waiting behind the worker's oldest job few, whether or not the
   * producer yields: waits for that job (it is being compressed right now), or, if the worker
   * seems stuck, redoes it inline.
   */
  private bound(): void {
    for (;;) {
      let waiting = 0;
      for (const job of this.queue) if (job.done) waiting++;
      if (waiting <= MAX_WAITING_MEMBERS || this.queue.length === 0) return;
      const worker = this.worker;
      if (worker === undefined || !worker.waitSync(STALL_MS)) this.steal(this.queue[0]!);
    }
  }

  private onCompressed(r: GzipWorkerResult): void {
    const job = this.jobs.get(r.id);
    if (job === undefined) return;
    this.jobs.delete(r.id);
    // The worker is done with both buffers.
    this.release(job.pooled);
    job.pooled = undefined;
    job.input = undefined;
    if (job.stolen || this.state === 'discarded') {
      this.releaseOutput(job.output);
      job.output = undefined;
      return;
    }
    job.done = true;
    if (r.error !== undefined) {
      this.releaseOutput(job.output);
      job.output = undefined;
      this.fail('Compressing trace events failed', new Error(r.error));
    } else job.member = job.output!.subarray(0, r.length);
    this.drain();
  }

  /** The worker died: redo its unfinished jobs inline, in order, and compress inline from now on. */
  private onWorkerDead(): void {
    this.workerFailed = true;
    for (const job of this.queue) if (!job.done) this.steal(job, false);
    this.drain();
  }

  /** Compresses an unfinished worker job inline; the worker's result, if it comes, is ignored. */
  private steal(job: Job, drain = true): void {
    if (job.done) return;
    job.member = job.input === undefined ? undefined : this.compressInline(job.input);
    job.done = true;
    // The worker may still read the input and write the output: both wait for its result.
    job.stolen = true;
    if (drain) this.drain();
  }

  /** Into `output` when given (no allocation), else into a new buffer. */
  private compressInline(input: Buffer, output?: Buffer): Buffer | undefined {
    try {
      if (output !== undefined) return output.subarray(0, this.engine.compressInto(input, output));
      return gzipMemberSync(input, this.gzipOpts);
    } catch (err) {
      this.fail('Compressing trace events failed', err);
      return undefined;
    }
  }

  /** Emits finished members from the head of the queue, in order. */
  private drain(): void {
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const job = this.queue.shift()!;
      if (job.member !== undefined) this.emit(job.member);
      job.member = undefined;
      if (!job.stolen) {
        this.releaseOutput(job.output);
        job.output = undefined;
      }
    }
    if (this.queue.length === 0) this.resolveDrainWaiters();
  }

  private whenDrained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private resolveDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private emit(member: Buffer): void {
    if (this.error !== undefined || this.state === 'discarded') return;
    this.members++;
    this.compressedBytes += member.length;
    if (this.fd === undefined && this.memoryBytes + member.length > this.memoryThreshold) this.startSpill();
    if (this.error !== undefined) return;
    if (this.fd !== undefined) this.writeToFile(member);
    else {
      this.chunks.push(compact(member));
      this.memoryBytes += member.length;
    }
  }

  /** Moves the in-memory members to a new spill file; later members append to it. */
  private startSpill(): void {
    const stem = newStem();
    const files = {
      partPath: join(this.spoolDir, `${stem}${PART_SUFFIX}`),
      sidecarPath: join(this.spoolDir, `${stem}${PART_SIDECAR_SUFFIX}`),
      eventsBytes: 0,
    };
    try {
      mkdirSync(this.spoolDir, { recursive: true });
      // Registered before the sidecar exists, so a recovery scan in this process never takes it.
      ownedByThisProcess.add(files.partPath);
      const sidecar: PartSidecar = {
        version: 1,
        key: this.key,
        pid: process.pid,
        hostname: HOSTNAME,
        startedAt: this.startedAt,
      };
      // Sidecar first: a .part never exists without the key it belongs to.
      writeJsonAtomicSync(files.sidecarPath, sidecar);
      this.spill = files;
      this.fd = openSync(files.partPath, 'wx', 0o600);
    } catch (err) {
      this.fail(`Cannot create a spill file in ${this.spoolDir}`, err);
      return;
    }
    const chunks = this.chunks;
    this.chunks = [];
    this.memoryBytes = 0;
    for (const chunk of chunks) this.writeToFile(chunk);
  }

  private writeToFile(member: Buffer): void {
    if (this.fd === undefined || this.error !== undefined) return;
    try {
      // Synchronous on purpose: a producer that never yields would let a write stream buffer without
      // bound. Writes land in the page cache; members are ~1/5 of a batch.
      let off = 0;
      while (off < member.length)
        off += writeSync(this.fd, member, off, member.length - off, this.fileBytes + off);
      this.fileBytes += member.length;
    } catch (err) {
      this.fail(`Writing the spill file in ${this.spoolDir} failed`, err);
    }
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed or never usable; the error that matters was recorded when writing.
    }
    this.fd = undefined;
  }

  /** Records the first failure; later appends become no-ops and `seal` rejects with it. */
  private fail(what: string, cause: unknown): void {
    if (this.error !== undefined) return;
    this.error = new SpoolError(`${what}: ${describeError(cause)}`, { cause });
    this.closeFile();
    this.chunks = [];
    this.memoryBytes = 0;
    this.used = 0;
  }

  private sealInMemory(header: Buffer): SealedBody {
    const hash = createHash('sha256').update(header);
    for (const chunk of this.chunks) hash.update(chunk);
    const body = memoryBody([header, ...this.chunks], hash.digest('hex'));
    this.chunks = [];
    this.memoryBytes = 0;
    return body;
  }

  private async sealSpilled(header: Buffer, spill: SpillFiles): Promise<SealedBody> {
    this.closeFile();
    const files: SpillFiles = { ...spill, eventsBytes: this.fileBytes };
    // SHA-256 cannot prepend: the hash of header ++ events needs the events after the header, so
    // the spill file is read once here rather than hashed while writing. One reused buffer: no
    // garbage for the GC to lag behind on.
    const hash = createHash('sha256').update(header);
    const buf = Buffer.allocUnsafeSlow(HASH_READ_BYTES);
    let read = 0;
    const fh = await open(files.partPath, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, read);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        read += bytesRead;
      }
    } finally {
      await fh.close();
    }
    if (read !== files.eventsBytes) {
      throw new SpoolError(
        `The spill file changed size while recording (${read} != ${files.eventsBytes} bytes)`,
      );
    }
    const sha256 = hash.digest('hex');
    const sidecar: PartSidecar = {
      version: 1,
      key: this.key,
      pid: process.pid,
      hostname: HOSTNAME,
      startedAt: this.startedAt,
      sealed: { sha256, byteLength: header.length + files.eventsBytes, header: header.toString('base64') },
    };
    await writeJsonAtomic(files.sidecarPath, sidecar);
    return spilledBody(header, files, sha256);
  }
}

/**
 * zlib returns a small member as a slice of its (64 KiB) output chunk; a member kept in memory gets
 * its own exact-size copy so the memory threshold counts what is really held.
 */
function compact(member: Buffer): Buffer {
  if (member.buffer.byteLength <= member.length + (member.length >> 2)) return member;
  const copy = Buffer.allocUnsafeSlow(member.length);
  member.copy(copy);
  return copy;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === undefined ? err.message : `${code}: ${err.message}`;
  }
  return String(err);
}
