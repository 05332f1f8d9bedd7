/**
 * redeliverSpooled: in-process re-delivery of spooled traces with backoff until a deadline,
 * touching only the keys it was given.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createTraceRecorder,
  listSpooled,
  redeliverSpooled,
  TraceKeyError,
  type TraceTransport,
  UploadError,
} from '../src/index.js';
import { failingTransport, memoryTransport, tempDir } from './recorder-support.js';

const down = () => new UploadError('ERR_UPLOAD_NETWORK', 'down', { retryable: true });

async function spoolTrace(spoolDir: string, taskId: string): Promise<string> {
  const rec = createTraceRecorder({
    userId: 'u-redeliver',
    taskId,
    transport: failingTransport(down()),
    spoolDir,
  });
  rec.record({ event: 'STEP', taskId });
  const result = await rec.finish();
  expect(result.status).toBe('failed');
  return rec.key;
}

/** A transport down for its first `n` uploads, then up. */
function flaky(n: number): TraceTransport & { calls: number; stored: string[] } {
  const up = memoryTransport();
  const t = {
    name: 'flaky',
    calls: 0,
    stored: [] as string[],
    async upload(
      artifact: Parameters<TraceTransport['upload']>[0],
      opts: Parameters<TraceTransport['upload']>[1],
    ) {
      t.calls++;
      if (t.calls <= n) throw down();
      t.stored.push(artifact.key);
      return up.upload(artifact, opts);
    },
  };
  return t;
}

describe('redeliverSpooled', () => {
  it('retries with backoff until the trace is delivered, then stops', async () => {
    const spool = await tempDir();
    try {
      const key = await spoolTrace(spool.dir, 'task-a');
      const transport = flaky(2);
      const result = await redeliverSpooled({
        spoolDir: spool.dir,
        transport,
        keys: [key],
        minDelayMs: 1,
        maxDelayMs: 5,
      });
      expect(result).toEqual({ status: 'delivered', uploaded: [key], remaining: [], rounds: 3 });
      expect(await listSpooled(spool.dir)).toEqual([]);
    } finally {
      await spool.cleanup();
    }
  });

  it('touches only the keys it holds a credential for', async () => {
    const spool = await tempDir();
    try {
      const mine = await spoolTrace(spool.dir, 'task-mine');
      const other = await spoolTrace(spool.dir, 'task-other');
      const transport = flaky(0);
      const result = await redeliverSpooled({ spoolDir: spool.dir, transport, keys: [mine], minDelayMs: 1 });
      expect(result.status).toBe('delivered');
      expect(transport.stored).toEqual([mine]);
      expect((await listSpooled(spool.dir)).map((e) => e.key)).toEqual([other]);
    } finally {
      await spool.cleanup();
    }
  });

  it('gives up at the deadline and leaves the trace spooled', async () => {
    const spool = await tempDir();
    try {
      const key = await spoolTrace(spool.dir, 'task-b');
      const started = performance.now();
      const result = await redeliverSpooled({
        spoolDir: spool.dir,
        transport: failingTransport(down()),
        keys: [key],
        deadlineMs: 200,
        minDelayMs: 20,
        maxDelayMs: 50,
      });
      expect(result.status).toBe('pending');
      expect(result.remaining).toEqual([key]);
      expect(result.rounds).toBeGreaterThan(1);
      expect(performance.now() - started).toBeLessThan(5000);
      expect((await listSpooled(spool.dir)).map((e) => e.key)).toEqual([key]);
    } finally {
      await spool.cleanup();
    }
  });

  it('refuses to run without keys, or with something that is not a trace key', async () => {
    const transport = memoryTransport();
    await expect(redeliverSpooled({ spoolDir: '/tmp', transport, keys: [] })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(
      redeliverSpooled({ spoolDir: '/tmp', transport, keys: ['traces/../etc/passwd'] }),
    ).rejects.toBeInstanceOf(TraceKeyError);
  });
});
