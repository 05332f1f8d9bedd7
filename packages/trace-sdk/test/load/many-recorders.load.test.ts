/**
 * Load: 200 recorders in one process share one compression worker pool. Each records ~1.6 MiB
 * (past one batch, so each has compressed on a worker), interleaved; the process's thread count must
 * grow by the pool (and libuv's threadpool) at most, not by a thread per recorder. Prints the thread
 * count and peak RSS, which docs/performance.md quotes (before the shared pool: 207 threads, 2.5 GiB).
 *
 * Run with `pnpm test:load` (not part of CI). Linux only (reads /proc/self/status).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GZIP_POOL_SIZE, gzipPoolStats } from '../../src/compress/gzip-pool.js';
import { createTraceRecorder } from '../../src/index.js';
import { tempDir } from '../reliability/support.js';

const RECORDERS = 200;
/** libuv's default threadpool (fs and the header's gzip use it), started on first use. */
const LIBUV_THREADS = 4;

function threads(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
}

describe.runIf(process.platform === 'linux')(`${RECORDERS} recorders in one process`, () => {
  let spool: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    spool = await tempDir('agent-trace-many-');
  });
  afterAll(async () => {
    await spool?.remove();
  });

  it('share one compression pool: threads grow by the pool, not by recorder', async () => {
    const before = threads();
    const startedBefore = gzipPoolStats().started;
    const pad = 'x'.repeat(2000);
    const recs = Array.from({ length: RECORDERS }, (_, i) =>
      createTraceRecorder({ userId: 'load-user', taskId: `task-${i}`, transport: null, spoolDir: spool.dir }),
    );
    let peak = before;
    for (let round = 0; round < 8; round++) {
      for (const rec of recs)
        for (let j = 0; j < 100; j++) rec.record({ event: 'E', round, j, pad: pad + j });
      peak = Math.max(peak, threads());
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const results = await Promise.all(recs.map((rec) => rec.finish()));
    peak = Math.max(peak, threads());
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(
      JSON.stringify({
        recorders: RECORDERS,
        threadsBefore: before,
        peakThreads: peak,
        peakRssMiB,
        pool: gzipPoolStats(),
      }),
    );
    expect(results.every((r) => r.status === 'skipped' && r.events === 800)).toBe(true);
    expect(gzipPoolStats().started - startedBefore).toBeLessThanOrEqual(GZIP_POOL_SIZE);
    expect(peak - before).toBeLessThanOrEqual(GZIP_POOL_SIZE + LIBUV_THREADS);
    // One thread per recorder cost ~2.5 GiB here; the shared pool leaves the batch buffers (~1.3 MiB each).
    expect(peakRssMiB).toBeLessThan(1024);
  });
});
