/**
 * Off-thread gzip whose completions the main thread can see without yielding.
 *
 * The libuv threadpool compresses in parallel, but a producer that never yields never sees the
 * results: their callbacks need the event loop. A worker thread that reports through a
 * `MessagePort` can be polled synchronously instead (`receiveMessageOnPort`), and waited for with
 * `Atomics.wait` on a shared counter. Batches travel in `SharedArrayBuffer`s and members come back
 * in one, so the main isolate allocates nothing per batch: zlib's working memory and output garbage
 * live and die in the worker's small heap, not in the recorder's.
 *
 * The worker is started from source text (`eval`), so it works the same from `src` (tests) and
 * `dist`, and it is `unref`'d: it never keeps a process alive.
 *
 * @packageDocumentation
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';

/** What the worker reports for one job. */
export interface GzipWorkerResult {
  readonly id: number;
  /** Bytes of the member written at the start of the job's output buffer. */
  readonly length: number;
  /** Set when compressing failed; `length` is then 0. */
  readonly error?: string | undefined;
}

/** Counter slot the worker bumps (and notifies) after each result. */
const DONE = 0;

// CommonJS source run by the worker. It gzips `input[0, length)` with the spool's settings straight
// into the shared output, pins the OS byte as gzipMemberSync does, and reports the member's length.
//
// One deflate stream is kept and reset between members (deflateReset writes a fresh header; the
// bytes equal a fresh stream's), driven through the engine's synchronous write into the caller's
// buffer: no allocation per batch. Without that, garbage would pile up in this small heap until
// V8's external-memory trigger fired (tens of MiB). Where the engine does not expose it, gzipSync.
const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const { port, counter, level, chunkBytes } = workerData;
const done = new Int32Array(counter);
const opts = level === undefined ? { chunkSize: chunkBytes } : { level, chunkSize: chunkBytes };
let engine;
function reusable() {
  try {
    const z = zlib.createGzip(opts);
    const ok = z._handle && typeof z._handle.writeSync === 'function' && z._writeState instanceof Uint32Array &&
      typeof z.reset === 'function';
    return ok ? z : null;
  } catch {
    return null;
  }
}
function compress(input, out) {
  if (engine === undefined) engine = reusable();
  if (engine !== null) {
    engine._handle.writeSync(zlib.constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
    const availOut = engine._writeState[0];
    const availIn = engine._writeState[1];
    engine.reset();
    if (availIn === 0 && availOut > 0) return out.length - availOut;
    engine = null;
  }
  const member = zlib.gzipSync(input, opts);
  if (member.length > out.length) throw new Error('gzip member larger than its output buffer');
  out.set(member);
  return member.length;
}
port.on('message', (job) => {
  let reply;
  try {
    const out = new Uint8Array(job.output);
    const length = compress(new Uint8Array(job.input, 0, job.length), out);
    out[9] = 255;
    reply = { id: job.id, length };
  } catch (err) {
    reply = { id: job.id, length: 0, error: String(err && err.message) };
  }
  port.postMessage(reply);
  Atomics.add(done, ${DONE}, 1);
  Atomics.notify(done, ${DONE});
});
`;

/** Settings of a {@link GzipWorker}. */
export interface GzipWorkerOptions {
  /** zlib level; undefined for zlib's default. */
  readonly level: number | undefined;
  /** Output chunk zlib allocates (one chunk per member when it is at least the member's bound). */
  readonly chunkBytes: number;
  /** Called for every result, in whichever way it arrives (poll, wait, or event). */
  readonly onResult: (result: GzipWorkerResult) => void;
  /** Called once if the worker dies or cannot start; unfinished jobs will never report. */
  readonly onDead: (err: unknown) => void;
}

/** One worker thread compressing jobs in order. Not thread-safe beyond its owner. */
export class GzipWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));
  private readonly opts: GzipWorkerOptions;
  private pending = 0;
  private seen = 0;
  private dead = false;

  /** @throws when the worker cannot be created (callers then compress inline). */
  constructor(opts: GzipWorkerOptions) {
    this.opts = opts;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // The host's flags (inspector, loaders, heap sizes) are not the worker's business.
      execArgv: [],
      stdout: false,
      stderr: false,
      workerData: {
        port: port2,
        counter: this.counter.buffer,
        level: opts.level,
        chunkBytes: opts.chunkBytes,
      },
      transferList: [port2],
      // Its JS heap holds one message at a time; a small young generation keeps its RSS small.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.worker.unref();
    this.port.on('message', (r: GzipWorkerResult) => this.deliver(r));
    this.port.unref();
    const die = (err: unknown) => this.die(err);
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`gzip worker exited with code ${code}`)));
  }

  /** Jobs sent and not yet reported. */
  get outstanding(): number {
    return this.pending;
  }

  get alive(): boolean {
    return !this.dead;
  }

  /**
   * Queues `input[0, length)` for compression into `output`. Neither buffer may be touched until
   * the job's result has been delivered.
   */
  submit(id: number, input: SharedArrayBuffer, length: number, output: SharedArrayBuffer): void {
    if (this.pending++ === 0) this.port.ref();
    this.port.postMessage({ id, input, length, output });
  }

  /** Delivers every result already posted, without yielding. */
  poll(): void {
    for (;;) {
      const msg = receiveMessageOnPort(this.port);
      if (msg === undefined) return;
      this.deliver(msg.message as GzipWorkerResult);
    }
  }

  /**
   * Blocks the calling thread until the worker reports another result or `timeoutMs` passes, then
   * delivers what arrived. Returns false on timeout (or when nothing is outstanding).
   */
  waitSync(timeoutMs: number): boolean {
    if (this.pending === 0 || this.dead) return false;
    const before = this.seen;
    // Read before polling: the worker bumps the counter after posting, so a result posted after this
    // read makes the wait below return at once, and one posted before it is found by the poll.
    const current = Atomics.load(this.counter, DONE);
    this.poll();
    if (this.seen !== before) return true;
    if (Atomics.wait(this.counter, DONE, current, timeoutMs) === 'timed-out') return false;
    this.poll();
    return this.seen !== before;
  }

  /** Stops the worker. Results not yet delivered are dropped. */
  close(): void {
    if (this.dead) return;
    this.dead = true;
    this.port.close();
    void this.worker.terminate().catch(() => {});
  }

  private deliver(r: GzipWorkerResult): void {
    if (this.dead) return;
    this.seen++;
    if (--this.pending === 0) this.port.unref();
    this.opts.onResult(r);
  }

  private die(err: unknown): void {
    if (this.dead) return;
    // Results already on the port still count.
    this.poll();
    this.close();
    this.opts.onDead(err);
  }
}
