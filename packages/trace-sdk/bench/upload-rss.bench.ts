/**
 * Memory benchmark: peak RSS of a whole task (record → seal → presigned PUT upload) against the
 * trace's size. Each size runs in a child process of its own, recording a realistic event mix until
 * the JSONL reaches the size, then uploading it to a local S3 (another process, storing on disk).
 * The peak is the child's `maxRSS`; the baseline its RSS after loading the SDK and recording a
 * first event. Bounded memory means the peak does not grow with the trace. Two figures: the growth
 * of the peak from the smallest trace to the largest, and from the second size to the largest (4x
 * the data, once V8 has sized its heap: the target applies to this one).
 *
 * Every size runs twice: with Node's default flags (what an agent gets), and with V8's old space
 * capped at 96 MiB. Under default flags V8 grows its heap lazily as short-lived strings get promoted,
 * so RSS climbs to a plateau that says more about V8's sizing than about what the SDK holds; the
 * capped run completing with a flat peak shows the live set itself is bounded.
 *
 * Sizes: 64 MiB, 256 MiB and 1 GiB of uncompressed JSONL (and 4 GiB with `--full`).
 *
 * Child mode (used by the parent): --child --bytes <n> --endpoint <url> --region <r>
 * With AGENT_TRACE_BENCH_RESULTS=<dir>, the numbers are also written to <dir>/upload-rss.json.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTraceRecorder, presignedPutTransport } from '@agent-trace/trace-sdk';
import { createTraceS3Client, createTraceUploadUrl } from '@agent-trace/trace-sdk/orchestrator';
import { LOCAL_S3_CREDENTIALS } from '@agent-trace/trace-sdk-testing';
import { rng } from './prng.ts';

const MiB = 1024 * 1024;
/** `--full` (passed on by `pnpm bench --full`) adds a 4 GiB trace, to see the plateau. */
const SIZES = [64 * MiB, 256 * MiB, 1024 * MiB, ...(process.argv.includes('--full') ? [4096 * MiB] : [])];
/** Peak growth allowed from the second size to the largest (4x the data or more): flat, within noise. */
const TARGET_GROWTH_MIB = 32;
/** The two ways each size runs. */
const MODES = [
  { name: 'default', label: 'default flags', flags: [] as string[] },
  { name: 'capped', label: 'old space capped at 96 MiB', flags: ['--max-old-space-size=96'] },
] as const;
const BUCKET = 'bench-traces';
const here = dirname(fileURLToPath(import.meta.url));

interface ChildResult {
  readonly bytes: number;
  readonly events: number;
  readonly compressedBytes: number;
  readonly baselineRss: number;
  /** maxRSS when recording ended, before sealing and uploading. */
  readonly recordPeakRss: number;
  readonly peakRss: number;
  readonly recordSeconds: number;
  readonly uploadSeconds: number;
}

// ---- workload ------------------------------------------------------------------------------------

const WORDS = (
  'the of and to in is that for it as with be on not this are or from at which but have an you were there ' +
  'file function error test value return result request response server client config build module import ' +
  'string number object array promise async await const type interface class method property parameter ' +
  'retry upload download parse format validate handle throw catch timeout deadline bucket key trace event'
).split(' ');

/** A pool of turns, tool results and policy events, ~2-6 KB each, gzip ratio about 4:1. */
function eventPool(count: number): Record<string, unknown>[] {
  const next = rng(42);
  const words = (n: number) =>
    Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');
  const pool: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 3)
      pool.push({ event: 'POLICY_DECISION', tool_name: 'bash', allowed: next() > 0.1, reason: words(12) });
    else
      pool.push({
        event: 'TRAJECTORY_TURN',
        turn: i,
        model: 'claude-test',
        thinking: words(150 + Math.floor(next() * 300)),
        text: words(50 + Math.floor(next() * 150)),
        tool_calls: [{ id: `toolu_${hex(24)}`, name: 'read_file', input: { path: `src/${hex(8)}.ts` } }],
        tool_results: [
          { tool_use_id: `toolu_${hex(24)}`, is_error: false, content: `${words(100)} ${hex(200)}` },
        ],
      });
  }
  return pool;
}

// ---- child ---------------------------------------------------------------------------------------

async function child(bytes: number, endpoint: string, region: string): Promise<void> {
  const pool = eventPool(2048);
  const spoolDir = mkdtempSync(join(tmpdir(), 'agent-trace-bench-rss-'));
  try {
    const s3 = await createTraceS3Client({
      endpoint,
      region,
      credentials: { ...LOCAL_S3_CREDENTIALS },
      forcePathStyle: true,
    });
    const ids = { userId: 'bench-user', taskId: `01JBENCHRSS${String(bytes).padStart(13, '0')}` };
    const transport = presignedPutTransport({
      url: async ({ byteLength, sha256 }) =>
        createTraceUploadUrl({
          s3,
          bucket: BUCKET,
          ...ids,
          expiresIn: 3600,
          contentLength: byteLength,
          sha256,
          maxBytes: 5 * 1024 ** 3,
        }),
    });
    const rec = createTraceRecorder({ ...ids, transport, spoolDir, maxBytes: 16 * 1024 * MiB });
    rec.record(pool[0]!);
    const baselineRss = process.memoryUsage.rss();
    const t0 = performance.now();
    let n = 1;
    while (rec.stats().bytes < bytes) {
      rec.record(pool[n % pool.length]!);
      // An agent awaits its model between events; let finished compression land now and then.
      if (++n % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const t1 = performance.now();
    const recordPeakRss = process.resourceUsage().maxRSS * 1024;
    const result = await rec.finish();
    const t2 = performance.now();
    if (result.status !== 'uploaded')
      throw new Error(`upload failed: ${result.error?.message ?? result.status}`);
    const out: ChildResult = {
      bytes: result.uncompressedBytes,
      events: result.events,
      compressedBytes: result.bytes,
      baselineRss,
      recordPeakRss,
      peakRss: process.resourceUsage().maxRSS * 1024,
      recordSeconds: (t1 - t0) / 1000,
      uploadSeconds: (t2 - t1) / 1000,
    };
    console.log(JSON.stringify(out));
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

// ---- parent --------------------------------------------------------------------------------------

async function startServer(
  dir: string,
): Promise<{ endpoint: string; region: string; stop(): Promise<void> }> {
  const server: ChildProcess = spawn(process.execPath, [join(here, 'upload-s3-server.ts'), '--dir', dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    server.stdout!.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    server.once('exit', (code) => reject(new Error(`the local S3 exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  return {
    ...(JSON.parse(line) as { endpoint: string; region: string }),
    stop: () => {
      server.stdin!.end();
      return exited;
    },
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'agent-trace-bench-rss-s3-'));
  const server = await startServer(work);
  try {
    const results: Record<(typeof MODES)[number]['name'], ChildResult[]> = { default: [], capped: [] };
    for (const bytes of SIZES) {
      for (const mode of MODES) {
        const res = spawnSync(
          process.execPath,
          [
            ...mode.flags,
            fileURLToPath(import.meta.url),
            '--child',
            '--bytes',
            String(bytes),
            '--endpoint',
            server.endpoint,
            '--region',
            server.region,
          ],
          { encoding: 'utf8', maxBuffer: 16 * MiB },
        );
        if (res.status !== 0)
          throw new Error(`child (${mode.label}) for ${bytes} bytes failed: ${res.stderr}`);
        results[mode.name].push(JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as ChildResult);
      }
    }

    console.log('\n## Memory: peak RSS vs trace size (record → seal → presigned PUT, one process per size)');
    console.log(
      'realistic event mix, yielding every 256 events; local S3 in another process, storing on disk',
    );
    console.log();
    const head = [
      'JSONL',
      'events',
      'gzip',
      'record s',
      'upload s',
      'peak RSS',
      'over baseline',
      'of it recording',
      'capped heap',
    ];
    const widths = [9, 10, 10, 8, 8, 10, 13, 15, 11];
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(line(head));
    console.log(line(widths.map((w) => '-'.repeat(w))));
    results.default.forEach((r, i) => {
      const capped = results.capped[i]!;
      console.log(
        line([
          `${fmt(r.bytes / MiB)} MiB`,
          fmt(r.events),
          `${fmt(r.compressedBytes / MiB, 1)} MiB`,
          fmt(r.recordSeconds, 1),
          fmt(r.uploadSeconds, 1),
          `${fmt(r.peakRss / MiB, 1)} MiB`,
          `${fmt((r.peakRss - r.baselineRss) / MiB, 1)} MiB`,
          `${fmt((r.recordPeakRss - r.baselineRss) / MiB, 1)} MiB`,
          `${fmt((capped.peakRss - capped.baselineRss) / MiB, 1)} MiB`,
        ]),
      );
    });
    const peakOver = (r: ChildResult) => r.peakRss - r.baselineRss;
    const growth = (rs: ChildResult[], from: number) =>
      (peakOver(rs[rs.length - 1]!) - peakOver(rs[from]!)) / MiB;
    const growthMiB = {
      default: { fromSmallest: growth(results.default, 0), afterWarmup: growth(results.default, 1) },
      capped: { fromSmallest: growth(results.capped, 0), afterWarmup: growth(results.capped, 1) },
    };
    const sizes = results.default.map((r) => r.bytes);
    const mib = (b: number) => `${fmt(b / MiB)} MiB`;
    console.log();
    console.log(
      `"over baseline": default flags, whole task; "of it recording": the peak before finish(); ` +
        `"capped heap": the whole task with --max-old-space-size=96`,
    );
    for (const mode of MODES) {
      const g = growthMiB[mode.name];
      console.log(
        `${mode.label}: peak over baseline grows ${fmt(g.fromSmallest, 1)} MiB from ${mib(sizes[0]!)} to ` +
          `${mib(sizes[sizes.length - 1]!)}, ${fmt(g.afterWarmup, 1)} MiB from ${mib(sizes[1]!)}   ` +
          `target <= ${TARGET_GROWTH_MIB} MiB from ${mib(sizes[1]!)}`,
      );
    }

    const out = process.env['AGENT_TRACE_BENCH_RESULTS'];
    if (out !== undefined && out !== '') {
      writeFileSync(
        join(out, 'upload-rss.json'),
        JSON.stringify(
          {
            targetGrowthMiB: TARGET_GROWTH_MIB,
            growthMiB,
            results,
          },
          null,
          2,
        ),
      );
    }
  } finally {
    // The server stores under `work`: remove it once the server is gone.
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const argv = process.argv;
if (argv.includes('--child')) {
  const arg = (name: string) => argv[argv.indexOf(name) + 1] ?? '';
  await child(Number(arg('--bytes')), arg('--endpoint'), arg('--region'));
} else {
  await main();
}
