import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipBound, gzipMemberSync } from '../src/compress/gzip-members.js';
import { GZIP_POOL_SIZE, gzipPoolStats } from '../src/compress/gzip-pool.js';
import { compressJob } from '../src/compress/gzip-worker-thread.js';
import { createEventSpool } from '../src/spool/event-spool.js';

const KEY = 'traces/user-1/task-1.jsonl.gz';
const HEADER = '{"event":"TRAJECTORY_ARTIFACT_HEADER"}\n';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-buffers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A line of exactly `bytes` UTF-8 bytes (at least 2), tagged with `i` so misplaced bytes show. */
function line(i: number, bytes: number, multibyte: boolean): string {
  const tag = `${i}:`;
  const room = Math.max(0, bytes - tag.length - 1);
  // 'é' is 2 bytes: half the room in it, the rest ASCII, so byte lengths still add up exactly.
  const body = multibyte ? 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2) : 'x'.repeat(room);
  return `${tag}${body}\n`;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('spool buffer reuse (worker pool, raw spill and pooled buffers)', () => {
  it('never corrupts, reorders or drops a line, and gives the bytes of the default pending bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            // Small lines, lines near the batch size, and lines bigger than a whole batch buffer.
            bytes: fc.oneof(
              fc.integer({ min: 2, max: 300 }),
              fc.integer({ min: 2_000, max: 6_000 }),
              fc.constant(300_000),
            ),
            multibyte: fc.boolean(),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        async (specs, maxInFlight, yieldEvery) => {
          const lines = specs.map((s, i) => line(i, s.bytes, s.multibyte));
          const bodies: Buffer[] = [];
          for (const mode of [
            { maxInFlight: 0, yieldEvery: 0 },
            { maxInFlight, yieldEvery },
          ]) {
            const spool = createEventSpool({
              spoolDir: dir,
              key: KEY,
              batchBytes: 4096,
              maxInFlight: mode.maxInFlight,
              memoryThresholdBytes: 64 * 1024,
              flushIntervalMs: 0,
            });
            for (let i = 0; i < lines.length; i++) {
              spool.append(lines[i]!);
              if (mode.yieldEvery > 0 && i % mode.yieldEvery === 0) await tick();
            }
            const body = await spool.seal(HEADER);
            bodies.push(await buffer(body.open()));
            await body.dispose();
          }
          expect(gunzipSync(bodies[1]!).toString('utf8')).toBe(HEADER + lines.join(''));
          expect(bodies[1]!.equals(bodies[0]!)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('compresses on the no-allocation engine path, with the bytes of a fresh gzipSync each time', () => {
    const out = new SharedArrayBuffer(gzipBound(64 * 1024));
    const input = new SharedArrayBuffer(64 * 1024);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 * 1024 }), fc.integer({ min: -1, max: 9 }), (data, level) => {
        new Uint8Array(input).set(data);
        const { length, fast } = compressJob({ id: 0, level, input, length: data.length, output: out });
        // If Node ever changes the internals this path drives, this fails instead of silently falling back.
        expect(fast).toBe(true);
        const expected = gzipMemberSync(data, level === -1 ? {} : { level });
        expect(Buffer.from(out, 0, length).equals(expected)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('runs every batch of a spool on the process-wide pool, on the fast path, on this Node', async () => {
    const before = gzipPoolStats();
    const spool = createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 4096, flushIntervalMs: 0 });
    for (let i = 0; i < 200; i++) spool.append(line(i, 500, i % 2 === 0));
    const body = await spool.seal(HEADER);
    await body.dispose();
    const after = gzipPoolStats();
    expect(after.fastJobs - before.fastJobs).toBeGreaterThanOrEqual(20);
    expect(after.fallbackJobs).toBe(before.fallbackJobs);
    expect(after.threadpoolJobs).toBe(before.threadpoolJobs);
    expect(after.threads).toBeGreaterThanOrEqual(1);
    expect(after.threads).toBeLessThanOrEqual(GZIP_POOL_SIZE);
  });
});
