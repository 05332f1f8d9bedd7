/**
 * The body checksums S3 verifies: `Content-MD5` and the flexible `x-amz-checksum-*` algorithms,
 * computed incrementally as the body streams through. Values are base64, as S3 sends them.
 *
 * @packageDocumentation
 */
import { createHash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';

/** Algorithms the local S3 verifies; any other `x-amz-checksum-*` is accepted unchecked. */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'sha1', 'sha256'] as const;
/** One of {@link CHECKSUM_ALGORITHMS}. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** True when `name` (e.g. from `x-amz-checksum-<name>`) is an algorithm we verify. */
export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** A table-driven (reflected) CRC-32 over `polynomial`, continuing from `previous`. */
export function crcFunction(polynomial: number): (data: Uint8Array, previous: number) => number {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? polynomial ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data, previous) => {
    let crc = ~previous >>> 0;
    for (const byte of data) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
    return ~crc >>> 0;
  };
}

const crc32c = crcFunction(0x82f63b78);
// zlib.crc32 (native, fast) exists from Node 22.2; the table version covers older 22.x.
const crc32: (data: Uint8Array, previous: number) => number =
  typeof zlib.crc32 === 'function' ? (data, previous) => zlib.crc32(data, previous) : crcFunction(0xedb88320);

/** An incremental digest producing the base64 form S3 uses. */
export interface Digest {
  update(chunk: Uint8Array): void;
  digest(): string;
}

class CrcDigest implements Digest {
  readonly #step: (data: Uint8Array, previous: number) => number;
  #value = 0;
  constructor(step: (data: Uint8Array, previous: number) => number) {
    this.#step = step;
  }
  update(chunk: Uint8Array): void {
    this.#value = this.#step(chunk, this.#value);
  }
  digest(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.#value >>> 0);
    return out.toString('base64');
  }
}

class HashDigest implements Digest {
  readonly #hash: Hash;
  constructor(algorithm: string) {
    this.#hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }
  digest(): string {
    return this.#hash.digest('base64');
  }
}

/** A fresh incremental digest for `algorithm` (`md5` for `Content-MD5`). */
export function createDigest(algorithm: ChecksumAlgorithm | 'md5'): Digest {
  switch (algorithm) {
    case 'crc32':
      return new CrcDigest(crc32);
    case 'crc32c':
      return new CrcDigest(crc32c);
    default:
      return new HashDigest(algorithm);
  }
}
