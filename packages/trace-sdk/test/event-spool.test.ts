import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzipMemberSync, readGzipMembers } from '../src/compress/gzip-members.js';
import { ConfigError, RecorderStateError, SpoolError } from '../src/errors.js';
import { readTrace } from '../src/read/read-trace.js';
import { createEventSpool } from '../src/spool/event-spool.js';

const KEY = 'traces/user-1/task-1.jsonl.gz';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'event-spool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Realistic-ish event lines: turns with a few KB of text, small policy events. */
function eventLines(count: number, seed = 1): string[] {
  const words = ['agent', 'tool', 'read', 'file', 'the', 'result', 'edit', 'bash', 'λ', 'données', '✓'];
  let r = seed;
  const next = () => {
    r = (r * 1103515245 + 12345) >>> 0;
    return r;
  };
  const lines: string[] = [];
  for (let seq = 0; seq < count; seq++) {
    const event =
      seq % 3 === 0
        ? { event: 'POLICY_DECISION', task_id: 'task-1', seq, ts: 1_700_000_000_000 + seq, allowed: true }
        : {
            event: 'TRAJECTORY_TURN',
            task_id: 'task-1',
            seq,
            ts: 1_700_000_000_000 + seq,
            text: Array.from({ length: 50 + (next() % 400) }, () => words[next() % words.length]).join(' '),
          };
    lines.push(`${JSON.stringify(event)}\n`);
  }
  return lines;
}

function headerLine(events: number): string {
  return `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-1', accumulated_events: events })}\n`;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const sha256 = async (bytes: Buffer) =>
  (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');

describe('createEventSpool', () => {
  it('seals header ++ events into one gzip stream, with the byteLength and sha256 of exactly those bytes', async () => {
    const lines = eventLines(500);
    const spool = createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 16 * 1024, flushIntervalMs: 0 });
    for (const line of lines) spool.append(line);
    expect(spool.uncompressedBytes).toBe(Buffer.byteLength(lines.join('')));
    const body = await spool.seal(headerLine(lines.length));
    const bytes = await buffer(body.open());

    expect(bytes.length).toBe(body.byteLength);
    expect(body.sha256).toBe(await sha256(bytes));
    expect(gunzipSync(bytes).toString('utf8')).toBe(headerLine(lines.length) + lines.join(''));
    expect(spool.members).toBeGreaterThan(5);
    expect(spool.spillPath).toBeUndefined();
    // Re-openable: a retry reads the same bytes.
    expect((await buffer(body.open())).equals(bytes)).toBe(true);
    const read = await collect(readTrace(bytes));
    expect(read).toEqual([JSON.parse(headerLine(lines.length)), ...lines.map((l) => JSON.parse(l))]);
    await body.dispose();
  });

  it('writes every member with mtime 0, so the same lines give the same bytes whatever the timing', async () => {
    const lines = eventLines(400, 7);
    const shas: string[] = [];
    // The default bound, a deep queue with a producer that yields and one that never yields, and a
    // one-batch bound that sends most batches through the raw spill file.
    for (const [maxInFlight, yieldEvery] of [
      [0, 0],
      [4, 10],
      [4, 0],
      [1, 3],
    ] as const) {
      const spool = createEventSpool({
        spoolDir: dir,
        key: KEY,
        batchBytes: 8 * 1024,
        maxInFlight,
        flushIntervalMs: 0,
      });
      for (let i = 0; i < lines.length; i++) {
        spool.append(lines[i]!);
        if (yieldEvery > 0 && i % yieldEvery === 0) await new Promise((r) => setImmediate(r));
      }
      const body = await spool.seal(headerLine(lines.length));
      const bytes = await buffer(body.open());
      // Every member's header: MTIME (bytes 4-7) is 0, OS (byte 9) is pinned to 255.
      let start = 0;
      for await (const { compressedEnd } of readGzipMembers(Readable.from([bytes]))) {
        expect(bytes.readUInt32LE(start + 4)).toBe(0);
        expect(bytes[start + 9]).toBe(255);
        start = compressedEnd!;
      }
      expect(start).toBe(bytes.length);
      shas.push(body.sha256);
      await body.dispose();
    }
    expect(new Set(shas).size).toBe(1);
  });

  it('cuts members by byte count only: each holds the lines up to the first that reaches batchBytes', async () => {
    const line = `${JSON.stringify({ event: 'X', pad: 'p'.repeat(77) })}\n`;
    expect(Buffer.byteLength(line)).toBe(100);
    const spool = createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 1000, maxInFlight: 0 });
    for (let i = 0; i < 95; i++) spool.append(line);
    const body = await spool.seal(headerLine(95));
    const sizes: number[] = [];
    for await (const { data } of readGzipMembers(body.open())) sizes.push(data.length);
    expect(sizes).toEqual([Buffer.byteLength(headerLine(95)), ...Array(9).fill(1000), 500]);
    await body.dispose();
  });

  it('gives a line larger than a batch buffer a member of its own', async () => {
    const big = `${JSON.stringify({ event: 'BIG', text: 'x'.repeat(3 * 1024 * 1024) })}\n`;
    const spool = createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 64 * 1024 });
    spool.append('{"event":"A"}\n');
    spool.append(big);
    spool.append('{"event":"B"}\n');
    const body = await spool.seal(headerLine(3));
    const sizes: number[] = [];
    for await (const { data } of readGzipMembers(body.open())) sizes.push(data.length);
    expect(sizes.slice(1)).toEqual([14, Buffer.byteLength(big), 14]);
    await body.dispose();
  });

  it('seals an empty trace as the header member alone', async () => {
    const spool = createEventSpool({ spoolDir: dir, key: KEY });
    const body = await spool.seal(headerLine(0));
    const bytes = await buffer(body.open());
    const header = gzipMemberSync(Buffer.from(headerLine(0)));
    expect(bytes.equals(header)).toBe(true);
    expect(await collect(readTrace(bytes))).toHaveLength(1);
  });

  it('adds the newline a header line lacks', async () => {
    const spool = createEventSpool({ spoolDir: dir, key: KEY });
    spool.append('{"event":"A"}\n');
    const body = await spool.seal(headerLine(1).trimEnd());
    expect(gunzipSync(await buffer(body.open())).toString()).toBe(`${headerLine(1)}{"event":"A"}\n`);
  });

  it('spills to <stem>.events.gz.part with a sidecar past the memory threshold, and reads back from the file', async () => {
    const lines = eventLines(3000, 3);
    const spool = createEventSpool({
      spoolDir: dir,
      key: KEY,
      batchBytes: 32 * 1024,
      memoryThresholdBytes: 64 * 1024,
    });
    for (const line of lines) spool.append(line);
    await spool.flush();
    const part = spool.spillPath;
    expect(part).toMatch(/[/\\]\d{8}T\d{9}Z-[0-9a-f]{12}\.events\.gz\.part$/);
    const sidecar = JSON.parse(await readFile(`${part}.json`, 'utf8'));
    expect(sidecar).toMatchObject({ version: 1, key: KEY, pid: process.pid });
    expect(Date.parse(sidecar.startedAt)).not.toBeNaN();
    // While recording, the spill file is a headerless run of complete members.
    const partial = await collect(readTrace(part!, { requireHeader: false }));
    expect(partial.length).toBeGreaterThan(0);
    expect(partial).toEqual(lines.slice(0, partial.length).map((l) => JSON.parse(l)));

    const body = await spool.seal(headerLine(lines.length));
    const bytes = await buffer(body.open());
    expect(bytes.length).toBe(body.byteLength);
    expect(body.sha256).toBe(await sha256(bytes));
    expect(await collect(readTrace(bytes))).toHaveLength(lines.length + 1);
    // The sealed sidecar keeps the header, so a crash before upload can rebuild the exact body.
    const sealed = JSON.parse(await readFile(`${part}.json`, 'utf8')).sealed;
    expect(sealed).toMatchObject({ sha256: body.sha256, byteLength: body.byteLength });
    expect(gunzipSync(Buffer.from(sealed.header, 'base64')).toString()).toBe(headerLine(lines.length));

    await body.dispose();
    expect(existsSync(part!)).toBe(false);
    expect(existsSync(`${part}.json`)).toBe(false);
    await expect(buffer(body.open())).rejects.toBeInstanceOf(RecorderStateError);
  });

  it('spills on the first member with memoryThresholdBytes 0 (every member reaches disk)', async () => {
    const spool = createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 1024, memoryThresholdBytes: 0 });
    spool.append(`${JSON.stringify({ event: 'A', pad: 'x'.repeat(2000) })}\n`);
    await spool.flush();
    expect(spool.spillPath).toBeDefined();
    expect(await collect(readTrace(spool.spillPath!, { requireHeader: false }))).toHaveLength(1);
    await spool.discard();
  });

  it('discard removes the spill file and its sidecar, and is idempotent', async () => {
    const spool = createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 1024, memoryThresholdBytes: 0 });
    for (const line of eventLines(200)) spool.append(line);
    await spool.flush();
    expect(await readdir(dir)).toHaveLength(2);
    await Promise.all([spool.discard(), spool.discard()]);
    await spool.discard();
    expect(await readdir(dir)).toEqual([]);
    expect(() => spool.append('{"event":"late"}\n')).not.toThrow();
    await expect(spool.seal(headerLine(0))).rejects.toBeInstanceOf(RecorderStateError);
  });

  it('refuses a second seal', async () => {
    const spool = createEventSpool({ spoolDir: dir, key: KEY });
    const body = await spool.seal(headerLine(0));
    await expect(spool.seal(headerLine(0))).rejects.toBeInstanceOf(RecorderStateError);
    await body.dispose();
  });

  it('keeps the trace in memory and still seals it when the spool directory cannot be created', async () => {
    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    const lines = eventLines(300);
    const spool = createEventSpool({
      spoolDir: join(blocker, 'spool'),
      key: KEY,
      batchBytes: 1024,
      memoryThresholdBytes: 0,
    });
    expect(() => {
      for (const line of lines) spool.append(line);
    }).not.toThrow();
    await spool.flush();
    expect(spool.unavailable).toMatchObject({ code: 'ENOTDIR' });
    expect(spool.unavailable!.reason).toMatch(/spill file/);
    const body = await spool.seal(headerLine(300));
    expect(gunzipSync(await buffer(body.open())).toString()).toBe(headerLine(300) + lines.join(''));
    expect(spool.droppedLines).toBe(0);
    await body.dispose();
    await spool.discard();
  });

  it('ignores values that are not strings instead of throwing', async () => {
    const spool = createEventSpool({ spoolDir: dir, key: KEY });
    expect(() => spool.append(42 as unknown as string)).not.toThrow();
    expect(() => spool.append(undefined as unknown as string)).not.toThrow();
    const body = await spool.seal(headerLine(0));
    expect(await collect(readTrace(await buffer(body.open())))).toHaveLength(1);
  });

  it('rejects invalid options at construction', () => {
    expect(() => createEventSpool({ spoolDir: dir, key: KEY, batchBytes: 0 })).toThrow(ConfigError);
    expect(() => createEventSpool({ spoolDir: dir, key: KEY, memoryThresholdBytes: -1 })).toThrow(
      ConfigError,
    );
    expect(() => createEventSpool({ spoolDir: dir, key: KEY, level: 11 })).toThrow(ConfigError);
    expect(() => createEventSpool({ spoolDir: '', key: KEY })).toThrow(ConfigError);
  });

  it('keeps memory bounded when a producer appends ~128 MiB without ever yielding', async () => {
    // Random base64 barely compresses (~1.35x), so an implementation that kept its output (or its
    // input) in memory would hold well over 90 MiB here. The workers fall far behind a producer that
    // never yields: past the pending bound (16 MiB) batches go to the raw spill file, so what is held
    // is that bound's buffers, not the backlog.
    const texts = Array.from({ length: 256 }, () => randomBytes(3072).toString('base64'));
    const spool = createEventSpool({ spoolDir: dir, key: KEY, memoryThresholdBytes: 1024 * 1024 });
    const before = process.memoryUsage.rss();
    let peak = before;
    let seq = 0;
    while (spool.uncompressedBytes < 128 * 1024 * 1024) {
      spool.append(
        `{"event":"TRAJECTORY_TURN","task_id":"t","seq":${seq},"text":"${texts[(seq * 31) & 255]}"}\n`,
      );
      seq++;
      if ((seq & 63) === 0) peak = Math.max(peak, process.memoryUsage.rss());
    }
    const growthMiB = (peak - before) / (1024 * 1024);
    // Batches past the pending bound went through the raw spill file; let the workers finish them.
    await spool.flush();
    expect(spool.droppedLines).toBe(0);
    expect(spool.compressedBytes).toBeGreaterThan(90 * 1024 * 1024);
    // Below what holding the output would cost (>90 MiB), with headroom for the noise of RSS in a
    // shared test worker on a loaded 2-core CI machine.
    expect(growthMiB).toBeLessThan(80);
    await spool.discard();
  }, 120_000);
});
