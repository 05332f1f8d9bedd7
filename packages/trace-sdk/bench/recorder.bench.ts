/**
 * Recorder benchmark: throughput and peak memory of record → serialize → gzip → spool → seal,
 * against the naive approach of the Python agent and against the physical floors, in one run.
 *
 *   (a) recorder      createTraceRecorder + record() per event + finish() (seals; no upload)
 *   (b) naive         keep every event object in an array, JSON.stringify each at the end, gzipSync the lot
 *   (c) floor 1       JSON.stringify of the same events, nothing else
 *   (d) floor 2       zlib.gzipSync of the same JSONL bytes at the spool's level, nothing else
 *   (e) floor 3       the two-core pipeline: stringify on one thread, gzip on two workers, two cores
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
import * as spoolModule from '../dist/spool/event-spool.js';
import { type Event, workload } from './workload.ts';

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
const TARGET_VS_TWO_CORE = 0.9;
const TARGET_CPU_PER_MIB = 1.15;
/** The spool's default zlib level (the floors gzip at the same level). */
const LEVEL: number = (spoolModule as { DEFAULT_LEVEL?: number }).DEFAULT_LEVEL ?? 6;
const TARGET_FULL_RSS_MIB = 64;

// ---- measurements --------------------------------------------------------------------------------

interface Measure {
  events: number;
  bytes: number;
  seconds: number;
  compressed?: number;
  /** CPU seconds of the whole process (every thread) during the run. */
  cpu?: number;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
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
    // The floors gzip at LEVEL: the recorder must too, whatever TRACE_COMPRESSION_LEVEL says.
    compressionLevel: LEVEL,
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
    const c0 = process.cpuUsage();
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
    return {
      events: res.events,
      bytes: res.uncompressedBytes,
      seconds,
      compressed: res.bytes,
      cpu: cpuSeconds(c0),
    };
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
  const c0 = process.cpuUsage();
  let bytes = 0;
  let events = 0;
  for (let r = 0; r < rounds; r++) {
    for (const e of pool) {
      bytes += JSON.stringify(e).length + 1;
      events++;
    }
  }
  return { events, bytes, seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(c0) };
}

/** (d): zlib.gzipSync (at the spool's level) of the same JSONL bytes, nothing else. */
function gzipRun(jsonl: Buffer, events: number): Measure {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const gz = gzipSync(jsonl, { level: LEVEL });
  return {
    events,
    bytes: jsonl.length,
    seconds: (performance.now() - t0) / 1000,
    compressed: gz.length,
    cpu: cpuSeconds(c0),
  };
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
    [`(d)  floor: zlib.gzipSync of the JSONL alone, level ${LEVEL}`, D],
  ];
  for (const [name, m] of cases) console.log(row([name, fmt(rate(m)), fmt(mibs(m), 1), ratio(m)], widths));

  const floor = Math.min(rate(C), rate(D));
  // (e) two-core pipeline floor: stringify on the main thread while gzip runs on two workers, all on
  // two cores. At rate T (MiB/s) stringify needs T/c of a core and gzip T/d: T/c + T/d <= 2 cores,
  // and T <= c (stringify is one thread). Computed from (c) and (d) of this run.
  const c = mibs(C);
  const d = mibs(D);
  const twoCore = Math.min(c, 2 / (1 / c + 1 / d));
  console.log(
    row(
      [
        '(e)  floor: two-core pipeline, min(c, 2 / (1/c + 1/d))',
        fmt((twoCore * MiB) / avg),
        fmt(twoCore, 1),
        '',
      ],
      widths,
    ),
  );
  // CPU per MiB: the recorder (every thread) against stringify + gzip alone.
  const cpuPerMiB = (m: Measure) => (m.cpu ?? m.seconds) / (m.bytes / MiB);
  const cpuRatio = cpuPerMiB(A) / (cpuPerMiB(C) + cpuPerMiB(D));
  console.log();
  console.log(
    `recorder / min(c, d)   ${fmt(rate(A) / floor, 2)}   (yielding: ${fmt(rate(AY) / floor, 2)})   target >= ${TARGET_VS_FLOOR}`,
  );
  console.log(
    `recorder / two-core floor   ${fmt(mibs(A) / twoCore, 2)}   (yielding: ${fmt(mibs(AY) / twoCore, 2)})   target >= ${TARGET_VS_TWO_CORE}`,
  );
  console.log(
    `recorder CPU per MiB / (stringify + gzip)   ${fmt(cpuRatio, 2)}   target <= ${TARGET_CPU_PER_MIB}`,
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

const caseAt = process.argv.indexOf('--case');
if (caseAt >= 0) {
  const countAt = Math.max(process.argv.indexOf('--events'), process.argv.indexOf('--bytes'));
  await childMain(process.argv[caseAt + 1] ?? '', Number(process.argv[countAt + 1]));
} else {
  await main();
}
