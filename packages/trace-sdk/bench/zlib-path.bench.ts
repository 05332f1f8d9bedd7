/**
 * The private-zlib question (issue #11): inside the compression worker, is driving Node's private
 * zlib handle (`_handle.writeSync` into the shared output buffer, one deflate stream reset between
 * members: no allocation per batch) worth it against the public API (`zlib.gzipSync` with one output
 * chunk, copied into the shared buffer; its garbage lives in the worker's heap)?
 *
 * One child process per path compresses the same 256 MiB (1 GiB with `--full`) of JSONL (1 MiB batches of a realistic event
 * mix, cycled) on one worker thread, the way the spool does: batch in a SharedArrayBuffer, member
 * written into a shared output buffer. Reported: throughput and the child's peak RSS over its
 * baseline. The SDK keeps the private path only if it pays on both.
 *
 * Child mode (used by the parent): --child <private|public> --bytes <n>
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { rng } from './prng.ts';

const MiB = 1024 * 1024;
const BATCH = MiB;
const TOTAL = (process.argv.includes('--full') ? 1024 : 256) * MiB;
/** Keep the private path only if it is this much better on throughput or peak RSS. */
const PAYS = 0.1;

interface Zi {
  _handle: { writeSync: (...a: unknown[]) => void };
  _writeState: Uint32Array;
  reset(): void;
}

function workerMain(): void {
  const { port, mode } = workerData as { port: import('node:worker_threads').MessagePort; mode: string };
  let engine: Zi | undefined;
  port.on('message', (job: { input: SharedArrayBuffer; length: number; output: SharedArrayBuffer }) => {
    const input = new Uint8Array(job.input, 0, job.length);
    const out = new Uint8Array(job.output);
    let n: number;
    if (mode === 'private') {
      engine ??= createGzip({ level: 6 }) as unknown as Zi;
      engine._handle.writeSync(constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
      n = out.length - engine._writeState[0]!;
      engine.reset();
    } else {
      const m = gzipSync(input, { level: 6, chunkSize: out.length });
      out.set(m);
      n = m.length;
    }
    port.postMessage(n);
  });
}

function batches(): Buffer[] {
  const r = rng(11);
  const words =
    'the of and to in is file function error test value return result agent tool call output model'.split(
      ' ',
    );
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  const out: Buffer[] = [];
  for (let b = 0; b < 32; b++) {
    let s = '';
    let seq = 0;
    while (s.length < BATCH - 8192) {
      const text = Array.from(
        { length: 100 + Math.floor(r() * 600) },
        () => words[Math.floor(r() * words.length)],
      ).join(' ');
      s += `${JSON.stringify({ event: 'TRAJECTORY_TURN', seq: seq++, text, id: hex(24), blob: r() < 0.1 ? hex(600) : '' })}\n`;
    }
    out.push(Buffer.from(s));
  }
  return out;
}

async function childMain(mode: string): Promise<void> {
  const data = batches();
  const ins = [0, 1].map(() => new SharedArrayBuffer(BATCH));
  const outs = [0, 1].map(() => new SharedArrayBuffer(BATCH + 64 * 1024));
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(new URL(import.meta.url), {
    workerData: { port: port2, mode },
    transferList: [port2],
    execArgv: [],
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  await new Promise((r) => setTimeout(r, 200));
  const baseline = process.memoryUsage.rss();
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  let compressed = 0;
  const total = TOTAL / BATCH;
  const send = () => {
    const i = sent % 2;
    const src = data[sent % data.length]!;
    new Uint8Array(ins[i]!).set(src);
    port1.postMessage({ input: ins[i], length: src.length, output: outs[i] });
    sent++;
  };
  send();
  send();
  while (done < total) {
    const msg = receiveMessageOnPort(port1);
    if (msg === undefined) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    compressed += msg.message as number;
    done++;
    if (sent < total) send();
  }
  const seconds = (performance.now() - t0) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  await w.terminate();
  console.log(
    JSON.stringify({
      mode,
      seconds,
      mibs: TOTAL / MiB / seconds,
      peakOverBaseline: peak - baseline,
      compressed,
    }),
  );
}

function parent(): void {
  const results: Record<string, { mibs: number; peakOverBaseline: number; compressed: number }> = {};
  for (const mode of ['private', 'public', 'private', 'public']) {
    const res = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--child', mode, ...process.argv.slice(2)],
      {
        encoding: 'utf8',
      },
    );
    if (res.status !== 0) throw new Error(`child ${mode} failed: ${res.stderr}`);
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
      mibs: number;
      peakOverBaseline: number;
      compressed: number;
    };
    const prev = results[mode];
    // Best throughput, worst (largest) peak of the two runs.
    results[mode] =
      prev === undefined
        ? r
        : {
            ...r,
            mibs: Math.max(prev.mibs, r.mibs),
            peakOverBaseline: Math.max(prev.peakOverBaseline, r.peakOverBaseline),
          };
  }
  const p = results['private']!;
  const q = results['public']!;
  console.log(`\n## Compression worker: private zlib handle vs public gzipSync`);
  console.log(
    `${TOTAL / MiB} MiB of JSONL in 1 MiB batches, level 6, one worker thread; best of 2 runs each (peak: worst)`,
  );
  console.log();
  console.log('path                         MiB/s   peak RSS over baseline');
  console.log('---------------------------  ------  ----------------------');
  for (const [name, r] of [
    ['private _handle.writeSync', p],
    ['public gzipSync (chunk = out)', q],
  ] as const)
    console.log(
      `${name.padEnd(27)}  ${r.mibs.toFixed(1).padStart(6)}  ${(r.peakOverBaseline / MiB).toFixed(1).padStart(18)} MiB`,
    );
  const pays = p.mibs > q.mibs * (1 + PAYS) || q.peakOverBaseline - p.peakOverBaseline > 16 * MiB;
  console.log();
  console.log(
    `private / public throughput ${(p.mibs / q.mibs).toFixed(2)}, peak RSS difference ${((q.peakOverBaseline - p.peakOverBaseline) / MiB).toFixed(1)} MiB: ` +
      `the private path ${pays ? 'pays' : 'does not pay'} (needs > ${PAYS * 100}% throughput or > 16 MiB RSS)`,
  );
}

if (!isMainThread) workerMain();
else if (process.argv.includes('--child'))
  await childMain(process.argv[process.argv.indexOf('--child') + 1]!);
else parent();
