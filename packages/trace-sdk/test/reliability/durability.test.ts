/**
 * The durability suite: `finish()` settles within its deadline whatever the providers do, a host
 * whose clock is off still uploads, SIGTERM with the `finishOnSignal` opt-in lands the whole trace
 * and still ends the process by the signal, and with checkpoint uploads a sandbox SIGKILLed at a
 * random moment, its spool directory deleted after (the disk is gone), leaves its trace in S3 up
 * to the last checkpoint. The figures (events found against recorded, worst gap in seconds, bytes
 * uploaded against the final size) are printed; docs/performance.md quotes them under "Durability".
 *
 * Child processes run the SDK from its TypeScript sources (see kill.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createTraceRecorder,
  lambdaUploaderTransport,
  listSpooled,
  presignedPutTransport,
  type TraceTransport,
  type UploadReceipt,
  uploadSpooled,
  userPrefix,
} from '../../src/index.js';
import { createRecorderWithSpool } from '../../src/record/recorder.js';
import { createEventSpool } from '../../src/spool/event-spool.js';
import { resetClockSkewWarning } from '../../src/upload/transports/clock-skew.js';
import { snapshotSpool } from './fixtures/snapshot-spool.js';
import {
  FAST_RETRY,
  freshIds,
  type Ids,
  readAll,
  recordWorkload,
  startWorld,
  tempDir,
  type World,
} from './support.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

/** A provider that never answers and ignores its signal: the worst an orchestrator can do. */
const never = () => new Promise<string>(() => {});

describe('finish() settles within its deadline, providers included', () => {
  it.each([
    ['a URL provider', () => presignedPutTransport({ url: never, retry: FAST_RETRY })],
    [
      'a grant provider',
      () =>
        lambdaUploaderTransport({
          functionName: world.lambda.functionName,
          client: world.lambdaClient(),
          grant: never,
          retry: FAST_RETRY,
        }),
    ],
  ])('%s that never answers: finish resolves failed, spooled, within timeoutMs', async (_what, build) => {
    const ids = freshIds('hang');
    const spool = await tempDir('agent-trace-hang-');
    try {
      const rec = createTraceRecorder({ ...ids, transport: build(), spoolDir: spool.dir });
      recordWorkload(rec);
      const started = performance.now();
      const result = await rec.finish({ timeoutMs: 500 });
      const elapsed = performance.now() - started;
      expect(result.status).toBe('failed');
      expect(result.error?.code).toBe('ERR_UPLOAD_DEADLINE');
      expect(result.spooledPath).toBeDefined();
      // The deadline plus sealing and spooling, with slack for a loaded CI machine.
      expect(elapsed).toBeLessThan(500 + 5000);
      expect((await listSpooled(spool.dir)).map((e) => e.key)).toEqual([ids.key]);
    } finally {
      await spool.remove();
    }
  });

  it('uploadSpooled settles too: a hung provider fails the entry within timeoutMs and leaves it spooled', async () => {
    const ids = freshIds('hang');
    const spool = await tempDir('agent-trace-hang-');
    try {
      const rec = createTraceRecorder({
        ...ids,
        transport: presignedPutTransport({ url: never }),
        spoolDir: spool.dir,
      });
      recordWorkload(rec);
      expect((await rec.finish({ timeoutMs: 0 })).status).toBe('failed');
      const started = performance.now();
      const flushed = await uploadSpooled({
        spoolDir: spool.dir,
        transport: presignedPutTransport({ url: never }),
        scope: { userId: ids.userId, taskId: ids.taskId },
        timeoutMs: 300,
      });
      expect(performance.now() - started).toBeLessThan(300 + 5000);
      expect(flushed.failed.map((f) => (f.error as { code?: string }).code)).toEqual(['ERR_UPLOAD_DEADLINE']);
      expect(await listSpooled(spool.dir)).toHaveLength(1);
      // With a provider that answers, the same entry goes through.
      const healed = await uploadSpooled({
        spoolDir: spool.dir,
        transport: presignedPutTransport({ url: () => world.mintUrl(ids), retry: FAST_RETRY }),
        scope: { userId: ids.userId, taskId: ids.taskId },
      });
      expect(healed.uploaded.map((u) => u.key)).toEqual([ids.key]);
    } finally {
      await spool.remove();
    }
  });
});

describe('clock skew', () => {
  it('uploads from a host whose clock is 2 h ahead (URL valid for 10 min), and reports the skew', async () => {
    const ids = freshIds('skew');
    const spool = await tempDir('agent-trace-skew-');
    const url = await world.mintUrl(ids, { expiresIn: 600 });
    const realNow = Date.now;
    const ahead = 2 * 3_600_000;
    resetClockSkewWarning();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => {
      if (w.code === 'AGENT_TRACE_CLOCK_SKEW') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    // The agent's clock runs ahead; the local S3 keeps the true time.
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ahead);
    world.s3Skew.ms = -ahead;
    try {
      const inner = presignedPutTransport({ url, retry: FAST_RETRY });
      const receipts: UploadReceipt[] = [];
      const transport: TraceTransport = {
        name: inner.name,
        upload: async (artifact, opts) => {
          const receipt = await inner.upload(artifact, opts);
          receipts.push(receipt);
          return receipt;
        },
      };
      const rec = createTraceRecorder({ ...ids, transport, spoolDir: spool.dir });
      recordWorkload(rec);
      const result = await rec.finish();
      expect(result.status).toBe('uploaded');
      expect((await world.stored(ids.key))?.byteLength).toBe(result.bytes);
      const receipt = receipts[0]!;
      expect(result.status === 'uploaded' && result.clockSkewMs).toBe(receipt.clockSkewMs);
      expect(receipt.clockSkewMs).toBeLessThan(-ahead + 5000);
      expect(receipt.clockSkewMs).toBeGreaterThan(-ahead - 5000);
      await new Promise((r) => setImmediate(r));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).not.toContain('X-Amz');
      console.log(
        `clock skew: host ${ahead / 1000} s ahead; learned ${Math.round(receipt.clockSkewMs! / 1000)} s from Date`,
      );
    } finally {
      spy.mockRestore();
      world.heal();
      process.off('warning', onWarning);
      await spool.remove();
    }
  });
});

interface Line {
  readonly recorded: number;
  readonly at: number;
}

/** Spawns the durable-recorder fixture; resolves once `ready(line)` says so, then leaves it running. */
function spawnRecorder(
  mode: string,
  spoolDir: string,
  ids: Ids,
  url: string,
  extra: string[] = [],
): {
  child: ChildProcess;
  lines: Line[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
} {
  const child = spawn(
    process.execPath,
    [
      '--import',
      join(FIXTURES, 'ts-source-hooks.mjs'),
      join(FIXTURES, 'durable-recorder.ts'),
      mode,
      spoolDir,
      ids.userId,
      ids.taskId,
      url,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: Line[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, nl)) as Line);
      buffered = buffered.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, exited, stderr: () => stderr };
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('SIGTERM', () => {
  it('with finishOnSignal: the whole trace lands, then the process ends by SIGTERM as it would have', async () => {
    const ids = freshIds('sigterm');
    const spool = await tempDir('agent-trace-sigterm-');
    try {
      const run = spawnRecorder('sigterm', spool.dir, ids, await world.mintUrl(ids));
      await until(() => run.lines.length >= 10, 'ten rounds');
      const sentAt = run.lines.at(-1)!.recorded;
      run.child.kill('SIGTERM');
      const exit = await run.exited;
      expect(exit.signal, run.stderr()).toBe('SIGTERM');
      const lines = await readAll((await world.stored(ids.key))!);
      const [header, ...events] = lines;
      expect(header).toMatchObject({ accumulated_events: events.length });
      expect(header).not.toHaveProperty('partial');
      expect(events.length).toBeGreaterThanOrEqual(sentAt);
      for (const [seq, e] of events.entries()) expect(e).toMatchObject({ seq, n: seq });
      // Uploaded, so nothing stays in the spool.
      expect(await listSpooled(spool.dir)).toEqual([]);
      console.log(
        `SIGTERM with finishOnSignal: ${events.length} of ${events.length} events in S3 (>= ${sentAt} recorded when the signal was sent)`,
      );
    } finally {
      await spool.remove();
    }
  }, 60_000);

  it('without the opt-in: Node ends the process at once and nothing reaches the key (documented)', async () => {
    const ids = freshIds('sigterm');
    const spool = await tempDir('agent-trace-sigterm-');
    try {
      const run = spawnRecorder('plain', spool.dir, ids, await world.mintUrl(ids));
      await until(() => run.lines.length >= 5, 'five rounds');
      run.child.kill('SIGTERM');
      expect((await run.exited).signal).toBe('SIGTERM');
      expect(await world.stored(ids.key)).toBeUndefined();
    } finally {
      await spool.remove();
    }
  }, 60_000);
});

/** True when the real spool can snapshot (the perf branch adds `snapshot`); checkpoints need it. */
function realSpoolSnapshots(): boolean {
  const spool = createEventSpool({ spoolDir: '/nonexistent', key: 'traces/u/t.jsonl.gz' });
  const has = typeof (spool as { snapshot?: unknown }).snapshot === 'function';
  void spool.discard();
  return has;
}

/**
 * SIGKILLs a checkpointing recorder after `killAfterMs`, deletes its spool directory (the sandbox's
 * disk is gone), and compares what S3 holds with what was recorded.
 */
async function killWithCheckpoints(mode: string, killAfterMs: number, intervalMs: number) {
  const ids = freshIds('ckpt');
  const spool = await tempDir('agent-trace-ckpt-');
  try {
    const run = spawnRecorder(mode, spool.dir, ids, await world.mintUrl(ids), [String(intervalMs)]);
    await until(() => run.lines.length > 0, 'the first round');
    await new Promise((r) => setTimeout(r, killAfterMs));
    run.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect((await run.exited).signal).toBe('SIGKILL');
    const last = run.lines.at(-1)!;
    const firstAt = run.lines[0]!.at;
    await rm(spool.dir, { recursive: true, force: true });
    const body = await world.stored(ids.key);
    const lines = body === undefined ? [] : await readAll(body);
    const [header, ...events] = lines;
    if (header !== undefined) {
      expect(header).toMatchObject({ partial: true, accumulated_events: events.length });
      for (const [seq, e] of events.entries()) expect(e).toMatchObject({ seq, n: seq });
    }
    const lastTs = events.length === 0 ? firstAt : Number(events.at(-1)!['ts']);
    const writes = world.s3.requests.filter((r) => r.stored && r.key === ids.key);
    return {
      recorded: last.recorded,
      found: events.length,
      gapSeconds: (killedAt - lastTs) / 1000,
      ageSeconds: (killedAt - firstAt) / 1000,
      checkpoints: writes.length,
      bytesUploaded: writes.reduce((sum, r) => sum + r.bytes, 0),
      finalBytes: body?.byteLength ?? 0,
      spoolGone: (await readdir(spool.dir).catch(() => null)) === null,
    };
  } finally {
    await spool.remove();
  }
}

describe('sandbox and disk die: checkpoint uploads', () => {
  it('go through the same transport, key and URL provider as the final upload, which replaces them', async () => {
    const ids = freshIds('ckpt');
    let minted = 0;
    const transport = presignedPutTransport({
      url: async () => {
        minted++;
        return world.mintUrl(ids);
      },
      retry: FAST_RETRY,
    });
    const rec = createRecorderWithSpool(
      { ...ids, transport, checkpoints: { intervalMs: 20 } },
      snapshotSpool({ batchBytes: 8 * 1024 }),
    );
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 20; i++) rec.record({ event: 'STEP', n: round * 20 + i, pad: 'x'.repeat(100) });
      await new Promise((r) => setTimeout(r, 10));
    }
    const result = await rec.finish();
    expect(result.status).toBe('uploaded');
    const checkpoints = result.checkpoints!;
    expect(checkpoints.uploaded).toBeGreaterThan(1);
    // One fresh URL per checkpoint and one for the final: a URL never outlives its artifact.
    expect(minted).toBe(checkpoints.uploaded + checkpoints.failed + 1);
    expect(world.storedWrites(ids.key)).toBe(checkpoints.uploaded + 1);
    expect(await world.keys(userPrefix(ids.userId))).toEqual([ids.key]);
    const [header, ...events] = await readAll((await world.stored(ids.key))!);
    expect(header).not.toHaveProperty('partial');
    expect(events).toHaveLength(600);
  });

  it('a recorder SIGKILLed at random moments, its disk deleted, leaves its trace up to the last checkpoint', async () => {
    const intervalMs = 250;
    const results = [];
    // Random moments, seeded per run of the suite: between 0.8 s and 3 s of recording.
    for (const killAfterMs of [800, 800 + Math.floor(Math.random() * 2200), 3000]) {
      const r = await killWithCheckpoints('checkpoints', killAfterMs, intervalMs);
      expect(r.spoolGone).toBe(true);
      expect(r.found).toBeGreaterThan(0);
      expect(r.found).toBeLessThanOrEqual(r.recorded);
      // Geometric schedule: the last checkpoint is at most about half the trace's age back, plus an interval.
      expect(r.gapSeconds).toBeLessThan(r.ageSeconds / 2 + intervalMs / 1000 + 2);
      // The byte bound: every checkpoint byte sent within 2x (growth 2) the last one.
      expect(r.bytesUploaded).toBeLessThanOrEqual(2 * r.finalBytes);
      results.push(r);
    }
    for (const r of results) {
      console.log(
        `checkpoints (in-memory spool, interval ${intervalMs} ms, growth 2): killed after ${r.ageSeconds.toFixed(1)} s, ` +
          `${r.found} of ${r.recorded} events in S3 (${((100 * r.found) / r.recorded).toFixed(0)}%), ` +
          `gap ${r.gapSeconds.toFixed(2)} s, ${r.checkpoints} checkpoint PUTs, ` +
          `${r.bytesUploaded} B uploaded for a last checkpoint of ${r.finalBytes} B (${(r.bytesUploaded / Math.max(1, r.finalBytes)).toFixed(2)}x)`,
      );
    }
  }, 120_000);

  it.skipIf(!realSpoolSnapshots())(
    'the same with the real spool (needs EventSpool.snapshot from the perf branch)',
    async () => {
      const r = await killWithCheckpoints('checkpoints-real', 2000, 250);
      expect(r.found).toBeGreaterThan(0);
      console.log(
        `checkpoints (real spool): ${r.found} of ${r.recorded} events in S3, gap ${r.gapSeconds.toFixed(2)} s`,
      );
    },
    60_000,
  );
});
