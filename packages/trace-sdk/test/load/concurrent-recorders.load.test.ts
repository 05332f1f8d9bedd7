/**
 * Load: 100 recorders in one process, each recording its own trace and uploading it at the same
 * time to the local S3, through all four network transports (25 each), while the S3 throws in a
 * few 500s and resets. Every trace lands intact, exactly once, at its own key.
 *
 * Run with `pnpm test:load` (not part of CI).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTraceRecorder, userPrefix } from '../../src/index.js';
import {
  expectOneIntactObject,
  FAST_RETRY,
  freshIds,
  NETWORK_HARNESSES,
  recordWorkload,
  startWorld,
  tempDir,
  type World,
} from '../reliability/support.js';

const RECORDERS = 100;

describe(`${RECORDERS} recorders uploading concurrently`, () => {
  let world: World;
  let spool: { dir: string; remove: () => Promise<void> };

  beforeAll(async () => {
    world = await startWorld();
    // The uploader Lambda logs a line per request: 25 of them are noise here.
    vi.spyOn(console, 'log').mockImplementation(() => {});
    spool = await tempDir('agent-trace-load-');
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await spool?.remove();
    await world?.close();
  });

  it('lands every trace intact, once, at its own key', async () => {
    const runs = await Promise.all(
      Array.from({ length: RECORDERS }, async (_, i) => {
        const harness = NETWORK_HARNESSES[i % NETWORK_HARNESSES.length]!;
        const ids = freshIds(`load${i}`);
        const transport = await harness.build(world, ids, {
          retry: { ...FAST_RETRY, retries: 8, deadlineMs: 120_000 },
        });
        const rec = createTraceRecorder({
          userId: ids.userId,
          taskId: ids.taskId,
          transport,
          spoolDir: spool.dir,
        });
        return { ids, rec, harness: harness.name };
      }),
    );
    // Interleaved, as concurrent agents would record: a slice of each trace in turn.
    for (let round = 0; round < 5; round++) {
      for (const [i, run] of runs.entries()) recordWorkload(run.rec, i * 10 + round);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // Some turbulence while all 100 upload at once.
    world.s3.faults.failNext(10, { status: 500, code: 'InternalError', match: { method: 'PUT' } });
    world.s3.faults.resetNext(5, { afterBodyBytes: 8 * 1024, match: { method: 'PUT' } });

    const results = await Promise.all(runs.map((run) => run.rec.finish()));
    for (const [i, result] of results.entries()) {
      const run = runs[i]!;
      expect(result.error, `${run.harness} #${i}: ${result.error?.message}`).toBeUndefined();
      expect(result.status).toBe('uploaded');
      await expectOneIntactObject(world, run.ids, result);
    }
    expect(await world.keys('traces/')).toHaveLength(RECORDERS);
    for (const run of runs) expect(await world.keys(userPrefix(run.ids.userId))).toEqual([run.ids.key]);
    expect(world.s3.faults.pending).toBe(0);
  });
});
