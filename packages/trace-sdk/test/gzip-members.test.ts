import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  gzipMember,
  gzipMemberSync,
  inflateMember,
  parseGzipHeader,
  readGzipMembers,
} from '../src/compress/gzip-members.js';
import { TraceFormatError } from '../src/errors.js';

async function* chunks(bytes: Buffer, size = bytes.length): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function members(bytes: Buffer, size?: number, opts?: Parameters<typeof readGzipMembers>[1]) {
  const out: Array<{ text: string; verified: boolean; end: number | undefined }> = [];
  for await (const m of readGzipMembers(chunks(bytes, size), opts)) {
    out.push({ text: m.data.toString(), verified: m.verified, end: m.compressedEnd });
  }
  return out;
}

async function formatError(promise: Promise<unknown>): Promise<TraceFormatError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TraceFormatError);
  return err as TraceFormatError;
}

/** A member with every optional header field (FEXTRA, FNAME, FCOMMENT, FHCRC), as gzip(1) may write. */
function memberWithAllHeaderFields(text: string): Buffer {
  const plain = gzipSync(Buffer.from(text));
  const deflated = plain.subarray(10);
  const head = Buffer.concat([
    Buffer.from([0x1f, 0x8b, 8, 0x04 | 0x08 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3]),
    Buffer.from([3, 0, 0x41, 0x42, 0x43]),
    Buffer.from('name.jsonl\0'),
    Buffer.from('a comment\0'),
  ]);
  const hcrc = Buffer.alloc(2);
  hcrc.writeUInt16LE(crc32(head) & 0xffff);
  return Buffer.concat([head, hcrc, deflated]);
}

describe('gzipMember', () => {
  it('writes mtime 0 and OS 255 so output depends on the input alone, sync and async alike', async () => {
    const data = Buffer.from('{"event":"A"}\n'.repeat(1000));
    const a = gzipMemberSync(data);
    const b = await gzipMember(data);
    expect(a.equals(b)).toBe(true);
    expect(a.readUInt32LE(4)).toBe(0);
    expect(a[9]).toBe(255);
    expect(gunzipSync(a).equals(data)).toBe(true);
  });

  it('makes members whose concatenation is one gzip stream', () => {
    const body = Buffer.concat([gzipMemberSync(Buffer.from('a\n')), gzipMemberSync(Buffer.from('b\n'))]);
    expect(gunzipSync(body).toString()).toBe('a\nb\n');
  });
});

describe('parseGzipHeader / inflateMember', () => {
  it('parses optional header fields and checks the header CRC', () => {
    const m = memberWithAllHeaderFields('hello\n');
    expect(gunzipSync(m).toString()).toBe('hello\n');
    const res = inflateMember(m, 1024);
    expect(res.kind).toBe('ok');
    expect(res.kind === 'ok' && res.data.toString()).toBe('hello\n');
    const bad = Buffer.from(m);
    bad[12] = (bad[12] ?? 0) ^ 0xff;
    expect(() => inflateMember(bad, 1024)).toThrow(TraceFormatError);
  });

  it('asks for more bytes while the header or the member is incomplete', () => {
    const m = gzipMemberSync(Buffer.from('x'.repeat(5000)));
    for (const cut of [0, 1, 5, 9, m.length - 8, m.length - 1]) {
      expect(inflateMember(m.subarray(0, cut), 1 << 20).kind).toBe('need-more');
    }
    expect(parseGzipHeader(m.subarray(0, 3))).toEqual({ kind: 'need-more' });
  });

  it('rejects non-gzip bytes and reserved flags', () => {
    expect(() => parseGzipHeader(Buffer.from('{"event"'))).toThrow(TraceFormatError);
    const m = gzipMemberSync(Buffer.from('x'));
    m[3] = 0x80;
    expect(() => parseGzipHeader(m)).toThrow(TraceFormatError);
  });

  it('reports a member larger than the limit instead of inflating it', () => {
    const m = gzipMemberSync(Buffer.alloc(2 << 20, 0x61));
    expect(inflateMember(m, 1 << 20).kind).toBe('too-large');
  });
});

describe('readGzipMembers', () => {
  const a = gzipMemberSync(Buffer.from('{"n":1}\n'));
  const b = gzipMemberSync(Buffer.from('{"n":2}\n{"n":3}\n'));
  const body = Buffer.concat([a, b]);

  it('yields each verified member with its end offset, however the input is chunked', async () => {
    for (const size of [1, 3, 7, 64, body.length]) {
      expect(await members(body, size)).toEqual([
        { text: '{"n":1}\n', verified: true, end: a.length },
        { text: '{"n":2}\n{"n":3}\n', verified: true, end: body.length },
      ]);
    }
  });

  it('accepts trailing zero padding, as gzip(1) does', async () => {
    expect(await members(Buffer.concat([body, Buffer.alloc(100)]))).toHaveLength(2);
  });

  it('ends with ERR_TRACE_TRUNCATED inside a member, after yielding the complete ones', async () => {
    const out: string[] = [];
    const err = await formatError(
      (async () => {
        for await (const m of readGzipMembers(chunks(body.subarray(0, body.length - 3), 5)))
          out.push(m.data.toString());
      })(),
    );
    expect(err.code).toBe('ERR_TRACE_TRUNCATED');
    expect(out).toEqual(['{"n":1}\n']);
  });

  it('ends with ERR_TRACE_CORRUPT on garbage after the last member or a checksum mismatch', async () => {
    expect((await formatError(members(Buffer.concat([body, Buffer.from('junk')])))).code).toBe(
      'ERR_TRACE_CORRUPT',
    );
    const flipped = Buffer.from(body);
    flipped[a.length - 6] = (flipped[a.length - 6] ?? 0) ^ 1; // inside a's CRC-32
    expect((await formatError(members(flipped))).code).toBe('ERR_TRACE_CORRUPT');
  });

  it('streams a member too large to verify in memory (e.g. a single-member file), or refuses it', async () => {
    const big = gzipSync(Buffer.from('{"n":0}\n'.repeat(200_000)));
    const out = await members(Buffer.concat([big, a]), 64 * 1024, { maxMemberBytes: 64 * 1024 });
    expect(out.map((m) => m.text).join('')).toBe(`${'{"n":0}\n'.repeat(200_000)}{"n":1}\n`);
    expect(out.every((m) => !m.verified)).toBe(true);
    const err = await formatError(members(big, undefined, { maxMemberBytes: 64 * 1024, verifiedOnly: true }));
    expect(err.code).toBe('ERR_TRACE_CORRUPT');
  });

  it('maps a truncated member in streaming mode to ERR_TRACE_TRUNCATED', async () => {
    const big = gzipSync(Buffer.from('{"n":0}\n'.repeat(200_000)));
    const err = await formatError(
      members(big.subarray(0, big.length - 10), 4096, { maxMemberBytes: 64 * 1024 }),
    );
    expect(err.code).toBe('ERR_TRACE_TRUNCATED');
  });
});
