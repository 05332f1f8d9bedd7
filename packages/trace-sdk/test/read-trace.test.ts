import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipMemberSync } from '../src/compress/gzip-members.js';
import { ConfigError, TraceFormatError } from '../src/errors.js';
import { readTrace, readTraceHeader, readTraceLines } from '../src/read/read-trace.js';
import { createEventSpool } from '../src/spool/event-spool.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-trace-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header = (events: number) => ({
  event: 'TRAJECTORY_ARTIFACT_HEADER',
  task_id: 't',
  accumulated_events: events,
});
const events = (n: number) =>
  Array.from({ length: n }, (_, seq) => ({
    event: 'TRAJECTORY_TURN',
    task_id: 't',
    seq,
    text: `turn ${seq} ${'·'.repeat(seq % 90)}`,
  }));
const jsonl = (objs: object[]) => objs.map((o) => `${JSON.stringify(o)}\n`).join('');

/** A real artifact built by the spool, with small members so damage can land anywhere. */
async function artifact(n: number, batchBytes = 512): Promise<{ bytes: Buffer; lines: object[] }> {
  const spool = createEventSpool({ spoolDir: dir, key: 'traces/u/t.jsonl.gz', batchBytes });
  const evs = events(n);
  for (const e of evs) spool.append(`${JSON.stringify(e)}\n`);
  const body = await spool.seal(JSON.stringify(header(n)));
  const bytes = await buffer(body.open());
  await body.dispose();
  return { bytes, lines: [header(n), ...evs] };
}

interface Outcome {
  lines: unknown[];
  error: unknown;
}

async function read(
  source: Parameters<typeof readTrace>[0],
  opts?: Parameters<typeof readTrace>[1],
): Promise<Outcome> {
  const lines: unknown[] = [];
  try {
    for await (const line of readTrace(source, opts)) lines.push(line);
    return { lines, error: undefined };
  } catch (error) {
    return { lines, error };
  }
}

function expectFormatError(outcome: Outcome, code: string): void {
  expect(outcome.error).toBeInstanceOf(TraceFormatError);
  expect((outcome.error as TraceFormatError).code).toBe(code);
  expect((outcome.error as TraceFormatError).linesRead).toBe(outcome.lines.length);
}

describe('readTrace', () => {
  it('reads a file, a buffer, a Readable and an async iterable alike, header first', async () => {
    const { bytes, lines } = await artifact(40);
    const path = join(dir, 'a.jsonl.gz');
    await writeFile(path, bytes);
    async function* pieces() {
      for (let i = 0; i < bytes.length; i += 7) yield new Uint8Array(bytes.subarray(i, i + 7));
    }
    for (const source of [path, bytes, new Uint8Array(bytes), Readable.from([bytes]), pieces()]) {
      expect(await read(source)).toEqual({ lines, error: undefined });
    }
  });

  it('yields each line with its text and size through readTraceLines', async () => {
    const { bytes } = await artifact(3);
    const out = [];
    for await (const line of readTraceLines(bytes)) out.push(line);
    expect(out[1]).toEqual({
      value: events(3)[0],
      text: JSON.stringify(events(3)[0]),
      bytes: JSON.stringify(events(3)[0]).length + 1,
    });
  });

  it('reads a single-member file as the Python agent writes it, including one too large to verify whole', async () => {
    const small = gzipSync(Buffer.from(jsonl([header(2), ...events(2)])));
    expect((await read(small)).lines).toHaveLength(3);
    const many = events(60_000);
    const text = Buffer.from(jsonl([header(many.length), ...many]));
    expect(text.length).toBeGreaterThan(8 * 1024 * 1024); // past what the reader verifies whole
    const big = gzipSync(text);
    const out = await read(Readable.from([big]));
    expect(out.error).toBeUndefined();
    expect(out.lines).toHaveLength(60_001);
  });

  it('requires the header unless told not to', async () => {
    const headerless = gzipSync(Buffer.from(jsonl(events(3))));
    expectFormatError(await read(headerless), 'ERR_TRACE_NO_HEADER');
    expect(await read(headerless, { requireHeader: false })).toEqual({ lines: events(3), error: undefined });
    expectFormatError(await read(gzipSync(Buffer.alloc(0))), 'ERR_TRACE_NO_HEADER');
  });

  it('reports an empty input as truncated', async () => {
    expectFormatError(await read(Buffer.alloc(0)), 'ERR_TRACE_TRUNCATED');
  });

  it('yields every complete line of a truncated stream, then ERR_TRACE_TRUNCATED', async () => {
    const { bytes, lines } = await artifact(200);
    const out = await read(bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expectFormatError(out, 'ERR_TRACE_TRUNCATED');
    expect(out.lines.length).toBeGreaterThan(1);
    expect(out.lines).toEqual(lines.slice(0, out.lines.length));
  });

  it('notices a body cut exactly at a member boundary through the header count', async () => {
    const h = gzipMemberSync(Buffer.from(jsonl([header(4)])));
    const m1 = gzipMemberSync(Buffer.from(jsonl(events(2))));
    const out = await read(Buffer.concat([h, m1]));
    expectFormatError(out, 'ERR_TRACE_TRUNCATED');
    expect(out.lines).toHaveLength(3);
    expect((await read(Buffer.concat([h, m1]), { verifyCounts: false })).error).toBeUndefined();
    const extra = gzipMemberSync(Buffer.from(jsonl(events(3))));
    expectFormatError(await read(Buffer.concat([h, m1, extra])), 'ERR_TRACE_CORRUPT');
  });

  it('treats a torn last line as truncated', async () => {
    const text = `${jsonl([header(2), ...events(1)])}{"event":"TRAJECTORY_TURN","seq":1,"te`;
    const out = await read(gzipSync(Buffer.from(text)));
    expectFormatError(out, 'ERR_TRACE_TRUNCATED');
    expect(out.lines).toHaveLength(2);
  });

  it('rejects non-gzip input and lines that are not JSON objects as corrupt', async () => {
    expectFormatError(await read(Buffer.from(jsonl([header(0)]))), 'ERR_TRACE_CORRUPT');
    for (const bad of ['[1,2]', '42', 'null', '"s"', '{"a":']) {
      const out = await read(gzipSync(Buffer.from(`${jsonl([header(1)])}${bad}\n`)));
      expectFormatError(out, 'ERR_TRACE_CORRUPT');
      expect(out.lines).toHaveLength(1);
    }
  });

  it('skips blank lines', async () => {
    const out = await read(gzipSync(Buffer.from(`${jsonl([header(1)])}\n${jsonl(events(1))}\n`)));
    expect(out).toEqual({ lines: [header(1), events(1)[0]], error: undefined });
  });

  it('caps line length, so a hostile file cannot exhaust memory', async () => {
    const long = `${jsonl([header(1)])}{"text":"${'a'.repeat(2 * 1024 * 1024)}"}\n`;
    expectFormatError(await read(gzipSync(Buffer.from(long))), 'ERR_TRACE_CORRUPT');
    // 64 MiB of zeros without a newline, 64 KiB compressed: refused after about a MiB.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const out = await read(Buffer.concat([gzipMemberSync(Buffer.from(jsonl([header(0)]))), bomb]));
    expectFormatError(out, 'ERR_TRACE_CORRUPT');
    expect(out.lines).toHaveLength(1);
    expect((await read(gzipSync(Buffer.from(long)), { maxLineBytes: 4 * 1024 * 1024 })).lines).toHaveLength(
      2,
    );
  });

  it('refuses a bad source or maxLineBytes with a ConfigError naming the option, not a bare TypeError', async () => {
    const drain = async (it: AsyncIterable<unknown>) => {
      for await (const _ of it);
    };
    for (const maxLineBytes of [0, -1, 1.5, Number.NaN]) {
      const err = await drain(readTrace(gzipSync(Buffer.from(jsonl([header(0)]))), { maxLineBytes })).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ code: 'ERR_TRACE_CONFIG', variable: 'maxLineBytes' });
    }
    const err = await drain(readTrace(42 as never)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'ERR_TRACE_CONFIG', variable: 'source' });
  });

  it.skipIf(process.platform !== 'linux')('closes the file when the reader stops early', async () => {
    // Incompressible events, so the file is far larger than one read of the file stream.
    const noisy = Array.from({ length: 400 }, (_, seq) => ({
      seq,
      noise: randomBytes(3000).toString('base64'),
    }));
    const path = join(dir, 'early.jsonl.gz');
    await writeFile(
      path,
      Buffer.concat([
        gzipMemberSync(Buffer.from(jsonl([header(400)]))),
        gzipMemberSync(Buffer.from(jsonl(noisy)), { level: 1 }),
      ]),
    );
    expect((await stat(path)).size).toBeGreaterThan(1024 * 1024);
    const openCount = async () => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === path) n++;
      }
      return n;
    };
    expect(await readTraceHeader(path)).toEqual(header(400));
    for await (const _ of readTrace(path)) break;
    await new Promise((r) => setTimeout(r, 50));
    expect(await openCount()).toBe(0);
  });

  it('reads only the header with readTraceHeader, and refuses a file without one', async () => {
    const { bytes } = await artifact(10);
    expect(await readTraceHeader(bytes.subarray(0, bytes.length - 20))).toEqual(header(10));
    await expect(readTraceHeader(gzipSync(Buffer.from(jsonl(events(2)))))).rejects.toMatchObject({
      code: 'ERR_TRACE_NO_HEADER',
    });
  });

  it('on any cut or corruption yields a prefix of the real lines then a TraceFormatError, or all lines', async () => {
    const { bytes, lines } = await artifact(60, 300);
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: bytes.length - 1 }) }),
      fc.record({
        kind: fc.constant('flip' as const),
        flips: fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
      }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat({ max: bytes.length }),
        junk: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(damage, fc.integer({ min: 1, max: 4096 }), async (d, chunk) => {
        let damaged: Buffer;
        if (d.kind === 'cut') damaged = bytes.subarray(0, d.at);
        else if (d.kind === 'flip') {
          damaged = Buffer.from(bytes);
          for (const [at, mask] of d.flips) damaged[at] = (damaged[at] ?? 0) ^ mask;
        } else damaged = Buffer.concat([bytes.subarray(0, d.at), d.junk, bytes.subarray(d.at)]);
        async function* pieces() {
          for (let i = 0; i < damaged.length; i += chunk) yield damaged.subarray(i, i + chunk);
        }
        const out = await read(pieces());
        expect(out.lines).toEqual(lines.slice(0, out.lines.length));
        if (out.error === undefined) expect(out.lines).toHaveLength(lines.length);
        else {
          expect(out.error).toBeInstanceOf(TraceFormatError);
          expect((out.error as TraceFormatError).linesRead).toBe(out.lines.length);
        }
      }),
      { numRuns: 400 },
    );
  });
});
