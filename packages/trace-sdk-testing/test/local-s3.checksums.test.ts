import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crcFunction, createDigest } from '../src/local-s3/checksums.js';

const base64Of = (n: number) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n >>> 0);
  return out.toString('base64');
};

describe('checksums', () => {
  it('computes CRC32 and CRC32C check values, incrementally', () => {
    for (const [algorithm, check] of [
      ['crc32', 0xcbf43926],
      ['crc32c', 0xe3069283],
    ] as const) {
      const digest = createDigest(algorithm);
      digest.update(Buffer.from('1234'));
      digest.update(Buffer.from('56789'));
      expect(digest.digest()).toBe(base64Of(check));
    }
  });

  it('has a table CRC32 for Node versions without zlib.crc32 that agrees with zlib', () => {
    const table = crcFunction(0xedb88320);
    const data = randomBytes(10_000);
    expect(table(data.subarray(5000), table(data.subarray(0, 5000), 0))).toBe(crc32(data));
  });
});
