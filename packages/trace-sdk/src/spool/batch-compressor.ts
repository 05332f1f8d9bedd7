/**
 * JSONL lines in, gzip members out, in order, without ever compressing on the caller's thread.
 *
 * `append` copies each line into a shared batch buffer (one UTF-8 encode, no allocation per line).
 * A full batch becomes a job of the process-wide {@link GzipPool}; finished members are handed to
 * `onMember` strictly in order. Results are polled synchronously at every batch cut, so a producer
 * that never yields still sees them.
 *
 * Back-pressure, in this order, never blocking and never compressing here:
 * 1. a queue bounded in bytes (`maxPendingBytes` of batches at the workers, default 8 MiB);
 * 2. the pool's second (and further) worker, started when the first is busy;
 * 3. past the bound, the batch is written raw to an unlinked spill file (one `write` to the page
 *    cache, ~1 ms per MiB) and a worker compresses it from there: memory stays bounded, order is kept;
 * 4. only when no raw spill file can be written either, the batch is dropped and counted
 *    (`droppedLines`, `droppedBytes`).
 *
 * @packageDocumentation
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipBound } from '../compress/gzip-members.js';
import { gzipPool, type PoolResult } from '../compress/gzip-pool.js';
import { newStem } from './spool-files.js';

/** Room past `batchBytes` in a batch buffer, so a line up to the per-event limit never splits a batch early. */
const BATCH_SLACK_BYTES = 256 * 1024;
const GRANULE = 64 * 1024;

/** Settings of a {@link BatchCompressor}. */
export interface BatchCompressorOptions {
  readonly batchBytes: number;
  /** zlib level, -1 for zlib's default. */
  readonly level: number;
  /** Uncompressed bytes allowed at the workers before batches go to the raw spill file. */
  readonly maxPendingBytes: number;
  /** Directory for the raw spill file; undefined to drop instead. */
  readonly rawSpillDir: string | undefined;
  /** Receives each member in order, with the lines it holds; `member` is valid only during the call. */
  readonly onMember: (member: Buffer, lines: number) => void;
}

interface Job {
  /** The batch in shared memory, until the worker is done with it (undefined for raw jobs). */
  input: Buffer | undefined;
  /** Whether `input` returns to the buffer pool (false for a one-off oversized line). */
  pooled: boolean;
  /** Where the raw batch sits in the raw spill file, for a raw job. */
  rawPosition: number | undefined;
  /** Where the member goes; assigned when the job is submitted. */
  output: Buffer | undefined;
  bytes: number;
  lines: number;
  result: PoolResult | undefined;
}

/** Batches lines and compresses them on the worker pool. Not thread-safe beyond its owner. */
export class BatchCompressor {
  /** Uncompressed bytes appended. */
  appendedBytes = 0;
  /** Lines and bytes dropped because neither the queue nor a raw spill file had room. */
  droppedLines = 0;
  droppedBytes = 0;
  /** Batches that went through the raw spill file. */
  rawBatches = 0;
  /** First compression error, if any. */
  error: string | undefined;

  private readonly opts: BatchCompressorOptions;
  private readonly bufferBytes: number;
  private readonly outputBytes: number;
  private batch: Buffer | undefined;
  private used = 0;
  private lines = 0;
  private readonly inputs: Buffer[] = [];
  private readonly outputs: Buffer[] = [];
  /** Every job not yet handed to `onMember`, in order. */
  private queue: Job[] = [];
  /** Raw jobs not yet submitted: always the tail of `queue`, submitted in order as room frees. */
  private backlog: Job[] = [];
  /** Uncompressed bytes of submitted jobs not yet emitted (their buffers are held). */
  private inflightBytes = 0;
  private raw: { fd: number; position: number; outstanding: number } | undefined;
  private rawFailed = false;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(opts: BatchCompressorOptions) {
    this.opts = opts;
    this.bufferBytes = Math.ceil((opts.batchBytes + BATCH_SLACK_BYTES) / GRANULE) * GRANULE;
    this.outputBytes = Math.ceil(gzipBound(this.bufferBytes) / GRANULE) * GRANULE;
  }

  /** Bytes in the batch being filled. */
  get pendingInBatch(): number {
    return this.used;
  }

  /** Jobs not yet handed to `onMember`. */
  get outstanding(): number {
    return this.queue.length;
  }

  append(line: string): void {
    if (this.closed) return;
    if (this.batch === undefined && this.appendedBytes === 0) gzipPool().warm();
    this.batch ??= this.takeInput();
    // A UTF-16 unit is at most 3 UTF-8 bytes: only near the end of a batch is the exact size needed.
    if (this.used + line.length * 3 > this.batch.length) {
      const bytes = Buffer.byteLength(line);
      if (this.used + bytes > this.batch.length) {
        this.cut();
        if (bytes > this.bufferBytes) {
          this.appendedBytes += bytes;
          this.submitOversized(line, bytes);
          return;
        }
        this.batch ??= this.takeInput();
      }
    }
    const written = this.batch.write(line, this.used);
    this.used += written;
    this.appendedBytes += written;
    this.lines++;
    if (this.used >= this.opts.batchBytes) this.cut();
  }

  /** Hands the batch being filled to the workers (as its own member, however small). */
  cut(): void {
    gzipPool().poll();
    if (this.used === 0 || this.batch === undefined) return;
    const input = this.batch;
    const bytes = this.used;
    const lines = this.lines;
    this.batch = undefined;
    this.used = 0;
    this.lines = 0;
    this.submit(input, bytes, lines);
  }

  /** Resolves once every batch cut so far has been handed to `onMember`. */
  whenIdle(): Promise<void> {
    gzipPool().poll();
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops: later appends are ignored, results still in flight are dropped when they land. */
  close(): void {
    this.closed = true;
    this.batch = undefined;
    this.used = 0;
    if (this.raw !== undefined) this.raw.outstanding -= this.backlog.length;
    this.queue = [];
    this.backlog = [];
    this.inputs.length = 0;
    this.outputs.length = 0;
    this.closeRawWhenIdle();
    this.resolveIdle();
  }

  private takeInput(): Buffer {
    // Shared, so the worker reads the batch where it was written: no copy, no transfer.
    return this.inputs.pop() ?? Buffer.from(new SharedArrayBuffer(this.bufferBytes));
  }

  private takeOutput(): Buffer {
    return this.outputs.pop() ?? Buffer.from(new SharedArrayBuffer(this.outputBytes));
  }

  /** A line larger than a batch buffer: its own member, in one-off buffers. */
  private submitOversized(line: string, bytes: number): void {
    const input = Buffer.from(new SharedArrayBuffer(bytes));
    input.write(line);
    this.submit(input, bytes, 1, false);
  }

  private submit(input: Buffer, bytes: number, lines: number, pooled = true): void {
    const job: Job = {
      input,
      pooled,
      rawPosition: undefined,
      output: undefined,
      bytes,
      lines,
      result: undefined,
    };
    // Nothing overtakes the backlog: submission order is queue order, so the queue's head is always
    // at a worker and the queue always moves.
    if (this.backlog.length === 0 && this.hasRoom(bytes)) {
      this.queue.push(job);
      this.dispatch(job);
      return;
    }
    job.rawPosition = this.writeRaw(input, bytes);
    job.input = undefined;
    if (pooled) this.release(input, this.inputs);
    if (job.rawPosition === undefined) {
      this.droppedLines += lines;
      this.droppedBytes += bytes;
      return;
    }
    this.rawBatches++;
    this.raw!.outstanding++;
    this.queue.push(job);
    this.backlog.push(job);
  }

  private hasRoom(bytes: number): boolean {
    return this.inflightBytes === 0 || this.inflightBytes + bytes <= this.opts.maxPendingBytes;
  }

  /** Submits backlog jobs while the bound has room. */
  private pump(): void {
    while (this.backlog.length > 0 && !this.closed && this.hasRoom(this.backlog[0]!.bytes))
      this.dispatch(this.backlog.shift()!);
  }

  private dispatch(job: Job): void {
    this.inflightBytes += job.bytes;
    job.output =
      job.bytes <= this.bufferBytes
        ? this.takeOutput()
        : Buffer.from(new SharedArrayBuffer(Math.ceil(gzipBound(job.bytes) / GRANULE) * GRANULE));
    const output = job.output.buffer as SharedArrayBuffer;
    const level = this.opts.level;
    const input = job.input;
    const done = (r: PoolResult) => {
      if (input !== undefined && job.pooled) this.release(input, this.inputs);
      job.input = undefined;
      this.onResult(job, r);
    };
    if (input !== undefined)
      gzipPool().submit({ level, input: input.buffer as SharedArrayBuffer, length: job.bytes, output }, done);
    else
      gzipPool().submit(
        { level, fd: this.raw!.fd, position: job.rawPosition, length: job.bytes, output },
        done,
      );
  }

  /** Appends a batch to the raw spill file; undefined when there is none to be had. */
  private writeRaw(input: Buffer, bytes: number): number | undefined {
    if (this.rawFailed || this.opts.rawSpillDir === undefined) return undefined;
    try {
      if (this.raw === undefined) {
        const path = join(this.opts.rawSpillDir, `${newStem()}.raw.tmp`);
        mkdirSync(this.opts.rawSpillDir, { recursive: true });
        const fd = openSync(path, 'wx+', 0o600);
        // Unlinked at once: the workers read it by descriptor, and a crash leaves nothing behind.
        try {
          unlinkSync(path);
        } catch {
          // Windows cannot unlink an open file; it stays until the process ends (best effort).
        }
        this.raw = { fd, position: 0, outstanding: 0 };
      }
      const raw = this.raw;
      // Start over once every raw job is done: the file never grows past the backlog.
      if (raw.outstanding === 0 && raw.position > 0) {
        raw.position = 0;
        ftruncateSync(raw.fd, 0);
      }
      const position = raw.position;
      let off = 0;
      while (off < bytes) off += writeSync(raw.fd, input, off, bytes - off, position + off);
      raw.position += bytes;
      return position;
    } catch {
      this.rawFailed = true;
      return undefined;
    }
  }

  private onResult(job: Job, r: PoolResult): void {
    if (job.rawPosition !== undefined && this.raw !== undefined) {
      this.raw.outstanding--;
      if (this.closed) this.closeRawWhenIdle();
    }
    if (this.closed) return;
    job.result = r;
    this.drain();
  }

  /** Emits finished members from the head of the queue, in order. */
  private drain(): void {
    while (this.queue.length > 0 && this.queue[0]!.result !== undefined) {
      const job = this.queue.shift()!;
      const r = job.result!;
      this.inflightBytes -= job.bytes;
      const output = job.output!;
      if (r.error !== undefined) {
        this.error ??= r.error;
        this.droppedLines += job.lines;
        this.droppedBytes += job.bytes;
      } else this.opts.onMember(output.subarray(0, r.length), job.lines);
      if (output.length === this.outputBytes) this.release(output, this.outputs);
    }
    this.pump();
    if (this.queue.length === 0) this.resolveIdle();
  }

  private release(buf: Buffer, pool: Buffer[]): void {
    // Kept for reuse: as many as the byte bound lets be in flight at once, no more.
    if (
      !this.closed &&
      buf.length >= this.bufferBytes &&
      pool.length * this.opts.batchBytes < this.opts.maxPendingBytes
    )
      pool.push(buf);
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private closeRawWhenIdle(): void {
    // A worker may still read the file: close it only once no raw job is left (a closed descriptor
    // could be reused by another file the worker would then read).
    if (this.raw === undefined || this.raw.outstanding > 0) return;
    try {
      closeSync(this.raw.fd);
    } catch {
      // Already closed.
    }
    this.raw = undefined;
  }
}
