/**
 * The agent's thread (issue #13): what `record()` costs the caller, against the stream alternative,
 * and the compression-level table the default was chosen from.
 *
 *   1. A 64 MiB burst that never yields: per-call latency of `JSON.stringify` of each event (the
 *      reference), of `record()`, and of the stream alternative (`JSON.stringify` + `write` into a
 *      `zlib.createGzip()` stream, as pino or a hand-rolled gzip stream would), p50 / p99 / p99.9 / max.
 *   2. The same 64 MiB yielding every 100 events (an agent awaiting its model): event-loop delay
 *      (`monitorEventLoopDelay`) for the recorder and the stream alternative, side by side.
 *   3. Level table: for each zlib level, the recorder's throughput (record → seal, synchronous loop),
 *      the agent's thread time (sum of `record()` calls) and the gzip bytes.
 *
 * The recorder is built with the spool's `level` through the internal `createRecorderWithSpool`
 * (from dist) until the recorder takes a `compressionLevel` option of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { constants, createGzip } from 'node:zlib';
import { createRecorderWithSpool } from '../dist/record/recorder.js';
import * as spoolModule from '../dist/spool/event-spool.js';
import { type Event, workload } from './workload.ts';

const MiB = 1024 * 1024;
const BURST_BYTES = 64 * MiB;
const POOL_EVENTS = 2048;
const YIELD_EVERY = 100;
const LEVELS = [1, 2, 4, 6, 9];
/** The spool's default level (the baseline build has none: zlib's default). */
const DEFAULT_LEVEL: number = (spoolModule as { DEFAULT_LEVEL?: number }).DEFAULT_LEVEL ?? 6;
const TARGET_P99_VS_STRINGIFY = 2;
const TARGET_P999_MS = 2;
const TARGET_MAX_MS = 5;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Latency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  totalMs: number;
}

function summarize(samples: Float64Array, n: number): Latency {
  const s = samples.slice(0, n).sort();
  let total = 0;
  for (const x of s) total += x;
  return {
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s[n - 1] ?? 0,
    totalMs: total,
  };
}

function newRecorder(spoolDir: string, level: number) {
  const ids = { userId: 'bench-user', taskId: 'bench-task' };
  const spool = spoolModule.createEventSpool({
    spoolDir,
    key: `traces/${ids.userId}/${ids.taskId}.jsonl.gz`,
    level,
  });
  return createRecorderWithSpool({ ...ids, transport: null, spoolDir, maxBytes: 16 * 1024 * MiB }, spool);
}

/** Events of the burst: the pool cycled until `BURST_BYTES` of JSONL. */
function burstEvents(pool: Event[]): number {
  const bytes = pool.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
  return Math.ceil((BURST_BYTES / bytes) * pool.length);
}

async function burst(
  kind: 'stringify' | 'recorder' | 'stream',
  pool: Event[],
  count: number,
  level: number,
  yieldEvery = 0,
): Promise<{ latency: Latency; seconds: number; compressed: number; eld?: Latency }> {
  const samples = new Float64Array(count);
  const spoolDir = mkdtempSync(join(tmpdir(), 'agent-trace-bench-lat-'));
  const rec = kind === 'recorder' ? newRecorder(spoolDir, level) : undefined;
  let compressed = 0;
  const gz = kind === 'stream' ? createGzip({ level }) : undefined;
  gz?.on('data', (c: Buffer) => {
    compressed += c.length;
  });
  const eld = yieldEvery > 0 ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
  eld?.enable();
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const e = pool[i % pool.length]!;
    const a = performance.now();
    if (kind === 'stringify') sink += JSON.stringify(e).length;
    else if (kind === 'recorder') rec!.record(e);
    else gz!.write(`${JSON.stringify(e)}\n`);
    samples[i] = performance.now() - a;
    if (yieldEvery > 0 && i % yieldEvery === yieldEvery - 1) await new Promise((r) => setImmediate(r));
  }
  if (rec !== undefined) compressed = (await rec.finish()).bytes;
  if (gz !== undefined) await new Promise<void>((resolve) => gz.end(resolve));
  const seconds = (performance.now() - t0) / 1000;
  eld?.disable();
  rmSync(spoolDir, { recursive: true, force: true });
  if (sink < 0) console.log(sink);
  const out: { latency: Latency; seconds: number; compressed: number; eld?: Latency } = {
    latency: summarize(samples, count),
    seconds,
    compressed,
  };
  if (eld !== undefined) {
    const ms = (ns: number) => ns / 1e6;
    out.eld = {
      p50: ms(eld.percentile(50)),
      p99: ms(eld.percentile(99)),
      p999: ms(eld.percentile(99.9)),
      max: ms(eld.max),
      totalMs: 0,
    };
  }
  return out;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

function table(header: string[], rows: string[][], widths: number[]): void {
  console.log(row(header, widths));
  console.log(
    row(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
  );
  for (const r of rows) console.log(row(r, widths));
}

const ms = (x: number) => fmt(x, x < 1 ? 3 : 2);

async function main(): Promise<void> {
  const baseline = process.argv.includes('--baseline');
  const next = workload(7);
  const pool: Event[] = [];
  for (let i = 0; i < POOL_EVENTS; i++) pool.push(next());
  const count = burstEvents(pool);
  const level = DEFAULT_LEVEL;

  console.log("\n## Agent's thread: record() latency, event-loop delay and the compression level");
  console.log(
    `${fmt(count)} events, ${BURST_BYTES / MiB} MiB of JSONL per run, level ${level}; one run each (a shared machine is noisy: ` +
      `read ratios within this run); load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.availableParallelism()} CPUs`,
  );
  // Warm-up: JIT every path, start the worker pool.
  for (const kind of ['stringify', 'recorder', 'stream'] as const) await burst(kind, pool, 512, level);

  const s = await burst('stringify', pool, count, level);
  const r = await burst('recorder', pool, count, level);
  const st = await burst('stream', pool, count, level);
  console.log();
  console.log('64 MiB burst that never yields: latency of each call (ms)');
  const w = [46, 8, 8, 8, 8, 10];
  table(
    ['case', 'p50', 'p99', 'p99.9', 'max', 'total'],
    [
      ['JSON.stringify(event) (reference)', s],
      ['recorder.record(event)', r],
      ['stream: stringify + gzip.write (level same)', st],
    ].map(([name, m]) => {
      const l = (m as typeof s).latency;
      return [name as string, ms(l.p50), ms(l.p99), ms(l.p999), ms(l.max), fmt(l.totalMs, 0)];
    }),
    w,
  );
  console.log();
  console.log(
    `record() p99 / stringify p99   ${fmt(r.latency.p99 / s.latency.p99, 2)}   target <= ${TARGET_P99_VS_STRINGIFY}`,
  );
  console.log(`record() p99.9 (ms)            ${fmt(r.latency.p999, 2)}   target <= ${TARGET_P999_MS}`);
  console.log(`record() max (ms)              ${fmt(r.latency.max, 2)}   target <= ${TARGET_MAX_MS}`);

  const ry = await burst('recorder', pool, count, level, YIELD_EVERY);
  const sy = await burst('stream', pool, count, level, YIELD_EVERY);
  console.log();
  console.log(
    `the same 64 MiB yielding every ${YIELD_EVERY} events: event-loop delay (monitorEventLoopDelay, ms)`,
  );
  table(
    ['case', 'p50', 'p99', 'p99.9', 'max', 'MiB/s'],
    [
      ['recorder', ry],
      ['stream: stringify + gzip.write', sy],
    ].map(([name, m]) => {
      const e = (m as typeof ry).eld!;
      return [
        name as string,
        ms(e.p50),
        ms(e.p99),
        ms(e.p999),
        ms(e.max),
        fmt(BURST_BYTES / MiB / (m as typeof ry).seconds, 1),
      ];
    }),
    w,
  );

  if (baseline) return;
  console.log();
  console.log('level table: recorder, synchronous loop, record → seal (one run per level)');
  const rows: string[][] = [];
  for (const lv of LEVELS) {
    const m = await burst('recorder', pool, count, lv);
    rows.push([
      `${lv}${lv === level ? ' (default)' : ''}${lv === constants.Z_DEFAULT_COMPRESSION || lv === 6 ? ' (zlib default)' : ''}`,
      fmt(BURST_BYTES / MiB / m.seconds, 1),
      fmt(m.latency.totalMs, 0),
      ms(m.latency.p999),
      fmt(m.compressed / MiB, 2),
      `${fmt(BURST_BYTES / m.compressed, 2)}x`,
    ]);
  }
  table(['level', 'MiB/s', 'record() ms', 'p99.9 ms', 'gzip MiB', 'ratio'], rows, [26, 8, 12, 9, 9, 7]);
}

await main();
