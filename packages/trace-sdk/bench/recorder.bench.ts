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
 * Child modes (used by the parent): --case rss-recorder|rss-naive --events <n>, --case full --bytes <n>
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createTraceRecorder } from '@agent-trace/trace-sdk';
import { rng } from './prng.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Uncompressed JSONL per throughput run. */
const ROUND_BYTES = 48 * MiB;
/** Runs per throughput case, interleaved across cases; the best is reported. */
const ROUNDS = 5;
/** Events between yields to the event loop in case (a'), as an agent awaiting its model would. */
const YIELD_EVERY = 100;
/** Distinct events cycled through in the throughput cases. */
const POOL_EVENTS = 2048;
/** Uncompressed bytes (about) recorded by each RSS child in the default run. */
const RSS_BYTES = 96 * MiB;
/** Uncompressed bytes recorded by `--full`. */
const FULL_BYTES = 1 * GiB;
/** Targets from the issue. */
const TARGET_VS_FLOOR = 0.8;
const TARGET_VS_NAIVE = 1;
const TARGET_FULL_RSS_MIB = 64;

// ---- workload ------------------------------------------------------------------------------------

type Event = Record<string, unknown> & { event: string };

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
export function workload(seed: number): () => Event {
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
  compressed?: number;
}

function best(ms: Measure[]): Measure {
  return ms.reduce((a, b) => (b.events / b.seconds > a.events / a.seconds ? b : a));
}

function newSpoolDir(): string {
  return mkdtempSync(join(tmpdir(), 'agent-trace-bench-'));
}

function newRecorder(spoolDir: string) {
  return createTraceRecorder({
    userId: 'bench-user',
    taskId: 'bench-task',
    transport: null,
    spoolDir,
    maxBytes: 16 * GiB,
  });
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** (a): every event through record(), then finish() (seal, no upload). */
async function recorderRun(pool: Event[], rounds: number, yieldEvery: number): Promise<Measure> {
  const spoolDir = newSpoolDir();
  try {
    const t0 = performance.now();
    const rec = newRecorder(spoolDir);
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const e of pool) {
        rec.record(e);
        if (yieldEvery > 0 && ++n % yieldEvery === 0) await tick();
      }
    }
    const res = await rec.finish();
    const seconds = (performance.now() - t0) / 1000;
    if (res.status !== 'skipped' || res.dropped !== 0)
      throw new Error(`unexpected finish: ${JSON.stringify(res)}`);
    return { events: res.events, bytes: res.uncompressedBytes, seconds, compressed: res.bytes };
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

/** (b): what the Python agent does: keep every event, serialize and gzip at the end. */
function naiveRun(pool: Event[], rounds: number): Measure {
  const t0 = performance.now();
  const kept: Event[] = [];
  for (let r = 0; r < rounds; r++) for (const e of pool) kept.push(e);
  const lines: string[] = [];
  for (const e of kept) lines.push(JSON.stringify(e));
  const body = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  const gz = gzipSync(body);
  return {
    events: kept.length,
    bytes: body.length,
    seconds: (performance.now() - t0) / 1000,
    compressed: gz.length,
  };
}

/** (c): JSON.stringify of the same events, nothing else. */
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

/** (d): zlib.gzipSync (default level, as the spool) of the same JSONL bytes, nothing else. */
function gzipRun(jsonl: Buffer, events: number): Measure {
  const t0 = performance.now();
  const gz = gzipSync(jsonl);
  return { events, bytes: jsonl.length, seconds: (performance.now() - t0) / 1000, compressed: gz.length };
}

interface ChildReport {
  baseline: number;
  peak: number;
  peakOverBaseline: number;
  bytes: number;
  events: number;
}

/** Runs this file as a child process in `mode` and returns the JSON line it prints. */
function child(mode: string, arg: string, value: number): ChildReport {
  const res = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--case', mode, arg, String(value)],
    {
      encoding: 'utf8',
      maxBuffer: 16 * MiB,
    },
  );
  if (res.status !== 0) throw new Error(`child ${mode} failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as ChildReport;
}

function report(baseline: number, bytes: number, events: number): void {
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ baseline, peak, peakOverBaseline: peak - baseline, bytes, events }));
}

/**
 * Child processes. `rss-recorder` and `rss-naive` handle the same `events` fresh events (same seed);
 * `full` cycles a pre-generated pool (built before the baseline, so the generator's garbage does
 * not count) until `bytes` are recorded.
 */
async function childMain(mode: string, count: number): Promise<void> {
  const next = workload(42);
  for (let i = 0; i < 200; i++) next(); // warm up the generator and the JIT
  if (mode === 'rss-naive') {
    const baseline = process.memoryUsage.rss();
    const kept: Event[] = [];
    for (let i = 0; i < count; i++) kept.push(next());
    const lines = kept.map((e) => JSON.stringify(e));
    const body = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    gzipSync(body);
    report(baseline, body.length, kept.length);
    return;
  }
  const pool: Event[] = [];
  if (mode === 'full') for (let i = 0; i < POOL_EVENTS; i++) pool.push(next());
  const spoolDir = newSpoolDir();
  try {
    const rec = newRecorder(spoolDir);
    const baseline = process.memoryUsage.rss();
    let n = 0;
    const more = mode === 'full' ? () => rec.stats().bytes < count : () => n < count;
    while (more()) {
      rec.record(mode === 'full' ? (pool[n % pool.length] as Event) : next());
      // An agent awaits its model between events; let finished compression land now and then.
      if (++n % 256 === 0) await tick();
    }
    const res = await rec.finish();
    report(baseline, res.uncompressedBytes, res.events);
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

// ---- report --------------------------------------------------------------------------------------

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

async function main(): Promise<void> {
  const full = process.argv.includes('--full');
  const next = workload(7);
  const pool: Event[] = [];
  for (let i = 0; i < POOL_EVENTS; i++) pool.push(next());
  const poolBytes = pool.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
  const avg = poolBytes / pool.length;
  const rounds = Math.max(1, Math.round(ROUND_BYTES / poolBytes));
  const jsonl = Buffer.from(
    `${Array.from({ length: rounds }, () => pool.map((e) => JSON.stringify(e)).join('\n')).join('\n')}\n`,
  );

  console.log('\n## Recorder: record → serialize → redact → gzip → spool → seal');
  console.log(
    `workload: ${fmt(pool.length * rounds)} events per run (${fmt(rounds)} × ${fmt(pool.length)} distinct), ` +
      `${fmt(jsonl.length / MiB, 1)} MiB JSONL, avg ${fmt(avg)} B/event; best of ${ROUNDS} interleaved runs; ` +
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.availableParallelism()} CPUs`,
  );

  // Warm-up: JIT every path once.
  await recorderRun(pool.slice(0, 256), 1, 0);
  naiveRun(pool.slice(0, 256), 1);
  stringifyRun(pool.slice(0, 256), 1);

  const runs: Measure[][] = [[], [], [], [], []];
  for (let i = 0; i < ROUNDS; i++) {
    runs[0]?.push(await recorderRun(pool, rounds, 0));
    runs[1]?.push(await recorderRun(pool, rounds, YIELD_EVERY));
    runs[2]?.push(naiveRun(pool, rounds));
    runs[3]?.push(stringifyRun(pool, rounds));
    runs[4]?.push(gzipRun(jsonl, pool.length * rounds));
  }
  const [A, AY, B, C, D] = runs.map(best) as [Measure, Measure, Measure, Measure, Measure];
  const rate = (m: Measure) => m.events / m.seconds;
  const mibs = (m: Measure) => m.bytes / MiB / m.seconds;
  const ratio = (m: Measure) => (m.compressed === undefined ? '' : `${fmt(m.bytes / m.compressed, 1)}x`);

  const widths = [54, 10, 8, 7];
  console.log();
  console.log(row(['case', 'events/s', 'MiB/s', 'gzip'], widths));
  console.log(
    row(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
  );
  const cases: [string, Measure][] = [
    ['(a)  recorder, record → seal, synchronous loop', A],
    [`(a') recorder, record → seal, yielding every ${YIELD_EVERY} events`, AY],
    ['(b)  naive: keep all, JSON.stringify each, gzipSync', B],
    ['(c)  floor: JSON.stringify alone', C],
    ['(d)  floor: zlib.gzipSync of the JSONL alone', D],
  ];
  for (const [name, m] of cases) console.log(row([name, fmt(rate(m)), fmt(mibs(m), 1), ratio(m)], widths));

  const floor = Math.min(rate(C), rate(D));
  console.log();
  console.log(
    `recorder / min(c, d)   ${fmt(rate(A) / floor, 2)}   (yielding: ${fmt(rate(AY) / floor, 2)})   target >= ${TARGET_VS_FLOOR}`,
  );
  console.log(
    `recorder / naive       ${fmt(rate(A) / rate(B), 2)}   (yielding: ${fmt(rate(AY) / rate(B), 2)})   target >= ${TARGET_VS_NAIVE}`,
  );

  const events = Math.round(RSS_BYTES / avg);
  const rssRec = child('rss-recorder', '--events', events);
  const rssNaive = child('rss-naive', '--events', events);
  console.log();
  console.log(
    `peak RSS over baseline, ${fmt(events)} fresh events (${fmt(rssNaive.bytes / MiB)} MiB JSONL), one child process each:`,
  );
  console.log(
    `  recorder ${fmt(rssRec.peakOverBaseline / MiB, 1)} MiB   naive ${fmt(rssNaive.peakOverBaseline / MiB, 1)} MiB   ` +
      `recorder / naive ${fmt(rssRec.peakOverBaseline / rssNaive.peakOverBaseline, 2)}`,
  );

  if (full) {
    const f = child('full', '--bytes', FULL_BYTES);
    console.log();
    console.log(
      `--full: recorded ${fmt(f.bytes / MiB)} MiB (${fmt(f.events)} events); peak RSS over an empty recorder's ` +
        `${fmt(f.peakOverBaseline / MiB, 1)} MiB   target <= ${TARGET_FULL_RSS_MIB} MiB`,
    );
  }
}

// Only when run, not when another benchmark imports the workload.
if (import.meta.main) {
  const caseAt = process.argv.indexOf('--case');
  if (caseAt >= 0) {
    const countAt = Math.max(process.argv.indexOf('--events'), process.argv.indexOf('--bytes'));
    await childMain(process.argv[caseAt + 1] ?? '', Number(process.argv[countAt + 1]));
  } else {
    await main();
  }
}
