/**
 * What the recorder passes on to its spool and reports back: the compression level (option and
 * `TRACE_COMPRESSION_LEVEL`), and a spool directory that cannot be written.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, createTraceRecorder, readTrace } from '../src/index.js';
import { memoryTransport, tempDir } from './recorder-support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await cleanup();
});

/** The compressed size of the same 300 events at `level` (undefined: the default). */
async function sizeAt(level: number | undefined): Promise<number> {
  const transport = memoryTransport();
  const rec = createTraceRecorder({
    userId: 'u',
    taskId: 't',
    transport,
    spoolDir: dir,
    ...(level === undefined ? {} : { compressionLevel: level }),
  });
  for (let i = 0; i < 300; i++)
    rec.record({ event: 'E', i, text: `the same words again and again ${i % 7} `.repeat(20) });
  const result = await rec.finish();
  expect(result.status).toBe('uploaded');
  return transport.uploads[0]!.body.byteLength;
}

describe('compression level', () => {
  it('reaches the spool: level 0 stores, level 9 compresses', async () => {
    const stored = await sizeAt(0);
    const best = await sizeAt(9);
    expect(best * 5).toBeLessThan(stored);
  });

  it('is read from TRACE_COMPRESSION_LEVEL when the option is absent, and the option wins', async () => {
    vi.stubEnv('TRACE_COMPRESSION_LEVEL', '0');
    const fromEnv = await sizeAt(undefined);
    const fromOption = await sizeAt(9);
    expect(fromOption * 5).toBeLessThan(fromEnv);
  });

  it.each([['10'], ['fast'], ['1.5']])('refuses TRACE_COMPRESSION_LEVEL=%s, naming the variable', (value) => {
    vi.stubEnv('TRACE_COMPRESSION_LEVEL', value);
    expect(() => createTraceRecorder({ userId: 'u', taskId: 't', transport: null, spoolDir: dir })).toThrow(
      expect.objectContaining({ variable: 'TRACE_COMPRESSION_LEVEL' }),
    );
  });

  it('refuses a level outside -1..9 as a ConfigError naming the option', () => {
    expect(() =>
      createTraceRecorder({ userId: 'u', taskId: 't', transport: null, spoolDir: dir, compressionLevel: 12 }),
    ).toThrow(ConfigError);
  });
});

describe('a spool directory that cannot be written', () => {
  it('costs no upload: the trace is kept in memory, uploaded, and the result says why', async () => {
    const notADir = join(dir, 'file');
    await writeFile(notADir, 'x');
    const transport = memoryTransport();
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport,
      spoolDir: join(notADir, 'spool'),
      limits: { spoolMemoryBytes: 0 },
    });
    for (let i = 0; i < 2000; i++) rec.record({ event: 'E', i, pad: `${i}`.repeat(100) });
    const result = await rec.finish();
    expect(result).toMatchObject({ status: 'uploaded', events: 2000 });
    expect(result.spoolUnavailable).toEqual(expect.any(String));
    let events = 0;
    for await (const line of readTrace(transport.uploads[0]!.body)) if (line.event === 'E') events++;
    expect(events).toBe(2000);
  });
});

describe('limits.flushIntervalMs', () => {
  async function partBytesAfter(flushIntervalMs: number): Promise<number> {
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: null,
      spoolDir: dir,
      limits: { flushIntervalMs },
    });
    for (let i = 0; i < 50; i++) rec.record({ event: 'E', i });
    await new Promise((r) => setTimeout(r, 600));
    const parts = (await readdir(dir)).filter((n) => n.endsWith('.events.gz.part'));
    const bytes = parts.length === 0 ? 0 : (await stat(join(dir, parts[0]!))).size;
    await rec.abort();
    return bytes;
  }

  it('puts a small, idle trace on disk within the interval', async () => {
    expect(await partBytesAfter(100)).toBeGreaterThan(0);
  });

  it('0 turns the timer off: a small trace stays in memory', async () => {
    expect(await partBytesAfter(0)).toBe(0);
  });
});

describe('maxBytes counts as the Python agent does', () => {
  // Python: drop when accumulated + len(json.dumps(event)) > max_bytes; the newline is not counted.
  const event = { event: 'E', text: 'some words of a turn' };
  const recorderWith = (maxBytes: number) =>
    createTraceRecorder({ userId: 'u', taskId: 't', transport: null, spoolDir: dir, maxBytes, now: () => 1 });

  it('keeps an event whose JSON is exactly the remaining budget, and drops one byte more', async () => {
    const probe = recorderWith(1_000_000);
    probe.record(event);
    const json = probe.stats().bytes;
    await probe.abort();
    const exact = recorderWith(json);
    expect(exact.record(event)).toBe(true);
    const short = recorderWith(json - 1);
    expect(short.record(event)).toBe(false);
    const result = await exact.finish();
    expect(result).toMatchObject({ events: 1, uncompressedBytes: json });
    await short.abort();
  });
});
