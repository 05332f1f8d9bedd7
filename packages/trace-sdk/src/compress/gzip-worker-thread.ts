/**
 * The body of a compression worker thread (see {@link GzipPool}). It runs as its own module, loaded
 * by URL: `.ts` from the sources (Node strips the types), `.js` from `dist`. It imports nothing but
 * Node's built-ins, so it needs no resolver either way.
 *
 * A job names its input (a shared batch buffer, or a byte range of a raw spill file) and a shared
 * output buffer; the worker writes one complete gzip member (OS byte pinned to 255, as
 * `gzipMemberSync` writes it) at the start of the output and replies with its length on the port it
 * was given. Replies go out in job order.
 *
 * Compression drives zlib's engine the way `zlib.gzipSync` does internally, but into the shared output
 * buffer and with one deflate stream per level reset between members (`deflateReset` writes a fresh
 * header, so the bytes equal a fresh stream's): no allocation per batch. Measured at 1 GiB
 * (bench/zlib-path.bench.ts), the public `gzipSync` (its output chunk is garbage in this small heap
 * until V8's external-memory trigger fires) costs ~29 MiB more peak RSS per worker at the same
 * throughput, so the private path stays; every reply says which path ran (`fast`), and a test
 * asserts the fast path on the Node it runs on. Where Node lacks the shape, `gzipSync` takes over.
 *
 * @packageDocumentation
 */
import { readlinkSync, readSync } from 'node:fs';
import { setPriority } from 'node:os';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { constants, createGzip, gzipSync } from 'node:zlib';

/** One job, as posted by the pool. */
export interface GzipJob {
  readonly id: number;
  /** zlib level, -1 for zlib's default. */
  readonly level: number;
  /** The batch, in shared memory... */
  readonly input?: SharedArrayBuffer | undefined;
  /** ...or a byte range of a raw spill file, by descriptor (shared by every thread of the process). */
  readonly fd?: number | undefined;
  readonly position?: number | undefined;
  readonly length: number;
  /** Where the member goes; it must hold the member (the pool sizes it to gzip's bound). */
  readonly output: SharedArrayBuffer;
}

/** The worker's reply to one job. */
export interface GzipReply {
  readonly id: number;
  /** Bytes of the member at the start of the output; 0 with `error`. */
  readonly length: number;
  /** True when the no-allocation engine path compressed it; false for the `gzipSync` fallback. */
  readonly fast: boolean;
  readonly error?: string | undefined;
}

/** Settings the pool starts each worker with. */
export interface GzipWorkerData {
  readonly port: MessagePort;
}

const OS_UNKNOWN = 255;

/** Scratch buffer for file-backed jobs, grown to the largest batch seen and reused. */
let scratch = Buffer.alloc(0);

function readRange(fd: number, position: number, length: number): Buffer {
  if (scratch.length < length) scratch = Buffer.allocUnsafeSlow(length);
  let off = 0;
  while (off < length) {
    const n = readSync(fd, scratch, off, length - off, position + off);
    if (n === 0) throw new Error('raw spill file ended early');
    off += n;
  }
  return scratch.subarray(0, length);
}

/** The parts of Node's zlib stream the fast path drives (stable since Node 10, not public). */
interface ZlibInternals {
  _handle?: { writeSync?: (...args: unknown[]) => void } | null;
  _writeState?: unknown;
  destroyed: boolean;
  reset(): void;
  close(): void;
}

/** One reusable deflate stream per level; null where the engine shape is missing or broke. */
const engines = new Map<number, ZlibInternals | null>();

function engineFor(level: number): ZlibInternals | null {
  let z = engines.get(level);
  if (z !== undefined) return z;
  try {
    const s = createGzip({ level }) as unknown as ZlibInternals;
    z =
      typeof s._handle?.writeSync === 'function' &&
      s._writeState instanceof Uint32Array &&
      typeof s.reset === 'function'
        ? s
        : null;
    if (z === null) s.close();
  } catch {
    z = null;
  }
  engines.set(level, z);
  return z;
}

/** Compresses `input` into `out` with the engine; undefined when it cannot (the caller falls back). */
function compressFast(level: number, input: Uint8Array, out: Uint8Array): number | undefined {
  const z = engineFor(level);
  if (z === null) return undefined;
  z._handle!.writeSync!(constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
  const state = z._writeState as Uint32Array;
  const availOut = state[0]!;
  const availIn = state[1]!;
  if (!z.destroyed) z.reset();
  if (!z.destroyed && availIn === 0 && availOut > 0) return out.length - availOut;
  // An engine error destroys the stream: let gzipSync report it (or succeed) from scratch.
  engines.set(level, null);
  return undefined;
}

/** Compresses one job into its output buffer. */
export function compressJob(job: GzipJob): { length: number; fast: boolean } {
  const input =
    job.input !== undefined
      ? new Uint8Array(job.input, 0, job.length)
      : readRange(job.fd ?? -1, job.position ?? 0, job.length);
  const out = new Uint8Array(job.output);
  const level = job.level === -1 ? constants.Z_DEFAULT_COMPRESSION : job.level;
  let length = compressFast(level, input, out);
  const fast = length !== undefined;
  if (length === undefined) {
    const member = gzipSync(input, { level, chunkSize: out.length });
    if (member.length > out.length) throw new Error('gzip member larger than its output buffer');
    out.set(member);
    length = member.length;
  }
  out[9] = OS_UNKNOWN;
  return { length, fast };
}

function serve(port: MessagePort): void {
  port.on('message', (job: GzipJob) => {
    let reply: GzipReply;
    try {
      reply = { id: job.id, ...compressJob(job) };
    } catch (err) {
      reply = { id: job.id, length: 0, fast: false, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
}

/**
 * Nice value of a compression thread. The agent's thread must win the CPU whenever it wants it: with
 * the workers at the same priority, a 2-core machine ran three busy threads and the scheduler took the
 * agent's thread off the CPU for 2/3 of a never-yielding burst (record() p99.9 8-14 ms, max 25-380 ms).
 * At nice 10 the workers take the CPU the agent leaves (throughput within noise) and record() stays at
 * p99.9 < 2 ms (bench/agent-thread.bench.ts, docs/performance.md).
 */
export const WORKER_NICE = 10;

/**
 * Lowers this thread's scheduling priority, on Linux only: there `setpriority` on a thread id applies
 * to that thread alone. Elsewhere it would renice the whole process, so nothing is done.
 */
function lowerPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    // `/proc/thread-self` → `<pid>/task/<tid>`.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, WORKER_NICE);
  } catch {
    // No /proc, or a sandbox that forbids it: compress at the default priority.
  }
}

if (parentPort !== null && (workerData as GzipWorkerData | undefined)?.port !== undefined) {
  lowerPriority();
  serve((workerData as GzipWorkerData).port);
}
