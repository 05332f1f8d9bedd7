/**
 * One pool of compression worker threads per process, shared by every spool (and so every
 * recorder): 200 recorders use the same few threads instead of starting 200.
 *
 * Workers start on demand, up to {@link GZIP_POOL_SIZE} (the cores, at most 4), and are `unref`'d:
 * they never keep a process alive. Each reports on a `MessagePort` of its own, which a producer that
 * never yields polls synchronously (`receiveMessageOnPort`); the port is ref'd only while jobs are
 * outstanding, so a pending `finish()` still sees its results. Nothing here ever blocks the calling
 * thread.
 *
 * If a worker dies, its unfinished jobs are resubmitted to another; if no worker can run at all (a
 * runtime without worker threads, or a bundle that left the worker module behind, so every worker
 * dies as it starts), jobs go to zlib on the libuv threadpool. The calling thread never compresses
 * either way, and a worker that cannot start is not restarted forever.
 *
 * @packageDocumentation
 */
import { read } from 'node:fs';
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { gzip } from 'node:zlib';
import type { GzipJob, GzipReply } from './gzip-worker-thread.js';

/** Worker threads the pool starts at most: the cores, at most 4 (compression is not the agent's job). */
export const GZIP_POOL_SIZE = Math.max(1, Math.min(4, availableParallelism()));

/** The job a spool submits: everything but the id, which the pool assigns. */
export type PoolJob = Omit<GzipJob, 'id'>;

/** What a job's callback receives. */
export interface PoolResult {
  /** Bytes of the member at the start of the job's output buffer; 0 on error. */
  readonly length: number;
  readonly error?: string | undefined;
}

/** Counters of the process-wide pool, for tests and benchmarks. */
export interface GzipPoolStats {
  /** Worker threads running now. */
  readonly threads: number;
  /** Worker threads ever started. */
  readonly started: number;
  /** Jobs compressed on the no-allocation engine path. */
  readonly fastJobs: number;
  /** Jobs compressed by the `gzipSync` fallback (the engine shape was missing). */
  readonly fallbackJobs: number;
  /** Jobs sent to the libuv threadpool because no worker could run. */
  readonly threadpoolJobs: number;
}

interface Slot {
  readonly worker: Worker;
  readonly port: MessagePort;
  /** Jobs posted to this worker and not yet answered, by id. */
  readonly jobs: Map<number, Pending>;
  dead: boolean;
  /** Whether it ever answered a job: a worker that dies before that may be unable to start at all. */
  answered: boolean;
}

interface Pending {
  readonly job: GzipJob;
  readonly done: (result: PoolResult) => void;
}

/**
 * The worker module: `.ts` next to this file in the sources (Node strips its types), `.js` in dist
 * (and next to an ES module bundle, where an application may copy it). A CommonJS bundle has no
 * `import.meta.url` to resolve it from: no worker then, the threadpool compresses.
 */
function workerModuleUrl(): URL | undefined {
  const here: unknown = import.meta.url;
  if (typeof here !== 'string') return undefined;
  return new URL(here.endsWith('.ts') ? './gzip-worker-thread.ts' : './gzip-worker-thread.js', here);
}

/**
 * Workers that die without ever answering before the pool stops starting them. One may be bad luck
 * (killed by a resource limit); two in a row mean the module cannot load here (a bundle without it).
 */
const MAX_FAILED_STARTS = 2;

class GzipPool {
  private readonly workerUrl: URL | undefined;
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private started = 0;
  private fastJobs = 0;
  private fallbackJobs = 0;
  private threadpoolJobs = 0;
  /** Set once workers cannot start: later jobs use the threadpool. */
  private unavailable = false;
  /** Workers that died before answering, since the last one that answered. */
  private failedStarts = 0;

  constructor(workerUrl: URL | undefined) {
    this.workerUrl = workerUrl;
    this.unavailable = workerUrl === undefined;
  }

  stats(): GzipPoolStats {
    return {
      threads: this.slots.length,
      started: this.started,
      fastJobs: this.fastJobs,
      fallbackJobs: this.fallbackJobs,
      threadpoolJobs: this.threadpoolJobs,
    };
  }

  /**
   * Queues a job. `done` runs exactly once, from `poll()` or from the event loop. The job's buffers
   * belong to the pool until then.
   */
  submit(job: PoolJob, done: (result: PoolResult) => void): void {
    const full: GzipJob = { ...job, id: this.nextId++ };
    const slot = this.pick();
    if (slot === undefined) {
      this.onThreadpool(full, done);
      return;
    }
    this.post(slot, { job: full, done });
  }

  /** Starts the first worker now, so the first batch does not wait for a thread to boot. */
  warm(): void {
    if (this.slots.length === 0 && !this.unavailable) this.start();
  }

  /** Delivers every result already posted, without yielding. */
  poll(): void {
    for (const slot of this.slots) {
      for (;;) {
        const msg = receiveMessageOnPort(slot.port);
        if (msg === undefined) break;
        this.deliver(slot, msg.message as GzipReply);
      }
    }
  }

  /** The least-loaded live worker, starting one more while all are busy and the pool has room. */
  private pick(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.slots) if (best === undefined || slot.jobs.size < best.jobs.size) best = slot;
    if (
      (best === undefined || best.jobs.size > 0) &&
      this.slots.length < GZIP_POOL_SIZE &&
      !this.unavailable
    ) {
      const started = this.start();
      if (started !== undefined) return started;
    }
    return best;
  }

  private start(): Slot | undefined {
    let slot: Slot;
    try {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(this.workerUrl!, {
        // The host's flags (inspector, loaders, heap sizes) are not the worker's business.
        execArgv: [],
        stdout: false,
        stderr: false,
        workerData: { port: port2 },
        transferList: [port2],
        // Its JS heap holds one message at a time; a small young generation keeps its RSS small.
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
      worker.unref();
      port1.unref();
      slot = { worker, port: port1, jobs: new Map(), dead: false, answered: false };
    } catch {
      this.unavailable = true;
      return undefined;
    }
    this.started++;
    this.slots.push(slot);
    slot.port.on('message', (r: GzipReply) => this.deliver(slot, r));
    // Adding a 'message' listener refs the port again: only jobs in flight may keep the process alive.
    if (slot.jobs.size === 0) slot.port.unref();
    const die = () => this.die(slot);
    slot.worker.on('error', die);
    slot.worker.on('exit', die);
    return slot;
  }

  private post(slot: Slot, pending: Pending): void {
    if (slot.jobs.size === 0) slot.port.ref();
    slot.jobs.set(pending.job.id, pending);
    slot.port.postMessage(pending.job);
  }

  private deliver(slot: Slot, r: GzipReply): void {
    const pending = slot.jobs.get(r.id);
    if (pending === undefined) return;
    slot.answered = true;
    this.failedStarts = 0;
    slot.jobs.delete(r.id);
    if (slot.jobs.size === 0) slot.port.unref();
    if (r.error === undefined) {
      if (r.fast) this.fastJobs++;
      else this.fallbackJobs++;
    }
    pending.done(r.error === undefined ? { length: r.length } : { length: 0, error: r.error });
  }

  /** A worker died: results it already posted still count; its other jobs go to another worker. */
  private die(slot: Slot): void {
    if (slot.dead) return;
    this.poll();
    slot.dead = true;
    this.slots.splice(this.slots.indexOf(slot), 1);
    slot.port.close();
    if (!slot.answered && ++this.failedStarts >= MAX_FAILED_STARTS) this.unavailable = true;
    const orphans = [...slot.jobs.values()];
    slot.jobs.clear();
    for (const pending of orphans) {
      const next = this.pick();
      if (next === undefined) this.onThreadpool(pending.job, pending.done);
      else this.post(next, pending);
    }
  }

  /** No worker can run here: zlib on the libuv threadpool, never the calling thread. */
  private onThreadpool(job: GzipJob, done: (result: PoolResult) => void): void {
    this.threadpoolJobs++;
    const compress = (input: Buffer) => {
      const opts = job.level === -1 ? {} : { level: job.level };
      gzip(input, opts, (err, member) => {
        if (err !== null) return done({ length: 0, error: err.message });
        const out = new Uint8Array(job.output);
        if (member.length > out.length)
          return done({ length: 0, error: 'gzip member larger than its buffer' });
        out.set(member);
        out[9] = 255;
        done({ length: member.length });
      });
    };
    if (job.input !== undefined) {
      // zlib may not accept views of shared memory: copy the batch out first.
      compress(Buffer.from(new Uint8Array(job.input, 0, job.length)));
      return;
    }
    // A batch the spool wrote raw to its spill file: read it back off the calling thread too.
    const input = Buffer.allocUnsafe(job.length);
    const readFrom = (off: number): void => {
      if (off === job.length) {
        compress(input);
        return;
      }
      read(job.fd!, input, off, job.length - off, job.position! + off, (err, n) => {
        if (err !== null) return done({ length: 0, error: err.message });
        if (n === 0) return done({ length: 0, error: 'raw spill file ended early' });
        readFrom(off + n);
      });
    };
    readFrom(0);
  }
}

let pool: GzipPool | undefined;

/** The process-wide pool (created on first use). */
export function gzipPool(): GzipPool {
  pool ??= new GzipPool(workerModuleUrl());
  return pool;
}

/**
 * A pool of its own over another worker module, for tests (e.g. one that cannot load).
 *
 * @internal
 */
export function createGzipPoolForTest(workerUrl: URL): GzipPool {
  return new GzipPool(workerUrl);
}

/** Counters of the process-wide pool. */
export function gzipPoolStats(): GzipPoolStats {
  return gzipPool().stats();
}

export type { GzipPool };
