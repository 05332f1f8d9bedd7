/**
 * Receiving a request body: decode aws-chunked framing, stream it to the store, and check it
 * against everything the client bound it to (the signed payload hash, `Content-MD5`,
 * `x-amz-checksum-*` headers, query parameters or trailers, `x-amz-decoded-content-length`).
 * On any mismatch the written bytes are discarded, so nothing becomes visible.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder, AwsChunkedError } from './aws-chunked.js';
import { type ChecksumAlgorithm, createDigest, type Digest, isChecksumAlgorithm } from './checksums.js';
import { S3Error, s3Errors } from './s3-error.js';
import type { PayloadBinding } from './sigv4-verify.js';
import type { Blob, BlobSink } from './store.js';

/** What the body must match. */
export interface BodyExpectations {
  readonly payload: PayloadBinding;
  /** The body is aws-chunked framed (`Content-Encoding: aws-chunked` or a streaming payload). */
  readonly awsChunked: boolean;
  /** `x-amz-decoded-content-length`, when sent. */
  readonly decodedLength: number | undefined;
  /** `Content-MD5` (base64), when sent. */
  readonly contentMd5: string | undefined;
  /** `x-amz-checksum-<alg>` values sent up front (headers or presigned query), by algorithm. */
  readonly checksums: ReadonlyMap<string, string>;
  /** Checksum algorithms announced in `x-amz-trailer` (e.g. `crc32`). */
  readonly trailerAlgorithms: readonly string[];
}

/** A body that arrived intact. */
export interface ReceivedBody {
  readonly blob: Blob;
  /** Hex MD5 of the body (the ETag of a single PUT). */
  readonly md5Hex: string;
  /** Checksums that were sent and verified, by algorithm, base64. */
  readonly checksums: Readonly<Record<string, string>>;
}

const CHECKSUM_NAMES: Record<ChecksumAlgorithm, string> = {
  crc32: 'CRC32',
  crc32c: 'CRC32C',
  sha1: 'SHA1',
  sha256: 'SHA256',
};

/** Streams `source` into `sink` and verifies it; throws {@link S3Error} (after discarding) on mismatch. */
export async function receiveBody(
  source: Readable,
  sink: BlobSink,
  expect: BodyExpectations,
): Promise<ReceivedBody> {
  const md5 = createHash('md5');
  const sha256 = expect.payload.kind === 'sha256' ? createHash('sha256') : undefined;
  const digests = new Map<ChecksumAlgorithm, Digest>();
  for (const algorithm of [...expect.checksums.keys(), ...expect.trailerAlgorithms]) {
    if (isChecksumAlgorithm(algorithm) && !digests.has(algorithm))
      digests.set(algorithm, createDigest(algorithm));
  }
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.byteLength;
      md5.update(chunk);
      sha256?.update(chunk);
      for (const digest of digests.values()) digest.update(chunk);
      callback(null, chunk);
    },
  });
  const decoder = expect.awsChunked ? new AwsChunkedDecoder() : undefined;
  try {
    if (decoder !== undefined) await pipeline(source, decoder, tap, sink.writable);
    else await pipeline(source, tap, sink.writable);
  } catch (error) {
    await sink.discard();
    if (error instanceof AwsChunkedError) throw new S3Error(400, 'IncompleteBody', error.message);
    throw error;
  }
  const md5Digest = md5.digest();
  try {
    const checksums = verify();
    return { blob: sink.blob(), md5Hex: md5Digest.toString('hex'), checksums };
  } catch (error) {
    await sink.discard();
    throw error;
  }

  function verify(): Record<string, string> {
    if (expect.decodedLength !== undefined && expect.decodedLength !== size) {
      throw new S3Error(
        400,
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header',
      );
    }
    if (sha256 !== undefined && expect.payload.kind === 'sha256') {
      const computed = sha256.digest('hex');
      if (computed !== expect.payload.hex) {
        throw new S3Error(
          400,
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          {
            ClientComputedContentSHA256: expect.payload.hex,
            S3ComputedContentSHA256: computed,
          },
        );
      }
    }
    if (expect.contentMd5 !== undefined) {
      const sent = Buffer.from(expect.contentMd5, 'base64');
      if (sent.byteLength !== 16)
        throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
      if (!sent.equals(md5Digest)) {
        throw s3Errors.badDigest('The Content-MD5 you specified did not match what we received.');
      }
    }
    const sent = new Map(expect.checksums);
    for (const [name, value] of decoder?.trailers ?? []) {
      if (name.startsWith('x-amz-checksum-')) sent.set(name.slice('x-amz-checksum-'.length), value);
    }
    const verified: Record<string, string> = {};
    for (const [algorithm, value] of sent) {
      if (!isChecksumAlgorithm(algorithm)) continue; // unknown algorithms are accepted unchecked
      const digest = digests.get(algorithm);
      if (digest === undefined) {
        throw s3Errors.invalidRequest(
          `The trailer x-amz-checksum-${algorithm} was not announced in x-amz-trailer.`,
        );
      }
      const computed = digest.digest();
      if (computed !== value) {
        throw s3Errors.badDigest(
          `The ${CHECKSUM_NAMES[algorithm]} you specified did not match the calculated checksum.`,
        );
      }
      verified[algorithm] = value;
    }
    return verified;
  }
}
