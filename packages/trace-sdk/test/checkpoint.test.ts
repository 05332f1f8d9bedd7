/**
 * Checkpoint uploads (`checkpoints` option): the trace so far reaches its key on a geometric
 * schedule as a complete artifact marked partial, within the stated byte bound, without ever
 * blocking `record()`, and the final upload replaces it. Driven through `createRecorderWithSpool`
 * with an in-memory spool that has `flush` and `snapshot`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, type TraceArtifact, type TraceTransport, type UploadReceipt } from '../src/index.js';
import { createRecorderWithSpool } from '../src/record/recorder.js';
import { memoryTransport, readAll, readBack } from './recorder-support.js';
import { snapshotSpool } from './reliability/fixtures/snapshot-spool.js';

const IDS = { userId: 'user-ckpt', taskId: '01JCHECKPOINT' };

/** Filler that compresses about 2:1, so sizes move like a real trace's. */
function payload(n: number): string {
  let s = '';
  let x = (n + 1) * 2654435761;
  while (s.length < 200) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s += (x >>> 0).toString(16);
  }
  return s.slice(0, 200);
}

/** Records `rounds` rounds of `perRound` events, yielding `pauseMs` between rounds (an agent awaiting its model). */
async function recordRounds(
  rec: { record(e: Record<string, unknown>): boolean },
  rounds: number,
  perRound: number,
  pauseMs: number,
): Promise<number> {
  let n = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < perRound; i++) rec.record({ event: 'STEP', n: n, payload: payload(n++) });
    await sleep(pauseMs);
  }
  return n;
}

async function headerOf(body: Buffer) {
  return (await readBack(body)).header;
}

describe('checkpoint uploads', () => {
  it('PUT the trace so far to its key as complete artifacts marked partial; the final upload replaces them', async () => {
    const transport = memoryTransport();
    const spool = snapshotSpool({ batchBytes: 16 * 1024 });
    const rec = createRecorderWithSpool(
      { ...IDS, transport, checkpoints: { intervalMs: 20, growth: 2 } },
      spool,
    );
    const recorded = await recordRounds(rec, 40, 50, 10);
    const result = await rec.finish();
    expect(result.status).toBe('uploaded');
    expect(result.events).toBe(recorded);

    const uploads = transport.uploads;
    expect(uploads.length).toBeGreaterThan(2);
    expect(new Set(uploads.map((u) => u.key))).toEqual(new Set([rec.key]));
    const checkpoints = uploads.slice(0, -1);
    let previous = 0;
    for (const [i, upload] of checkpoints.entries()) {
      const { header, events } = await readBack(upload.body);
      // Complete and exact: the header counts are the lines that follow, seq dense from 0.
      expect(header).toMatchObject({ partial: true, checkpoint: i + 1, accumulated_events: events.length });
      for (const [seq, e] of events.entries()) expect(e).toMatchObject({ seq, n: seq });
      expect(events.length).toBeGreaterThan(previous);
      previous = events.length;
    }
    const final = await readBack(uploads.at(-1)!.body);
    expect(final.header).not.toHaveProperty('partial');
    expect(final.header).not.toHaveProperty('checkpoint');
    expect(final.events).toHaveLength(recorded);
    expect(result.checkpoints).toMatchObject({ uploaded: checkpoints.length, failed: 0 });
  });

  it.each([1.5, 2, 3])(
    'keeps checkpoint bytes within growth / (growth - 1) of the final size (growth %d)',
    async (growth) => {
      const transport = memoryTransport();
      const rec = createRecorderWithSpool(
        { ...IDS, transport, checkpoints: { intervalMs: 5, growth } },
        snapshotSpool({ batchBytes: 8 * 1024 }),
      );
      await recordRounds(rec, 120, 20, 3);
      const result = await rec.finish();
      const checkpointBytes = transport.uploads.slice(0, -1).reduce((sum, u) => sum + u.body.byteLength, 0);
      const finalBytes = result.bytes;
      expect(result.checkpoints?.bytes).toBe(checkpointBytes);
      expect(checkpointBytes).toBeLessThanOrEqual((growth / (growth - 1)) * finalBytes);
      // Geometric: each checkpoint at least `growth - 1` times all earlier ones together.
      let spent = 0;
      for (const u of transport.uploads.slice(0, -1)) {
        expect(u.body.byteLength).toBeGreaterThanOrEqual((growth - 1) * spent);
        spent += u.body.byteLength;
      }
      console.log(
        `checkpoints growth ${growth}: ${transport.uploads.length - 1} checkpoints, ` +
          `${checkpointBytes} B against a final ${finalBytes} B (${(checkpointBytes / finalBytes).toFixed(2)}x, bound ${(growth / (growth - 1)).toFixed(2)}x)`,
      );
    },
  );

  it('never blocks record(): lines recorded during a slow flush are held, then appended in order', async () => {
    const transport = memoryTransport();
    const spool = snapshotSpool();
    let open: () => void = () => {};
    spool.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const rec = createRecorderWithSpool({ ...IDS, transport, checkpoints: { intervalMs: 10 } }, spool);
    for (let i = 0; i < 10; i++) rec.record({ event: 'STEP', n: i });
    // The first checkpoint is now waiting on the flush; recording goes on meanwhile.
    while (spool.calls.flush === 0) await sleep(5);
    for (let i = 10; i < 25; i++) expect(rec.record({ event: 'STEP', n: i })).toBe(true);
    spool.gate = undefined;
    open();
    while (transport.uploads.length === 0) await sleep(5);
    const checkpoint = await readBack(transport.uploads[0]!.body);
    // Exactly the lines recorded before the checkpoint began.
    expect(checkpoint.header).toMatchObject({ partial: true, accumulated_events: 10 });
    expect(checkpoint.events.map((e) => e['n'])).toEqual([...Array(10).keys()]);
    const result = await rec.finish();
    const final = await readBack(transport.uploads.at(-1)!.body);
    expect(result.events).toBe(25);
    expect(final.events.map((e) => e['n'])).toEqual([...Array(25).keys()]);
  });

  it('finishes with every line even when a checkpoint is stuck in a spool flush that never returns', async () => {
    const transport = memoryTransport();
    const spool = snapshotSpool();
    spool.gate = new Promise<void>(() => {});
    const rec = createRecorderWithSpool({ ...IDS, transport, checkpoints: { intervalMs: 10 } }, spool);
    for (let i = 0; i < 10; i++) rec.record({ event: 'STEP', n: i });
    while (spool.calls.flush === 0) await sleep(5);
    for (let i = 10; i < 15; i++) rec.record({ event: 'STEP', n: i });
    const result = await rec.finish();
    expect(result.status).toBe('uploaded');
    expect(transport.uploads).toHaveLength(1);
    const final = await readBack(transport.uploads[0]!.body);
    expect(final.events.map((e) => e['n'])).toEqual([...Array(15).keys()]);
  });

  it('lets no checkpoint land after the final upload: finish aborts one in flight and waits for it', async () => {
    const stored: Array<{ partial: boolean; at: number }> = [];
    let inFlight = 0;
    const transport: TraceTransport = {
      name: 'slow-checkpoints',
      async upload(artifact: TraceArtifact, opts): Promise<UploadReceipt> {
        const header = await headerOf(await readAll(artifact.open()));
        if (header['partial'] === true) {
          inFlight++;
          // A checkpoint that takes far longer than the task: only the abort ends it.
          await new Promise<void>((resolve, reject) => {
            opts.signal?.addEventListener('abort', () => reject(opts.signal?.reason), { once: true });
            setTimeout(resolve, 60_000).unref();
          });
        }
        stored.push({ partial: header['partial'] === true, at: performance.now() });
        return { key: artifact.key };
      },
    };
    const rec = createRecorderWithSpool(
      { ...IDS, transport, checkpoints: { intervalMs: 10 } },
      snapshotSpool(),
    );
    rec.record({ event: 'STEP', n: 0 });
    while (inFlight === 0) await sleep(5);
    const result = await rec.finish({ timeoutMs: 10_000 });
    expect(result.status).toBe('uploaded');
    expect(stored).toEqual([{ partial: false, at: expect.any(Number) }]);
    expect(result.checkpoints).toMatchObject({ uploaded: 0, failed: 1 });
  });

  it('lets no checkpoint land after the final upload even when its transport commits after the abort', async () => {
    // Like a file transport aborted between its fsync and its rename, or a PUT whose body S3 already
    // has: the abort comes too late to stop the write, which lands a moment later.
    const stored: boolean[] = [];
    let inFlight = 0;
    const transport: TraceTransport = {
      name: 'late-commit',
      async upload(artifact: TraceArtifact, opts): Promise<UploadReceipt> {
        const header = await headerOf(await readAll(artifact.open()));
        if (header['partial'] === true) {
          inFlight++;
          await new Promise<void>((resolve) => {
            opts.signal?.addEventListener('abort', () => resolve(), { once: true });
            setTimeout(resolve, 60_000).unref();
          });
          await sleep(200);
        }
        stored.push(header['partial'] === true);
        return { key: artifact.key };
      },
    };
    const rec = createRecorderWithSpool(
      { ...IDS, transport, checkpoints: { intervalMs: 10 } },
      snapshotSpool(),
    );
    rec.record({ event: 'STEP', n: 0 });
    while (inFlight === 0) await sleep(5);
    const result = await rec.finish({ timeoutMs: 10_000 });
    expect(result.status).toBe('uploaded');
    await sleep(400);
    // What the key holds is the last write: it must be the final trace, not the checkpoint.
    expect(stored).toEqual([true, false]);
  });

  it('keeps a short finish deadline when a checkpoint transport ignores the abort', async () => {
    let inFlight = 0;
    const transport: TraceTransport = {
      name: 'deaf-checkpoints',
      async upload(artifact: TraceArtifact): Promise<UploadReceipt> {
        const header = await headerOf(await readAll(artifact.open()));
        if (header['partial'] === true) {
          inFlight++;
          // Never settles, whatever its signal says.
          await new Promise<void>(() => {});
        }
        return { key: artifact.key };
      },
    };
    const rec = createRecorderWithSpool(
      { ...IDS, transport, checkpoints: { intervalMs: 10 } },
      snapshotSpool(),
    );
    rec.record({ event: 'STEP', n: 0 });
    while (inFlight === 0) await sleep(5);
    const started = performance.now();
    const result = await rec.finish({ timeoutMs: 400 });
    expect(result.status).toBe('uploaded');
    // A quarter of the 400 ms deadline, not the 5 s a stuck spool flush may take.
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('asks the URL or grant provider anew for each checkpoint (each is its own artifact)', async () => {
    const seen: TraceArtifact[] = [];
    const transport: TraceTransport = {
      name: 'minting',
      async upload(artifact) {
        seen.push(artifact);
        await readAll(artifact.open());
        return { key: artifact.key };
      },
    };
    const rec = createRecorderWithSpool(
      { ...IDS, transport, checkpoints: { intervalMs: 10, growth: 1.5 } },
      snapshotSpool({ batchBytes: 4096 }),
    );
    await recordRounds(rec, 20, 20, 8);
    await rec.finish();
    expect(seen.length).toBeGreaterThan(2);
    // A new artifact object per checkpoint: a transport's per-artifact URL cache never serves an old URL.
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('reports checkpoints as unavailable when the spool cannot snapshot, and uploads only the final', async () => {
    const transport = memoryTransport();
    const { snapshot: _s, flush: _f, ...plain } = snapshotSpool();
    const rec = createRecorderWithSpool(
      { ...IDS, transport, checkpoints: { intervalMs: 5 } },
      Object.defineProperty(plain, 'uncompressedBytes', { get: () => 1 }) as never,
    );
    rec.record({ event: 'STEP' });
    await sleep(30);
    const result = await rec.finish();
    expect(transport.uploads).toHaveLength(1);
    expect(result.checkpoints?.unavailable).toContain('snapshot');
  });

  it('is off by default, and validates its options', () => {
    const transport = memoryTransport();
    expect(createRecorderWithSpool({ ...IDS, transport }, snapshotSpool())).toBeDefined();
    for (const [checkpoints, variable] of [
      ['yes', 'checkpoints'],
      [{ growth: 1 }, 'checkpoints.growth'],
      [{ growth: Number.NaN }, 'checkpoints.growth'],
      [{ intervalMs: 0 }, 'checkpoints.intervalMs'],
      [{ timeoutMs: 1.5 }, 'checkpoints.timeoutMs'],
    ] as const) {
      expect(() =>
        createRecorderWithSpool({ ...IDS, transport, checkpoints: checkpoints as never }, snapshotSpool()),
      ).toThrow(expect.objectContaining({ variable }));
      expect(() =>
        createRecorderWithSpool({ ...IDS, transport, checkpoints: checkpoints as never }, snapshotSpool()),
      ).toThrow(ConfigError);
    }
  });
});
