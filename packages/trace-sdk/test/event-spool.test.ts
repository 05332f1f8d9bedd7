import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzipMemberSync, readGzipMembers } from '../src/compress/gzip-members.js';
import { ConfigError, RecorderStateError } from '../src/errors.js';
import { readTrace } from '../src/read/read-trace.js';
import { createEventSpool } from '../src/spool/event-spool.js';
import type { SinkFs } from '../src/spool/member-sink.js';
import { recoverPartial } from '../src/spool/recover-partial.js';
import { liveMemoryPeak } from './live-memory.js';

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

  it('keeps memory bounded when a producer appends ~160 MiB without ever yielding', async () => {
    // Random base64 barely compresses (~1.35x), so an implementation that kept its output (or its
    // input) in memory would hold well over 115 MiB here. The workers fall far behind a producer that
    // never yields: past the pending bound (8 MiB) batches go to the raw spill file, so what is held
    // is that bound's buffers, not the backlog.
    const texts = Array.from({ length: 256 }, () => randomBytes(3072).toString('base64'));
    const spool = createEventSpool({ spoolDir: dir, key: KEY, memoryThresholdBytes: 1024 * 1024 });
    const memory = liveMemoryPeak();
    let seq = 0;
    while (spool.uncompressedBytes < 160 * 1024 * 1024) {
      spool.append(
        `{"event":"TRAJECTORY_TURN","task_id":"t","seq":${seq},"text":"${texts[(seq * 31) & 255]}"}\n`,
      );
      seq++;
      if ((seq & 255) === 0) memory.sample();
    }
    // Batches past the pending bound went through the raw spill file; let the workers finish them.
    await spool.flush();
    expect(spool.droppedLines).toBe(0);
    expect(spool.compressedBytes).toBeGreaterThan(115 * 1024 * 1024);
    // Holding the output would be >115 MiB, the input >160 MiB.
    expect(memory.growthMiB()).toBeLessThan(48);
    await spool.discard();
  }, 120_000);
});

/** Real file operations, with `fail` deciding which call throws which errno (a full or read-only disk). */
function faultyFs(
  fail: (op: keyof SinkFs, bytesSoFar: number) => string | undefined,
): SinkFs & { written: number } {
  const wrapped = {
    written: 0,
    mkdirSync: (path: string, opts: { recursive: true }) => {
      const code = fail('mkdirSync', wrapped.written);
      if (code !== undefined) throw Object.assign(new Error(`${code}: injected`), { code });
      return fs.mkdirSync(path, opts);
    },
    openSync: (path: string, flags: string, mode: number) => {
      const code = fail('openSync', wrapped.written);
      if (code !== undefined) throw Object.assign(new Error(`${code}: injected`), { code });
      return fs.openSync(path, flags, mode);
    },
    writeSync: (fd: number, buf: Buffer, off: number, len: number, position: number) => {
      const code = fail('writeSync', wrapped.written);
      if (code !== undefined) {
        // A full disk takes part of the write before it fails: leave a torn member behind.
        fs.writeSync(fd, buf, off, Math.min(len, 100), position);
        throw Object.assign(new Error(`${code}: injected`), { code });
      }
      const n = fs.writeSync(fd, buf, off, len, position);
      wrapped.written += n;
      return n;
    },
    ftruncateSync: (fd: number, len: number) => fs.ftruncateSync(fd, len),
    closeSync: (fd: number) => fs.closeSync(fd),
  };
  return wrapped;
}

describe('durability and a broken spool disk', () => {
  it('puts a small trace on disk within the flush interval, without a full batch or flush()', async () => {
    const lines = eventLines(50);
    const spool = createEventSpool({ spoolDir: dir, key: KEY, flushIntervalMs: 100 });
    for (const line of lines) spool.append(line);
    expect(spool.spillPath).toBeUndefined();
    for (let i = 0; i < 50 && spool.spillPath === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    expect(spool.spillPath).toBeDefined();
    await new Promise((r) => setTimeout(r, 100));
    const onDisk = await collect(readTrace(spool.spillPath!, { requireHeader: false }));
    expect(onDisk).toEqual(lines.map((l) => JSON.parse(l)));
    const sidecar = JSON.parse(await readFile(`${spool.spillPath}.json`, 'utf8'));
    expect(sidecar).toMatchObject({ key: KEY, leaseMs: 10_000 });
    await spool.discard();
    expect(await readdir(dir)).toEqual([]);
  });

  it('snapshots a complete artifact of everything so far while recording goes on', async () => {
    const lines = eventLines(400, 5);
    const spool = createEventSpool({
      spoolDir: dir,
      key: KEY,
      batchBytes: 8 * 1024,
      memoryThresholdBytes: 32 * 1024,
    });
    for (const line of lines.slice(0, 250)) spool.append(line);
    const snap = await spool.snapshot(headerLine(250));
    const snapBytes = await buffer(snap.open());
    expect(snap.byteLength).toBe(snapBytes.length);
    expect(snap.sha256).toBe(await sha256(snapBytes));
    expect(gunzipSync(snapBytes).toString()).toBe(headerLine(250) + lines.slice(0, 250).join(''));
    for (const line of lines.slice(250)) spool.append(line);
    // The snapshot still reads the same bytes after more was recorded.
    expect((await buffer(snap.open())).equals(snapBytes)).toBe(true);
    await snap.dispose();
    const body = await spool.seal(headerLine(400));
    expect(gunzipSync(await buffer(body.open())).toString()).toBe(headerLine(400) + lines.join(''));
    await body.dispose();
  });

  it('on a full disk, keeps only complete members in the .part (recoverable) and uploads the whole trace from memory', async () => {
    const lines = eventLines(600, 9);
    const io = faultyFs((op, written) => (op === 'writeSync' && written > 20_000 ? 'ENOSPC' : undefined));
    const spool = createEventSpool(
      { spoolDir: dir, key: KEY, batchBytes: 4096, memoryThresholdBytes: 0, flushIntervalMs: 0 },
      { fs: io },
    );
    for (const line of lines) spool.append(line);
    await spool.flush();
    expect(spool.unavailable).toMatchObject({ code: 'ENOSPC' });
    const part = spool.spillPath!;
    // Every byte of the .part is a complete member: it reads with no torn tail.
    const onDisk = await collect(readTrace(part, { requireHeader: false }));
    expect(onDisk.length).toBeGreaterThan(0);
    expect(onDisk).toEqual(lines.slice(0, onDisk.length).map((l) => JSON.parse(l)));
    // A recovery of the .part (as after a crash right now) rebuilds exactly those events.
    const copy = join(dir, 'copy');
    await fs.promises.mkdir(copy);
    const stem = '20260101T000000000Z-000000000000';
    await fs.promises.copyFile(part, join(copy, `${stem}.events.gz.part`));
    await fs.promises.copyFile(`${part}.json`, join(copy, `${stem}.events.gz.part.json`));
    const rec = await recoverPartial({
      partPath: join(copy, `${stem}.events.gz.part`),
      sidecarPath: join(copy, `${stem}.events.gz.part.json`),
      stem,
    });
    expect(rec).toMatchObject({ kind: 'recovered', events: onDisk.length });
    // The upload is not lost: the body holds every line, from the file and from memory.
    const body = await spool.seal(headerLine(600));
    expect(gunzipSync(await buffer(body.open())).toString()).toBe(headerLine(600) + lines.join(''));
    expect(spool.droppedLines).toBe(0);
    await body.dispose();
  });

  it('on a read-only spool directory, keeps the trace in memory up to memoryFallbackBytes and counts what it drops', async () => {
    const lines = eventLines(800, 4);
    const io = faultyFs((op) => (op === 'mkdirSync' ? 'EROFS' : undefined));
    const spool = createEventSpool(
      {
        spoolDir: join(dir, 'ro'),
        key: KEY,
        batchBytes: 4096,
        memoryThresholdBytes: 0,
        memoryFallbackBytes: 16 * 1024,
      },
      { fs: io },
    );
    for (const line of lines) spool.append(line);
    await spool.flush();
    expect(spool.unavailable).toMatchObject({ code: 'EROFS' });
    expect(spool.spillPath).toBeUndefined();
    expect(spool.droppedLines).toBeGreaterThan(0);
    const body = await spool.seal(headerLine(800));
    const kept = gunzipSync(await buffer(body.open()))
      .toString()
      .split('\n')
      .slice(1, -1)
      .map((l) => JSON.parse(l));
    // What was kept is a prefix of the trace; what was not is counted, line for line.
    expect(kept).toEqual(lines.slice(0, kept.length).map((l) => JSON.parse(l)));
    expect(kept.length + spool.droppedLines).toBe(lines.length);
    expect(body.byteLength).toBeLessThan(16 * 1024 + 4096);
    await body.dispose();
  });

  it('never keeps the process alive: a recording left unfinished exits at once', () => {
    const script = `
      import { createEventSpool } from ${JSON.stringify(new URL('../src/spool/event-spool.ts', import.meta.url).href)};
      const spool = createEventSpool({ spoolDir: ${JSON.stringify(dir)}, key: 'traces/u/t.jsonl.gz', batchBytes: 4096 });
      for (let i = 0; i < 2000; i++) spool.append(JSON.stringify({ event: 'E', i, pad: 'x'.repeat(200) }) + '\\n');
    `;
    const hooks = new URL('./reliability/fixtures/ts-source-hooks.mjs', import.meta.url);
    const t0 = Date.now();
    const res = spawnSync(process.execPath, ['--import', hooks.href, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    // Well below the flush timer's interval and the lease: neither timer nor worker held it open.
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
