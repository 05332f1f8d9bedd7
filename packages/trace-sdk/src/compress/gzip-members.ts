/**
 * Gzip members: the unit the spool writes and the reader verifies.
 *
 * A trace body is a concatenation of gzip members (RFC 1952 §2.2), which every gzip reader treats
 * as one stream. Writing: {@link gzipMember} / {@link gzipMemberSync} compress one batch with a
 * normalized header (mtime 0, OS "unknown"), so the same bytes in give the same bytes out on any
 * platform that ships the same zlib. Reading: {@link readGzipMembers} inflates member by member and
 * checks each member's CRC-32 and length *before* handing its bytes on, so a flipped bit can never
 * surface as plausible-looking data.
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';
import { constants, crc32, createGunzip, gzip, gzipSync, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { TraceFormatError } from '../errors.js';

/** Gzip's OS byte for "unknown"; Python's `gzip` writes it too. Node writes 3 (Unix) or 10 (Windows). */
const OS_UNKNOWN = 255;
const GZIP_HEADER_BYTES = 10;
const FLG_FHCRC = 0x02;
const FLG_FEXTRA = 0x04;
const FLG_FNAME = 0x08;
const FLG_FCOMMENT = 0x10;
const FLG_RESERVED = 0xe0;
/** A header with names or extra fields beyond this is not something a trace writer produces. */
const MAX_GZIP_HEADER_BYTES = 64 * 1024;

/** Compression settings of one member. */
export interface GzipMemberOptions {
  /** zlib level 0-9; default zlib's own default (6). */
  readonly level?: number | undefined;
  /** Smallest output chunk to ask zlib for: a spool passes one size for all its batches. */
  readonly chunkBytes?: number | undefined;
}

const CHUNK_GRANULE = 64 * 1024;

/** zlib's worst-case gzip member size for `n` input bytes (deflateBound plus the gzip wrapper). */
export function gzipBound(n: number): number {
  return n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 18;
}

/**
 * One output chunk large enough for the whole member, rounded to 64 KiB and at least
 * `opts.chunkBytes`. A single chunk means no intermediate pieces to concatenate, and when every
 * batch asks the allocator for the same size, freed chunks are reused instead of fragmenting the
 * heap: measured, RSS stays flat where 64 KiB or output-sized chunks let it creep up. Chunking never
 * changes the compressed bytes.
 */
function zlibOptions(opts: GzipMemberOptions, inputBytes: number): ZlibOptions {
  const chunkSize = Math.max(
    opts.chunkBytes ?? 0,
    Math.ceil(gzipBound(inputBytes) / CHUNK_GRANULE) * CHUNK_GRANULE,
  );
  return { level: opts.level ?? constants.Z_DEFAULT_COMPRESSION, chunkSize };
}

/** Pins the header bytes zlib derives from the platform, so output depends on the input alone. */
function normalizeHeader(member: Buffer): Buffer {
  // Bytes 4-7 are MTIME, which zlib always writes as 0; byte 9 is the OS. The header has no
  // FHCRC, so patching the OS byte keeps the member valid.
  member[9] = OS_UNKNOWN;
  return member;
}

/**
 * Compresses `data` as one complete gzip member on the libuv threadpool. The result may be a view
 * of a larger allocation: copy it before keeping it long.
 */
export function gzipMember(data: Uint8Array, opts: GzipMemberOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(data, zlibOptions(opts, data.length), (err, out) =>
      err ? reject(err) : resolve(normalizeHeader(out)),
    );
  });
}

/** Compresses `data` as one complete gzip member on the calling thread. */
export function gzipMemberSync(data: Uint8Array, opts: GzipMemberOptions = {}): Buffer {
  return normalizeHeader(gzipSync(data, zlibOptions(opts, data.length)));
}

/** Result of {@link parseGzipHeader}. */
type HeaderParse = { readonly kind: 'ok'; readonly length: number } | { readonly kind: 'need-more' };

function corrupt(message: string, cause?: unknown): TraceFormatError {
  return new TraceFormatError('ERR_TRACE_CORRUPT', message, 0, { cause });
}

function truncated(message: string, cause?: unknown): TraceFormatError {
  return new TraceFormatError('ERR_TRACE_TRUNCATED', message, 0, { cause });
}

/**
 * Parses the gzip member header at the start of `buf` (RFC 1952 §2.3).
 *
 * @throws TraceFormatError `ERR_TRACE_CORRUPT` when the bytes are not a gzip header.
 */
export function parseGzipHeader(buf: Buffer): HeaderParse {
  if (buf.length >= 1 && buf[0] !== 0x1f) throw corrupt('Not gzip data (bad magic bytes)');
  if (buf.length >= 2 && buf[1] !== 0x8b) throw corrupt('Not gzip data (bad magic bytes)');
  if (buf.length >= 3 && buf[2] !== 8) throw corrupt('Unsupported gzip compression method');
  if (buf.length < GZIP_HEADER_BYTES) return { kind: 'need-more' };
  const flags = buf[3]!;
  if ((flags & FLG_RESERVED) !== 0) throw corrupt('Reserved gzip header flags are set');
  let pos = GZIP_HEADER_BYTES;
  const needMore = (): HeaderParse => {
    if (buf.length > MAX_GZIP_HEADER_BYTES) throw corrupt('Gzip header is implausibly long');
    return { kind: 'need-more' };
  };
  if ((flags & FLG_FEXTRA) !== 0) {
    if (buf.length < pos + 2) return needMore();
    pos += 2 + buf.readUInt16LE(pos);
    if (buf.length < pos) return needMore();
  }
  for (const flag of [FLG_FNAME, FLG_FCOMMENT]) {
    if ((flags & flag) === 0) continue;
    const end = buf.indexOf(0, pos);
    if (end === -1) return needMore();
    pos = end + 1;
  }
  if ((flags & FLG_FHCRC) !== 0) {
    if (buf.length < pos + 2) return needMore();
    if ((crc32(buf.subarray(0, pos)) & 0xffff) !== buf.readUInt16LE(pos)) {
      throw corrupt('Gzip header checksum mismatch');
    }
    pos += 2;
  }
  return { kind: 'ok', length: pos };
}

/** Result of {@link inflateMember}. */
export type MemberInflate =
  /** A complete member whose CRC-32 and length matched. `end` is its byte length in `buf`. */
  | { readonly kind: 'ok'; readonly data: Buffer; readonly end: number }
  /** `buf` ends before the member does. */
  | { readonly kind: 'need-more' }
  /** The member inflates to more than `maxOutputBytes`. */
  | { readonly kind: 'too-large' };

/**
 * Inflates the gzip member at the start of `buf` and verifies its trailer. Bytes after the member
 * are ignored.
 *
 * @throws TraceFormatError `ERR_TRACE_CORRUPT` on invalid deflate data or a trailer mismatch.
 */
export function inflateMember(buf: Buffer, maxOutputBytes: number): MemberInflate {
  const header = parseGzipHeader(buf);
  if (header.kind === 'need-more') return header;
  let data: Buffer;
  let consumed: number;
  try {
    // `info: true` exposes the engine, whose bytesWritten is the input consumed up to the end of the
    // deflate stream; what follows is the 8-byte trailer and then the next member.
    const res = inflateRawSync(buf.subarray(header.length), {
      info: true,
      maxOutputLength: maxOutputBytes,
    }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    data = res.buffer;
    consumed = res.engine.bytesWritten;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') return { kind: 'need-more' };
    if (code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'too-large' };
    throw corrupt('Invalid deflate data in gzip member', err);
  }
  const trailer = header.length + consumed;
  if (buf.length < trailer + 8) return { kind: 'need-more' };
  if (buf.readUInt32LE(trailer) !== crc32(data) || buf.readUInt32LE(trailer + 4) !== data.length % 2 ** 32) {
    throw corrupt('Gzip member checksum mismatch');
  }
  return { kind: 'ok', data, end: trailer + 8 };
}

/** Options of {@link readGzipMembers}. */
export interface ReadGzipMembersOptions {
  /**
   * Largest member inflated and verified before its bytes are released (default 8 MiB). Trace
   * writers produce ~1 MiB members; a larger member (e.g. a single-member file from the Python
   * agent) is streamed instead, unless `verifiedOnly`.
   */
  readonly maxMemberBytes?: number | undefined;
  /** Treat a member larger than `maxMemberBytes` as corrupt instead of streaming it unverified. */
  readonly verifiedOnly?: boolean | undefined;
}

/** One piece of decompressed output from {@link readGzipMembers}. */
export interface GzipOutput {
  /** Decompressed bytes. */
  readonly data: Buffer;
  /** True when `data` is a whole member whose checksum matched. */
  readonly verified: boolean;
  /** For verified members: the offset in the compressed input just past this member. */
  readonly compressedEnd: number | undefined;
}

const DEFAULT_MAX_MEMBER_BYTES = 8 * 1024 * 1024;
/** Compressed bytes buffered while looking for a member's end before streaming it instead. */
const MAX_COMPRESSED_WINDOW = 32 * 1024 * 1024;
const MIN_ATTEMPT_BYTES = 64 * 1024;

/** Pull-based view of a byte source, so one buffer can be grown until a member fits. */
class ByteQueue {
  private readonly iterator: AsyncIterator<unknown>;
  private parts: Buffer[] = [];
  private length_ = 0;
  eof = false;

  constructor(source: AsyncIterable<unknown>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  get length(): number {
    return this.length_;
  }

  /** Reads one more chunk; false at end of input. */
  async pull(): Promise<boolean> {
    if (this.eof) return false;
    const next = await this.iterator.next();
    if (next.done === true) {
      this.eof = true;
      return false;
    }
    const chunk = next.value;
    if (!(chunk instanceof Uint8Array)) throw corrupt('Trace source yielded a non-binary chunk');
    if (chunk.length === 0) return true;
    this.parts.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.length_ += chunk.length;
    return true;
  }

  /** Everything buffered, as one buffer (concatenated once, then kept). */
  peek(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts, this.length_)];
    return this.parts[0] ?? Buffer.alloc(0);
  }

  consume(n: number): void {
    const rest = this.peek().subarray(n);
    this.parts = rest.length > 0 ? [rest] : [];
    this.length_ = rest.length;
  }

  /** The buffered bytes followed by the rest of the source. */
  async *drain(): AsyncGenerator<Buffer> {
    const head = this.parts;
    this.parts = [];
    this.length_ = 0;
    yield* head;
    while (await this.pull()) {
      const parts = this.parts;
      this.parts = [];
      this.length_ = 0;
      yield* parts;
    }
  }

  /** Releases the source (e.g. closes a file stream when the reader stops early). Not awaited:
   * a generator source that is mid-`next()` finishes its pending step first. */
  close(): void {
    Promise.resolve(this.iterator.return?.()).catch(() => {});
  }
}

/**
 * Decompresses a stream of concatenated gzip members. Each member up to `maxMemberBytes` is
 * inflated whole and checked (CRC-32, length) before its bytes are yielded; trailing zero padding
 * is accepted as gzip(1) does.
 *
 * @throws TraceFormatError `ERR_TRACE_TRUNCATED` when the input ends inside a member,
 *   `ERR_TRACE_CORRUPT` on anything that is not valid gzip. `linesRead` is 0: callers that count
 *   lines re-raise with their own count.
 */
export async function* readGzipMembers(
  source: AsyncIterable<unknown>,
  opts: ReadGzipMembersOptions = {},
): AsyncGenerator<GzipOutput, void, undefined> {
  const maxMemberBytes = opts.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES;
  const input = new ByteQueue(source);
  let offset = 0;
  try {
    for (;;) {
      if (input.length === 0 && !(await input.pull())) return;
      if (input.peek()[0] === 0) {
        await expectZeroPadding(input);
        return;
      }
      let attempt = MIN_ATTEMPT_BYTES;
      for (;;) {
        while (input.length < attempt && (await input.pull())) {
          // Buffer up to the attempt size before inflating again, so retries stay linear overall.
        }
        const res = inflateMember(input.peek(), maxMemberBytes);
        if (res.kind === 'ok') {
          offset += res.end;
          input.consume(res.end);
          yield { data: res.data, verified: true, compressedEnd: offset };
          break;
        }
        if (res.kind === 'need-more') {
          if (input.eof) throw truncated('The gzip stream ends inside a member');
          if (input.length < MAX_COMPRESSED_WINDOW) {
            attempt = Math.max(attempt, input.length) * 2;
            continue;
          }
        }
        // Too large to verify in memory.
        if (opts.verifiedOnly === true) throw corrupt('Gzip member is larger than allowed');
        yield* streamRest(input);
        return;
      }
    }
  } finally {
    input.close();
  }
}

async function expectZeroPadding(input: ByteQueue): Promise<void> {
  for (;;) {
    const buf = input.peek();
    for (const byte of buf) if (byte !== 0) throw corrupt('Garbage after the last gzip member');
    input.consume(buf.length);
    if (!(await input.pull())) return;
  }
}

/** Streams the remaining members through zlib's own multi-member gunzip: bounded, but unverified. */
async function* streamRest(input: ByteQueue): AsyncGenerator<GzipOutput> {
  const gunzip = createGunzip();
  const feed = async () => {
    try {
      for await (const chunk of input.drain()) {
        if (!gunzip.write(chunk)) {
          await new Promise<void>((r) => {
            gunzip.once('drain', r);
            gunzip.once('close', r);
          });
        }
        if (gunzip.destroyed) return;
      }
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  };
  void feed();
  try {
    for await (const data of gunzip as Readable & AsyncIterable<Buffer>) {
      yield { data, verified: false, compressedEnd: undefined };
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') throw truncated('The gzip stream ends inside a member', err);
    // Other zlib failures are bad data; anything else (the source's own I/O errors) passes through.
    if (typeof code === 'string' && code.startsWith('Z_')) throw corrupt('Invalid gzip data', err);
    throw err;
  } finally {
    gunzip.destroy();
  }
}
