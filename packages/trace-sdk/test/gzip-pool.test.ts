/**
 * The compression pool when its worker module cannot load (a bundle that left it behind, a runtime
 * without worker threads): it stops starting workers after two that never answered, and compresses
 * on the libuv threadpool instead, batches in memory and raw spill ranges alike. Never forever
 * restarting workers, never the calling thread, never a job without an answer.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGzipPoolForTest, type PoolResult } from '../src/compress/gzip-pool.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trace-gzip-pool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MISSING_WORKER = new URL('file:///nonexistent/agent-trace/gzip-worker-thread.js');
const lines = (n: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => `{"event":"E","seq":${i}}\n`).join(''));

function outputFor(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(bytes + 1024);
}

function submit(pool: ReturnType<typeof createGzipPoolForTest>, job: Parameters<typeof pool.submit>[0]) {
  return new Promise<PoolResult>((resolve) => pool.submit(job, resolve));
}

describe('gzip pool without a loadable worker module', () => {
  it('gives up on workers after two failed starts and compresses on the threadpool', async () => {
    const pool = createGzipPoolForTest(MISSING_WORKER);
    const batches = [lines(2000), lines(3000), lines(10)];
    const results = [];
    for (const batch of batches) {
      const input = new SharedArrayBuffer(batch.length);
      new Uint8Array(input).set(batch);
      const output = outputFor(batch.length);
      const result = await submit(pool, { level: 1, input, length: batch.length, output });
      results.push({ batch, result, output });
    }
    for (const { batch, result, output } of results) {
      expect(result.error).toBeUndefined();
      const member = Buffer.from(output, 0, result.length);
      expect(gunzipSync(member).equals(batch)).toBe(true);
      // The OS byte the worker writes too: members are the same whichever thread made them.
      expect(member[9]).toBe(255);
    }
    const stats = pool.stats();
    expect(stats.started).toBe(2);
    expect(stats.threads).toBe(0);
    expect(stats.threadpoolJobs).toBe(3);
  });

  it('compresses a batch the spool wrote raw to its spill file', async () => {
    const pool = createGzipPoolForTest(MISSING_WORKER);
    const batch = lines(5000);
    const fd = openSync(join(dir, 'raw.spill'), 'wx+', 0o600);
    try {
      // Something before the range, as when the spill file holds earlier batches.
      writeSync(fd, Buffer.alloc(333, 120), 0, 333, 0);
      writeSync(fd, batch, 0, batch.length, 333);
      const output = outputFor(batch.length);
      const result = await submit(pool, { level: 6, fd, position: 333, length: batch.length, output });
      expect(result.error).toBeUndefined();
      expect(gunzipSync(Buffer.from(output, 0, result.length)).equals(batch)).toBe(true);
      const short = await submit(pool, {
        level: 6,
        fd,
        position: 333 + batch.length - 10,
        length: 100,
        output: outputFor(100),
      });
      expect(short).toEqual({ length: 0, error: 'raw spill file ended early' });
    } finally {
      closeSync(fd);
    }
  });
});
