/**
 * What a write request (PutObject, UploadPart, CreateMultipartUpload) carries, read as S3 reads it:
 * user metadata, the stored attributes, the announced checksums, and the body itself, received into
 * the store after the length checks S3 makes first.
 *
 * @packageDocumentation
 */
import { type BodyExpectations, type ReceivedBody, receiveBody } from './body.js';
import { header, type S3Call } from './s3-call.js';
import { S3Error, s3Errors } from './s3-error.js';
import type { ObjectAttributes } from './store.js';

/** Largest single PUT S3 accepts. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

/** Largest total size of user metadata (names and values, UTF-8) S3 accepts on a write. */
export const MAX_METADATA_BYTES = 2048;

const META_PREFIX = 'x-amz-meta-';

/** A header value as Node received it (one char per byte) read as UTF-8, when it is valid UTF-8. */
function fromHeaderBytes(value: string): string {
  if (!/[^\x00-\x7f]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : value;
}

/**
 * User metadata as S3 takes it: every `x-amz-meta-*` header (repeated ones joined with `,`), plus,
 * on a presigned URL, every `x-amz-meta-*` query parameter (the AWS SDK hoists them there, and
 * the signature covers them). Names are lowercased, values kept as sent.
 */
export function userMetadata(call: Pick<S3Call, 'req' | 'query' | 'auth'>): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (call.auth.mode === 'presigned') {
    for (const [name, value] of Object.entries(call.query)) {
      const lower = name.toLowerCase();
      if (lower.startsWith(META_PREFIX) && lower.length > META_PREFIX.length) {
        metadata[lower.slice(META_PREFIX.length)] = Array.isArray(value) ? value.join(',') : value;
      }
    }
  }
  for (const [name, values] of Object.entries(call.req.headersDistinct)) {
    if (name.startsWith(META_PREFIX) && name.length > META_PREFIX.length && values !== undefined) {
      // Node hands header bytes over as latin1; S3 reads them as UTF-8.
      metadata[name.slice(META_PREFIX.length)] = fromHeaderBytes(values.join(','));
    }
  }
  const size = Object.entries(metadata).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
    0,
  );
  if (size > MAX_METADATA_BYTES) {
    throw new S3Error(
      400,
      'MetadataTooLarge',
      'Your metadata headers exceed the maximum allowed metadata size',
      {
        Size: String(size),
        MaxSizeAllowed: String(MAX_METADATA_BYTES),
      },
    );
  }
  return metadata;
}

/**
 * What S3 stores with an object from the write request: `Content-Type`, `Content-Encoding`
 * (without `aws-chunked`), `Content-Disposition`, `Cache-Control`, `Content-Language`, `Expires`
 * and user metadata.
 */
export function attributesFrom(
  call: Pick<S3Call, 'req' | 'query' | 'auth'>,
): Omit<ObjectAttributes, 'etag' | 'checksums'> {
  const { req } = call;
  const encodings = (header(req, 'content-encoding') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked');
  return {
    contentType: header(req, 'content-type'),
    contentEncoding: encodings.length > 0 ? encodings.join(',') : undefined,
    contentDisposition: header(req, 'content-disposition'),
    cacheControl: header(req, 'cache-control'),
    contentLanguage: header(req, 'content-language'),
    expires: header(req, 'expires'),
    metadata: userMetadata(call),
  };
}

export function checksumHeaders(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([alg, value]) => [`x-amz-checksum-${alg}`, value]));
}

/** Reads the body of a PUT into the store, after the length checks S3 makes first. */
export async function receive(call: S3Call): Promise<ReceivedBody> {
  const { req } = call;
  const decodedLength = header(req, 'x-amz-decoded-content-length');
  const contentLength = header(req, 'content-length');
  if (contentLength === undefined && decodedLength === undefined) {
    throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const declared = Number(decodedLength ?? contentLength);
  if (!Number.isSafeInteger(declared) || declared < 0) {
    throw s3Errors.invalidArgument('Content-Length must be a non-negative integer');
  }
  if (declared > MAX_PUT_BYTES) {
    throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(declared),
      MaxSizeAllowed: String(MAX_PUT_BYTES),
    });
  }
  const checksums = new Map<string, string>();
  for (const [name, value] of Object.entries(call.query)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-checksum-') && typeof value === 'string')
      checksums.set(lower.slice(15), value);
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (
      name.startsWith('x-amz-checksum-') &&
      name !== 'x-amz-checksum-type' &&
      name !== 'x-amz-checksum-algorithm'
    ) {
      checksums.set(name.slice(15), Array.isArray(value) ? value[0]! : value!);
    }
  }
  const trailerAlgorithms = (header(req, 'x-amz-trailer') ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.startsWith('x-amz-checksum-'))
    .map((t) => t.slice(15));
  const expectations: BodyExpectations = {
    payload: call.auth.payload,
    awsChunked:
      call.auth.payload.kind === 'streaming-trailer' ||
      (header(req, 'content-encoding') ?? '')
        .toLowerCase()
        .split(',')
        .some((e) => e.trim() === 'aws-chunked'),
    decodedLength: decodedLength === undefined ? undefined : Number(decodedLength),
    contentMd5: header(req, 'content-md5'),
    checksums,
    trailerAlgorithms,
  };
  return receiveBody(req, call.store.createSink(), expectations);
}
