/**
 * Redaction benchmark: redaction's share of `record()` time on the recorder benchmark's realistic
 * mix, printed next to its target (issue #13: at most 15%, with the rule set of issue #10).
 *
 *   record()      the time of a loop of `record()` calls (serialize, redact, truncate, spool; the
 *                 inline compression the spool does when its worker falls behind included)
 *   redaction     the time of `Redactor.redact` over every string and key those calls redact
 *   ablation      `record()` again with `Redactor.prototype.redact` replaced by the identity: the
 *                 difference is what redaction costs inside `record()` (a cross-check of the direct
 *                 measurement, noisier because it is a difference of two timings)
 *
 * Times are CPU time of the agent's (main) thread (`process.threadCpuUsage`), not wall time: on a
 * shared, loaded machine wall time mostly measures the scheduler, and the compression worker's CPU
 * is not `record()`'s. Best of several interleaved rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTraceRecorder } from '@agent-trace/trace-sdk';
// The built module the root entry itself loads, so patching its prototype reaches the recorder.
import { Redactor } from '../dist/serialize/redact.js';
import { workload } from './workload.ts';

const MiB = 1024 * 1024;
const POOL_EVENTS = 2048;
/** Uncompressed JSONL per round (about). */
const ROUND_BYTES = 16 * MiB;
const ROUNDS = 7;
/** From issue #13. */
const TARGET_SHARE = 0.15;

type Event = Record<string, unknown>;

/** Every string the recorder redacts for `events`: string values, and each distinct key once (it caches keys). */
function redactedStrings(events: readonly Event[]): string[] {
  const out: string[] = [];
  const keys = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (!keys.has(k)) {
          keys.add(k);
          out.push(k);
        }
        walk(x);
      }
    }
  };
  for (const e of events) walk(e);
  return out;
}

/** CPU seconds of this thread since `since` (a `process.threadCpuUsage()` reading). */
function cpuSince(since: NodeJS.CpuUsage): number {
  const d = process.threadCpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** Main-thread CPU seconds spent in `record()` for `rounds` passes over `pool` (finish() not counted). */
async function recordTime(pool: readonly Event[], rounds: number): Promise<number> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'agent-trace-bench-redaction-'));
  try {
    const rec = createTraceRecorder({
      userId: 'bench-user',
      taskId: 'bench-task',
      transport: null,
      spoolDir,
      maxBytes: 16 * 1024 * MiB,
    });
    const t0 = process.threadCpuUsage();
    for (let r = 0; r < rounds; r++) for (const e of pool) rec.record(e as never);
    const seconds = cpuSince(t0);
    await rec.finish();
    return seconds;
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

function redactTime(strings: readonly string[], rounds: number): { seconds: number; replaced: number } {
  const redactor = new Redactor();
  const t0 = process.threadCpuUsage();
  for (let r = 0; r < rounds; r++) for (const s of strings) redactor.redact(s);
  return { seconds: cpuSince(t0), replaced: redactor.count / rounds };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

async function main(): Promise<void> {
  const next = workload(7);
  const pool: Event[] = [];
  for (let i = 0; i < POOL_EVENTS; i++) pool.push(next());
  const poolBytes = pool.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
  const rounds = Math.max(1, Math.round(ROUND_BYTES / poolBytes));
  const strings = redactedStrings(pool);
  const stringChars = strings.reduce((n, s) => n + s.length, 0);

  console.log("\n## Redaction: its share of record() time (issue #13), with issue #10's rule set");
  console.log(
    `workload: the recorder benchmark's mix, ${fmt(pool.length * rounds)} events per round ` +
      `(${fmt((poolBytes * rounds) / MiB, 1)} MiB JSONL, ${fmt(strings.length * rounds)} strings and keys, ` +
      `${fmt((stringChars * rounds) / MiB, 1)} Mi characters redacted); best of ${ROUNDS} interleaved rounds`,
  );

  // Warm-up: JIT every path once.
  await recordTime(pool.slice(0, 256), 1);
  redactTime(strings.slice(0, 2048), 1);

  const original = Redactor.prototype.redact;
  const identity = function (this: Redactor, s: string): string {
    return s;
  };
  let withRedaction = Number.POSITIVE_INFINITY;
  let withoutRedaction = Number.POSITIVE_INFINITY;
  let redaction = Number.POSITIVE_INFINITY;
  let replaced = 0;
  for (let i = 0; i < ROUNDS; i++) {
    withRedaction = Math.min(withRedaction, await recordTime(pool, rounds));
    Redactor.prototype.redact = identity;
    try {
      withoutRedaction = Math.min(withoutRedaction, await recordTime(pool, rounds));
    } finally {
      Redactor.prototype.redact = original;
    }
    const r = redactTime(strings, rounds);
    redaction = Math.min(redaction, r.seconds);
    replaced = r.replaced;
  }

  const share = redaction / withRedaction;
  const ablation = Math.max(0, withRedaction - withoutRedaction) / withRedaction;
  console.log();
  console.log(`record() loop                         ${fmt(withRedaction * 1000)} ms CPU`);
  console.log(`record() loop, redaction disabled     ${fmt(withoutRedaction * 1000)} ms CPU`);
  console.log(
    `Redactor.redact over the same strings ${fmt(redaction * 1000)} ms CPU  ` +
      `(${fmt((stringChars * rounds) / MiB / redaction)} Mi chars/s, ${fmt(replaced)} secrets replaced per round)`,
  );
  console.log();
  console.log(
    `redaction share of record()   ${pct(share)}   (ablation: ${pct(ablation)})   target <= ${pct(TARGET_SHARE)}   ` +
      (share <= TARGET_SHARE ? 'met' : 'MISSED'),
  );
}

await main();
