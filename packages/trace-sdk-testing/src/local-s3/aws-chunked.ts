/**
 * Decoding `Content-Encoding: aws-chunked` request bodies, which the AWS SDK v3 sends for streamed
 * PutObject/UploadPart bodies with `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`:
 * `<hex size>\r\n<data>\r\n ... 0\r\n<trailer>:<value>\r\n\r\n`. The payload streams through;
 * only the trailers are kept.
 *
 * @packageDocumentation
 */
import { Transform, type TransformCallback } from 'node:stream';

const CRLF = Buffer.from('\r\n');
const MAX_LINE = 8192;

/** The body is not valid aws-chunked framing. */
export class AwsChunkedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AwsChunkedError';
  }
}

/** Streams the payload out of an aws-chunked body; `trailers` is filled once it has ended. */
export class AwsChunkedDecoder extends Transform {
  /** Trailing headers (lowercased names), e.g. `x-amz-checksum-crc32`. */
  readonly trailers = new Map<string, string>();
  #state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  #pending: Buffer = Buffer.alloc(0);
  #remaining = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // Tolerate a body that ends right after its trailers, without the final empty line.
    const complete = this.#state === 'done' || (this.#state === 'trailer' && this.#pending.length === 0);
    callback(complete ? null : new AwsChunkedError('aws-chunked body ended before its last chunk'));
  }

  #consume(input: Buffer): void {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, input]) : input;
    this.#pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (this.#state === 'data') {
        const take = Math.min(this.#remaining, buf.length);
        this.push(buf.subarray(0, take));
        this.#remaining -= take;
        buf = buf.subarray(take);
        if (this.#remaining === 0) this.#state = 'data-end';
        continue;
      }
      if (this.#state === 'done') {
        if (buf.toString('latin1').trim() !== '')
          throw new AwsChunkedError('bytes after the aws-chunked trailer');
        return;
      }
      const eol = buf.indexOf(CRLF);
      if (eol < 0) {
        if (buf.length > MAX_LINE) throw new AwsChunkedError('aws-chunked line too long');
        this.#pending = Buffer.from(buf);
        return;
      }
      const line = buf.subarray(0, eol).toString('latin1');
      buf = buf.subarray(eol + 2);
      this.#line(line);
    }
  }

  #line(line: string): void {
    switch (this.#state) {
      case 'data-end':
        if (line !== '') throw new AwsChunkedError('aws-chunked chunk longer than its declared size');
        this.#state = 'size';
        return;
      case 'size': {
        // `<hex>` or `<hex>;chunk-signature=<sig>`; signed chunks are refused before decoding.
        const size = /^([0-9a-fA-F]{1,16})(;.*)?$/.exec(line)?.[1];
        if (size === undefined) throw new AwsChunkedError('malformed aws-chunked size line');
        this.#remaining = Number.parseInt(size, 16);
        this.#state = this.#remaining === 0 ? 'trailer' : 'data';
        return;
      }
      case 'trailer': {
        if (line === '') {
          this.#state = 'done';
          return;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) throw new AwsChunkedError('malformed aws-chunked trailer');
        this.trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        return;
      }
      default:
        throw new AwsChunkedError('unexpected aws-chunked state');
    }
  }
}
