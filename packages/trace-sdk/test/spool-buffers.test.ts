import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GzipEngine, gzipBound, gzipMemberSync } from '../src/compress/gzip-members.js';
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

describe('spool buffer reuse (worker, inline and pooled buffers)', () => {
  it('never corrupts, reorders or drops a line, and gives the bytes of inline-only compression', async () => {
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

  it('reuses one deflate stream for member after member, with the bytes of a fresh one each time', () => {
    const engine = new GzipEngine({ level: 6 });
    const out = Buffer.alloc(gzipBound(64 * 1024));
    try {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 * 1024 }), (data) => {
          const n = engine.compressInto(data, out);
          expect(out.subarray(0, n).equals(gzipMemberSync(data, { level: 6 }))).toBe(true);
        }),
        { numRuns: 50 },
      );
    } finally {
      engine.close();
    }
  });
});
