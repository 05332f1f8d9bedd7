/**
 * Recorder benchmark: throughput and peak memory of record → serialize → gzip → spool → seal,
 * against the naive approach of the Python agent and against the physical floors, in one run.
 *
 *   (a) recorder      createTraceRecorder + record() per event + finish() (seals; no upload)
 *   (b) naive         keep every event object in an array, JSON.stringify each at the end, gzipSync the lot
 *   (c) floor 1       JSON.stringify of the same events, nothing else
 *   (d) floor 2       zlib.gzipSync of the same JSONL bytes, nothing else
 *
 * The workload is a realistic mix: turn events with 2-8 KB of prose, code and tool output, tool
 * calls and results, small policy and screening events, and a few secrets to redact. Throughput
 * cases run in this process (best of several rounds); peak RSS of (a) and (b) is measured in child
 * processes of their own so the peaks do not mix. `--full` also records 1 GiB uncompressed and
 * reports the peak RSS over an empty recorder's.
 *
 * Child modes (used by the parent): --case rss-recorder|rss-naive|full --bytes <n>
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createTraceRecorder } from '@agent-trace/trace-sdk';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Uncompressed JSONL per throughput round. */
const ROUND_BYTES = 64 * MiB;
/** Rounds per throughput case; the best is reported. */
const ROUNDS = 3;
/** Distinct events cycled through in the throughput cases. */
const POOL_EVENTS = 2048;
/** Uncompressed bytes recorded by each RSS child in the default run. */
const RSS_BYTES = 96 * MiB;
/** Uncompressed bytes recorded by `--full`. */
const FULL_BYTES = 1 * GiB;
/** Targets from the issue. */
const TARGET_VS_FLOOR = 0.8;
const TARGET_VS_NAIVE = 1;
const TARGET_FULL_RSS_MIB = 64;

// ---- workload ------------------------------------------------------------------------------------

type Event = Record<string, unknown> & { event: string };

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to a in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no will more can who about out up what said ' +
  'file function error test value return result request response server client config build module import export ' +
  'string number object array promise async await const let type interface class method property parameter ' +
  'should need check first then next because however therefore instead actually maybe probably likely seems ' +
  'looking reading writing running fixing update change add remove rename move create delete open close start ' +
  'stop retry upload download parse format validate handle throw catch timeout deadline bucket key trace event ' +
  'agent tool call output input model turn policy screening finding user task session token cost duration'
).split(' ');
const IDENT = [
  'handler',
  'userId',
  'taskId',
  'buffer',
  'options',
  'result',
  'items',
  'count',
  'index',
  'path',
  'cfg',
];
const FILES = [
  'src/index.ts',
  'src/server/routes.ts',
  'lib/util.py',
  'README.md',
  'tests/test_api.py',
  'Makefile',
];
const TOOLS = ['bash', 'read_file', 'write_file', 'grep', 'list_dir', 'web_fetch'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function prose(r: () => number, chars: number): string {
  const out: string[] = [];
  let n = 0;
  let sentence = 0;
  while (n < chars) {
    let w = pick(r, WORDS);
    if (sentence === 0) w = w[0]!.toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 6 && r() < 0.15) {
      w += r() < 0.8 ? '.' : ':';
      sentence = 0;
    } else if (r() < 0.06) w += ',';
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

function hex(r: () => number, n: number): string {
  let s = '';
  while (s.length < n)
    s += Math.floor(r() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, n);
}

function codeOrLog(r: () => number, chars: number): string {
  const lines: string[] = [];
  let n = 0;
  while (n < chars) {
    const k = r();
    let line: string;
    if (k < 0.35) {
      line = `  const ${pick(r, IDENT)} = await ${pick(r, IDENT)}.${pick(r, WORDS)}(${Math.floor(r() * 1000)}, '${pick(r, FILES)}');`;
    } else if (k < 0.6) {
      line = `2025-01-${10 + Math.floor(r() * 18)}T12:${10 + Math.floor(r() * 49)}:${10 + Math.floor(r() * 49)}.${Math.floor(r() * 900) + 100}Z INFO ${pick(r, WORDS)} ${pick(r, WORDS)} id=${hex(r, 12)} took ${Math.floor(r() * 5000)}ms`;
    } else if (k < 0.75) {
      line = `${pick(r, FILES)}:${Math.floor(r() * 400)}:  ${prose(r, 40 + Math.floor(r() * 40))}`;
    } else if (k < 0.85) {
      line = `    if (${pick(r, IDENT)} === undefined) throw new Error('${prose(r, 30)}');`;
    } else {
      line = `# ${prose(r, 50 + Math.floor(r() * 50))}`;
    }
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n');
}

/** A secret of some kind, embedded in tool output now and then (the recorder must redact it). */
function secretLine(r: () => number): string {
  const k = r();
  if (k < 0.3) return `export AWS_ACCESS_KEY_ID=AKIA${hex(r, 16).toUpperCase()}`;
  if (k < 0.55) return `DATABASE_URL=postgres://app:${hex(r, 16)}@db.internal:5432/app`;
  if (k < 0.8) return `curl -H 'Authorization: Bearer ${hex(r, 40)}' https://api.example.com/v1/items`;
  return `git remote set-url origin https://x-access-token:ghs_${hex(r, 36)}@github.com/acme/repo.git`;
}

/** Deterministic stream of realistic events (new objects and strings each call). */
function workload(seed: number): () => Event {
  const r = rng(seed);
  let turn = 0;
  return () => {
    const k = r();
    if (k < 0.55) {
      turn++;
      const calls = 1 + Math.floor(r() * 2);
      const toolCalls = [];
      const toolResults = [];
      for (let i = 0; i < calls; i++) {
        const name = pick(r, TOOLS);
        const id = `toolu_${hex(r, 24)}`;
        const input =
          name === 'write_file'
            ? { path: pick(r, FILES), content: codeOrLog(r, 300 + Math.floor(r() * 900)) }
            : name === 'bash'
              ? { command: `cd /work && ${pick(r, WORDS)} --${pick(r, WORDS)} ${pick(r, FILES)}` }
              : { path: pick(r, FILES), pattern: pick(r, WORDS) };
        toolCalls.push({ id, name, input });
        let content = codeOrLog(r, 300 + Math.floor(r() * 1500));
        if (r() < 0.04) content = `${secretLine(r)}\n${content}`;
        toolResults.push({ tool_use_id: id, is_error: r() < 0.05, content });
      }
      return {
        event: 'TRAJECTORY_TURN',
        turn,
        model: 'claude-sonnet-4',
        thinking: prose(r, 800 + Math.floor(r() * 2800)),
        text: prose(r, 200 + Math.floor(r() * 1800)),
        tool_calls: toolCalls,
        tool_results: toolResults,
      };
    }
    if (k < 0.82) {
      return {
        event: 'POLICY_DECISION',
        tool_name: pick(r, TOOLS),
        allowed: r() < 0.9,
        reason: prose(r, 20 + Math.floor(r() * 60)),
        duration_ms: Math.floor(r() * 30),
      };
    }
    if (k < 0.97) {
      const findings = [];
      const n = Math.floor(r() * 3);
      for (let i = 0; i < n; i++)
        findings.push({ type: pick(r, ['pii', 'secret', 'url']), excerpt: prose(r, 40) });
      return {
        event: 'OUTPUT_SCREENING',
        tool_name: pick(r, TOOLS),
        findings,
        redacted: findings.length > 0,
        duration_ms: Math.floor(r() * 20),
      };
    }
    return {
      event: 'TOOL_PROGRESS',
      tool_use_id: `toolu_${hex(r, 24)}`,
      message: prose(r, 100),
      pct: Math.floor(r() * 100),
    };
  };
}

// ---- measurements --------------------------------------------------------------------------------

interface Measure {
  events: number;
  bytes: number;
  seconds: number;
}

function best(ms: Measure[]): Measure {
  return ms.reduce((a, b) => (b.events / b.seconds > a.events / a.seconds ? b : a));
}

function newSpoolDir(): string {
  return mkdtempSync(join(tmpdir(), 'agent-trace-bench-'));
}

async function recorderRun(pool: Event[], rounds: number, yieldEvery: number): Promise<Measure> {
  const spoolDir = newSpoolDir();
  try {
    const t0 = performance.now();
    const rec = createTraceRecorder({
      userId: 'bench-user',
      taskId: 'bench-task',
      transport: null,
      spoolDir,
      maxBytes: 16 * GiB,
    });
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const e of pool) {
        rec.record(e);
        if (yieldEvery > 0 && ++n % yieldEvery === 0) await new Promise<void>((res) => setImmediate(res));
      }
    }
    const res = await rec.finish();
    const seconds = (performance.now() - t0) / 1000;
    if (res.status !== 'skipped' || res.dropped !== 0)
      throw new Error(`unexpected finish: ${JSON.stringify(res)}`);
    return { events: res.events, bytes: res.uncompressedBytes, seconds };
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

function naiveRun(pool: Event[], rounds: number): Measure {
  const t0 = performance.now();
  const kept: Event[] = [];
  for (let r = 0; r < rounds; r++) for (const e of pool) kept.push(e);
  const lines: string[] = [];
  for (const e of kept) lines.push(JSON.stringify(e));
  const body = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  const gz = gzipSync(body);
  const seconds = (performance.now() - t0) / 1000;
  if (gz.length === 0) throw new Error('empty gzip');
  return { events: kept.length, bytes: body.length, seconds };
}

function stringifyRun(pool: Event[], rounds: number): Measure {
  const t0 = performance.now();
  let bytes = 0;
  let events = 0;
  for (let r = 0; r < rounds; r++) {
    for (const e of pool) {
      bytes += JSON.stringify(e).length + 1;
      events++;
    }
  }
  return { events, bytes, seconds: (performance.now() - t0) / 1000 };
}

function gzipRun(jsonl: Buffer, events: number): Measure {
  const t0 = performance.now();
  const gz = gzipSync(jsonl);
  const seconds = (performance.now() - t0) / 1000;
  if (gz.length === 0) throw new Error('empty gzip');
  return { events, bytes: jsonl.length, seconds };
}

/** Runs this file as a child in `mode` and returns the JSON it prints. */
function child(
  mode: string,
  bytes: number,
): { peakOverBaseline: number; baseline: number; peak: number; bytes: number } {
  const res = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--case', mode, '--bytes', String(bytes)],
    {
      encoding: 'utf8',
      maxBuffer: 16 * MiB,
    },
  );
  if (res.status !== 0) throw new Error(`child ${mode} failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}');
}

/** Child: record fresh events until `bytes` of JSONL, report peak RSS over the baseline. */
async function childMain(mode: string, bytes: number): Promise<void> {
  const next = workload(42);
  // Warm up the generator and the JIT so the baseline is a steady state.
  for (let i = 0; i < 200; i++) next();
  if (mode === 'rss-naive') {
    const baseline = process.memoryUsage.rss();
    const kept: Event[] = [];
    let total = 0;
    while (total < bytes) {
      const e = next();
      kept.push(e);
      total += 4200; // estimate while recording, as the naive agent keeps no running size
    }
    const lines = kept.map((e) => JSON.stringify(e));
    const body = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    const gz = gzipSync(body);
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(
      JSON.stringify({
        baseline,
        peak,
        peakOverBaseline: peak - baseline,
        bytes: body.length,
        gz: gz.length,
      }),
    );
    return;
  }
  const spoolDir = newSpoolDir();
  try {
    const { createRecorderWithSpool } = await import('../dist/record/recorder.js' as string);
    const fake = {
      uncompressedBytes: 0,
      append(l: string) {
        this.uncompressedBytes += l.length;
      },
      async seal() {
        return { byteLength: 0, sha256: '', open() {}, async dispose() {} };
      },
      async discard() {},
    };
    const { createEventSpool } = await import('../dist/spool/event-spool.js' as string);
    if (process.env.SPOOLONLY) {
      const sp = createEventSpool({ spoolDir, key: 'traces/u/t.jsonl.gz', maxInFlight: Number(process.env.MIF ?? 4) });
      const baseline = process.memoryUsage.rss();
      let n = 0;
      while (sp.uncompressedBytes < bytes) {
        sp.append(`${JSON.stringify(next())}\n`);
        if (++n % 256 === 0) await new Promise<void>((res) => setImmediate(res));
        if (n % 5000 === 0) { const m = process.memoryUsage(); console.error('rss', ((m.rss-baseline)/MiB).toFixed(1), 'heap', (m.heapUsed/MiB).toFixed(1), 'total', (m.heapTotal/MiB).toFixed(1), 'ext', (m.external/MiB).toFixed(1)); }
      }
      const body = await sp.seal('{}\n');
      await body.dispose();
      const peak = process.resourceUsage().maxRSS * 1024;
      console.log(JSON.stringify({ baseline, peak, peakOverBaseline: peak - baseline }));
      return;
    }
    const rec = process.env.FAKE
      ? createRecorderWithSpool(
          { userId: 'bench-user', taskId: 'bench-task', transport: null, spoolDir, maxBytes: 16 * GiB },
          fake,
        )
      : createTraceRecorder({
          userId: 'bench-user',
          taskId: 'bench-task',
          transport: null,
          spoolDir,
          maxBytes: 16 * GiB,
        });
    rec.record(next());
    const baseline = process.memoryUsage.rss();
    let n = 0;
    while (rec.stats().bytes < bytes) {
      rec.record(next());
      // An agent awaits its model between events; let finished compression land now and then.
      if (++n % 256 === 0) await new Promise<void>((res) => setImmediate(res));
      if (process.env.MEMDBG && n % 5000 === 0) {
        const m = process.memoryUsage();
        console.error(
          'rss',
          ((m.rss - baseline) / MiB).toFixed(1),
          'heap',
          (m.heapUsed / MiB).toFixed(1),
          'total',
          (m.heapTotal / MiB).toFixed(1),
          'ext',
          (m.external / MiB).toFixed(1),
          'ab',
          (m.arrayBuffers / MiB).toFixed(1),
        );
      }
    }
    const res = await rec.finish();
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(
      JSON.stringify({ baseline, peak, peakOverBaseline: peak - baseline, bytes: res.uncompressedBytes }),
    );
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

// ---- report --------------------------------------------------------------------------------------

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

async function main(): Promise<void> {
  const full = process.argv.includes('--full');
  const next = workload(7);
  const pool: Event[] = [];
  for (let i = 0; i < POOL_EVENTS; i++) pool.push(next());
  const poolBytes = pool.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
  const rounds = Math.max(1, Math.round(ROUND_BYTES / poolBytes));
  const jsonlParts: string[] = [];
  for (let r = 0; r < rounds; r++) for (const e of pool) jsonlParts.push(JSON.stringify(e));
  const jsonl = Buffer.from(`${jsonlParts.join('\n')}\n`, 'utf8');
  jsonlParts.length = 0;

  console.log('\n## Recorder: record → serialize → redact → gzip → spool → seal');
  console.log(
    `workload: ${fmt(pool.length * rounds)} events (${fmt(rounds)} × ${fmt(pool.length)} distinct), ` +
      `${fmt(jsonl.length / MiB, 1)} MiB JSONL, avg ${fmt(poolBytes / pool.length)} B/event, ` +
      `gzip ratio ${fmt((jsonl.length / gzipSync(jsonl.subarray(0, 8 * MiB)).length) * (Math.min(jsonl.length, 8 * MiB) / jsonl.length), 1)}x; best of ${ROUNDS}`,
  );

  // Warm-up: JIT every path once.
  await recorderRun(pool.slice(0, 256), 1, 0);
  naiveRun(pool.slice(0, 256), 1);
  stringifyRun(pool.slice(0, 256), 1);

  const a: Measure[] = [];
  const ay: Measure[] = [];
  const b: Measure[] = [];
  const c: Measure[] = [];
  const d: Measure[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await recorderRun(pool, rounds, 0));
    ay.push(await recorderRun(pool, rounds, 100));
    b.push(naiveRun(pool, rounds));
    c.push(stringifyRun(pool, rounds));
    d.push(gzipRun(jsonl, pool.length * rounds));
  }
  const A = best(a);
  const AY = best(ay);
  const B = best(b);
  const C = best(c);
  const D = best(d);
  const rate = (m: Measure) => m.events / m.seconds;
  const mbs = (m: Measure) => m.bytes / MiB / m.seconds;

  const widths = [52, 12, 10];
  console.log();
  console.log(row(['case', 'events/s', 'MiB/s'], widths));
  console.log(row(['-'.repeat(52), '-'.repeat(12), '-'.repeat(10)], widths));
  const cases: [string, Measure][] = [
    ['(a) recorder, record→seal, synchronous loop', A],
    ['(a) recorder, record→seal, yielding every 100 events', AY],
    ['(b) naive: keep all, JSON.stringify each, gzipSync', B],
    ['(c) floor: JSON.stringify alone', C],
    ['(d) floor: zlib.gzipSync of the JSONL alone', D],
  ];
  for (const [name, m] of cases) console.log(row([name, fmt(rate(m)), fmt(mbs(m), 1)], widths));

  const floor = Math.min(rate(C), rate(D));
  const vsFloor = rate(A) / floor;
  const vsFloorY = rate(AY) / floor;
  const vsNaive = rate(A) / rate(B);
  console.log();
  console.log(
    `recorder / min(c, d)    ${fmt(vsFloor, 2)}  (yielding: ${fmt(vsFloorY, 2)})   target >= ${TARGET_VS_FLOOR}`,
  );
  console.log(
    `recorder / naive        ${fmt(vsNaive, 2)}  (yielding: ${fmt(rate(AY) / rate(B), 2)})   target >= ${TARGET_VS_NAIVE}`,
  );

  const rssRec = child('rss-recorder', RSS_BYTES);
  const rssNaive = child('rss-naive', RSS_BYTES);
  console.log();
  console.log(
    `peak RSS over baseline, recording ${fmt(RSS_BYTES / MiB)} MiB of fresh events (child processes):`,
  );
  console.log(
    `  recorder ${fmt(rssRec.peakOverBaseline / MiB, 1)} MiB   naive ${fmt(rssNaive.peakOverBaseline / MiB, 1)} MiB`,
  );
  console.log(`RSS recorder / naive    ${fmt(rssRec.peakOverBaseline / rssNaive.peakOverBaseline, 3)}`);

  if (full) {
    const f = child('full', FULL_BYTES);
    console.log();
    console.log(
      `--full: recorded ${fmt(f.bytes / MiB)} MiB; peak RSS over an empty recorder's ${fmt(f.peakOverBaseline / MiB, 1)} MiB ` +
        `(target <= ${TARGET_FULL_RSS_MIB} MiB)`,
    );
  }
}

const caseAt = process.argv.indexOf('--case');
if (caseAt >= 0) {
  const mode = process.argv[caseAt + 1] ?? '';
  const bytesAt = process.argv.indexOf('--bytes');
  await childMain(mode, Number(process.argv[bytesAt + 1]));
} else {
  await main();
}
