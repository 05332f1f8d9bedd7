/**
 * Minting presigned PUT URLs scoped to one exact trace key, for the orchestrator (and for the
 * uploader Lambda's large-body path). The AWS SDK is loaded lazily: `@aws-sdk/client-s3` and
 * `@aws-sdk/s3-request-presigner` are optional peer dependencies.
 *
 * @packageDocumentation
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { AttributionError, ConfigError, UploadError } from '../errors.js';
import { traceKey } from '../key.js';
import { type AttributionClaims, attributionMetadata } from './attribution.js';
import { presignedUrlExpiresAt } from './presigned-url.js';
import { TRACE_CONTENT_TYPE } from './trace-object.js';

/** Options of {@link createTraceUploadUrl}. */
export interface CreateTraceUploadUrlOptions extends AttributionClaims {
  /**
   * The S3 client that signs. It must be configured with
   * `requestChecksumCalculation: 'WHEN_REQUIRED'` (use {@link createTraceS3Client}).
   */
  readonly s3: S3Client;
  /** The artifacts bucket. */
  readonly bucket: string;
  /** Owner of the trace (a valid id). */
  readonly userId: string;
  /** Task of the trace (a valid id). */
  readonly taskId: string;
  /**
   * URL lifetime in seconds, 1 to 604 800 (SigV4's maximum). Default 3600. Cut to the expiry of
   * temporary signing credentials: S3 refuses the URL once they expire.
   */
  readonly expiresIn?: number | undefined;
  /**
   * The body's exact size, signed as `Content-Length`: S3 then accepts only that many bytes.
   * Required unless `allowUnboundedSize` (a presigned PUT cannot carry a size range); the
   * presigned-PUT transport tells its URL provider the sealed `byteLength` for this.
   */
  readonly contentLength?: number | undefined;
  /**
   * Largest `contentLength` this call signs, in bytes. Default
   * {@link DEFAULT_MAX_TRACE_OBJECT_BYTES}. Larger → `UploadError` `ERR_UPLOAD_TOO_LARGE`.
   */
  readonly maxBytes?: number | undefined;
  /**
   * Mint without `contentLength`, e.g. a fixed `TRACE_UPLOAD_URL` handed out before the trace
   * exists. S3 then accepts any body up to 5 GiB at this key until the URL expires: prefer a
   * provider function that passes the sealed length. Default false.
   */
  readonly allowUnboundedSize?: boolean | undefined;
  /**
   * Fail closed unless `s3`'s credentials carry `operator` as STS `SourceIdentity` (a client from
   * `createSourceIdentityS3Client`), so CloudTrail's S3 data event names the same person as the
   * object's metadata. Default false.
   */
  readonly requireSourceIdentity?: boolean | undefined;
  /**
   * Where the attribution metadata is signed. `headers` (default): signed `x-amz-meta-*` headers
   * the uploader must send (returned in `headers`); S3 refuses a PUT that drops or changes them.
   * `query`: hoisted into the signed query string, for a bare URL handed out with no way to pass
   * headers (e.g. `TRACE_UPLOAD_URL`); changing it still breaks the signature.
   */
  readonly metadataIn?: 'headers' | 'query' | undefined;
  /**
   * When the body's SHA-256 (lowercase hex) is known, it is signed as `x-amz-checksum-sha256`:
   * S3 then stores only a body with that hash, and the uploader must send the header returned in
   * `headers`.
   */
  readonly sha256?: string | undefined;
}

/** A presigned PUT for one trace. */
export interface TraceUploadUrl {
  /** The presigned URL. A bearer credential for `key`: never log it. */
  readonly url: string;
  /** The object key the URL writes, from `traceKey`. */
  readonly key: string;
  /** When the URL stops working. */
  readonly expiresAt: Date;
  /**
   * Headers the uploader must send for the signature to match: Content-Type, the signed checksum,
   * and the `x-amz-meta-agent-trace-*` attribution. Content-Length is signed too when given.
   */
  readonly headers: Readonly<Record<string, string>>;
}

/** Longest lifetime SigV4 presigning allows, in seconds (7 days). */
export const MAX_PRESIGN_EXPIRES_IN = 604_800;
/**
 * Default largest trace object a presigned URL (or the uploader Lambda) accepts: 64 MiB, above
 * what the recorder's default 50 MiB of uncompressed events can compress to.
 */
export const DEFAULT_MAX_TRACE_OBJECT_BYTES = 64 * 1024 * 1024;
/** S3's largest single PUT: 5 GiB. */
export const S3_MAX_PUT_BYTES = 5 * 1024 ** 3;

/** The operator each S3 client's credentials carry as STS SourceIdentity (see `createSourceIdentityS3Client`). */
const sourceIdentities = new WeakMap<object, string>();

/** Records that `s3` signs with credentials whose STS session carries `sourceIdentity`. */
export function bindSourceIdentity(s3: S3Client, sourceIdentity: string): void {
  sourceIdentities.set(s3, sourceIdentity);
}

/** The STS SourceIdentity `s3`'s credentials were assumed with, when known. */
export function sourceIdentityOf(s3: S3Client): string | undefined {
  return sourceIdentities.get(s3);
}

async function loadS3() {
  try {
    return await import('@aws-sdk/client-s3');
  } catch (err) {
    throw new ConfigError(
      'the orchestrator helpers need @aws-sdk/client-s3 and @aws-sdk/s3-request-presigner installed',
      '@aws-sdk/client-s3',
      { cause: err },
    );
  }
}

async function loadPresigner() {
  try {
    return await import('@aws-sdk/s3-request-presigner');
  } catch (err) {
    throw new ConfigError(
      'createTraceUploadUrl needs @aws-sdk/s3-request-presigner installed',
      '@aws-sdk/s3-request-presigner',
      { cause: err },
    );
  }
}

/**
 * Builds an S3 client fit for presigning trace uploads: `requestChecksumCalculation:
 * 'WHEN_REQUIRED'` on top of your configuration.
 *
 * Why: since @aws-sdk/client-s3 3.729.0 the default (`WHEN_SUPPORTED`) computes a CRC32 of the
 * request body for every PutObject. At presign time there is no body, so the SDK signs the CRC32
 * of an EMPTY body (`x-amz-checksum-crc32=AAAAAA==`) into the URL, and S3 then rejects every
 * non-empty upload to it as a checksum mismatch.
 */
export async function createTraceS3Client(config: S3ClientConfig = {}): Promise<S3Client> {
  const { S3Client } = await loadS3();
  return new S3Client({ ...config, requestChecksumCalculation: 'WHEN_REQUIRED' });
}

/** When the client's (temporary) signing credentials expire, in epoch ms; undefined when they do not say. */
async function credentialsExpiration(s3: S3Client): Promise<number | undefined> {
  const provider: unknown = s3?.config?.credentials;
  if (typeof provider !== 'function') return undefined;
  try {
    const identity = (await provider()) as { expiration?: unknown } | undefined;
    return identity?.expiration instanceof Date ? identity.expiration.getTime() : undefined;
  } catch {
    // The signer resolves them again and reports its own error.
    return undefined;
  }
}

/** Throws unless the client presigns without the SDK's default body checksum (see {@link createTraceS3Client}). */
export async function assertPresignableClient(s3: S3Client): Promise<void> {
  const setting = s3?.config?.requestChecksumCalculation;
  const value = typeof setting === 'function' ? await setting() : setting;
  if (value !== 'WHEN_REQUIRED') {
    throw new ConfigError(
      "the S3 client must be created with requestChecksumCalculation: 'WHEN_REQUIRED' (use createTraceS3Client): " +
        'otherwise the SDK signs an empty-body CRC32 into the URL and S3 rejects every non-empty upload',
      'requestChecksumCalculation',
    );
  }
}

/**
 * Mints a presigned PUT URL for exactly `traceKey({ userId, taskId })` in `bucket`.
 * Signed headers: Content-Type (`application/gzip`), `Content-Length` (the exact size), the
 * body's `x-amz-checksum-sha256` when given, and the attribution as `x-amz-meta-agent-trace-*`
 * (user, task, and the operator and session id when given). S3 refuses a PUT that drops or
 * changes any of them, so the runtime must send `headers` as returned.
 *
 * @throws {@link ConfigError} for a client without `requestChecksumCalculation: 'WHEN_REQUIRED'`,
 *   a bad bucket or expiry, or no `contentLength` without `allowUnboundedSize`.
 * @throws {@link UploadError} `ERR_UPLOAD_TOO_LARGE` for a `contentLength` above `maxBytes`.
 * @throws {@link AttributionError} when attribution was asked for and cannot be bound (a bad
 *   operator or session id; `requireSourceIdentity` with a client that does not carry it).
 * @throws {@link TraceKeyError} for invalid ids.
 * @example
 * const s3 = await createTraceS3Client({ region: 'eu-west-1' });
 * presignedPutTransport({
 *   url: async ({ userId, taskId, byteLength, sha256 }) =>
 *     createTraceUploadUrl({ s3, bucket, userId, taskId, contentLength: byteLength, sha256, operator }),
 * });
 */
export async function createTraceUploadUrl(options: CreateTraceUploadUrlOptions): Promise<TraceUploadUrl> {
  const { s3, bucket, userId, taskId } = options;
  const key = traceKey({ userId, taskId });
  if (typeof bucket !== 'string' || bucket.length === 0)
    throw new ConfigError('bucket is required', 'bucket');
  const expiresIn = options.expiresIn ?? 3600;
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_EXPIRES_IN) {
    throw new ConfigError(
      `expiresIn must be a whole number of seconds from 1 to ${MAX_PRESIGN_EXPIRES_IN}`,
      'expiresIn',
    );
  }
  if (
    options.contentLength !== undefined &&
    (!Number.isSafeInteger(options.contentLength) || options.contentLength < 0)
  ) {
    throw new ConfigError('contentLength must be a non-negative integer', 'contentLength');
  }
  if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(options.sha256)) {
    throw new ConfigError('sha256 must be 64 lowercase hex characters', 'sha256');
  }
  const inQuery = options.metadataIn === 'query';
  if (options.metadataIn !== undefined && options.metadataIn !== 'headers' && !inQuery) {
    throw new ConfigError("metadataIn must be 'headers' or 'query'", 'metadataIn');
  }
  // A truthy non-boolean (e.g. the string "true" from an environment variable) must not mint
  // silently without the CloudTrail binding it asked for.
  if (options.requireSourceIdentity !== undefined && typeof options.requireSourceIdentity !== 'boolean') {
    throw new ConfigError('requireSourceIdentity must be true or false', 'requireSourceIdentity');
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_TRACE_OBJECT_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > S3_MAX_PUT_BYTES) {
    throw new ConfigError(
      `maxBytes must be a whole number of bytes from 1 to ${S3_MAX_PUT_BYTES}`,
      'maxBytes',
    );
  }
  if (options.contentLength === undefined && options.allowUnboundedSize !== true) {
    throw new ConfigError(
      'contentLength is required so that S3 enforces the size (pass the sealed byteLength the URL provider is given), ' +
        'or set allowUnboundedSize: true to mint a URL that accepts up to 5 GiB',
      'contentLength',
    );
  }
  if (options.contentLength !== undefined && options.contentLength > maxBytes) {
    throw new UploadError(
      'ERR_UPLOAD_TOO_LARGE',
      `the trace is ${options.contentLength} bytes; at most ${maxBytes} may be presigned`,
      { retryable: false },
    );
  }
  // Fails closed on bad claims before anything is signed.
  const metadata = attributionMetadata(
    { userId, taskId, operator: options.operator, sessionId: options.sessionId },
    'presigned-url',
  );
  if (options.requireSourceIdentity === true) {
    if (options.operator === undefined) {
      throw new AttributionError('source_identity_unbound', 'requireSourceIdentity needs an operator');
    }
    if (sourceIdentityOf(s3) !== options.operator) {
      throw new AttributionError(
        'source_identity_unbound',
        "the S3 client's credentials do not carry the operator as STS SourceIdentity (use createSourceIdentityS3Client)",
      );
    }
  }
  await assertPresignableClient(s3);
  const [{ PutObjectCommand }, { getSignedUrl }] = await Promise.all([loadS3(), loadPresigner()]);

  const checksum =
    options.sha256 === undefined ? undefined : Buffer.from(options.sha256, 'hex').toString('base64');
  const command = new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    ContentType: TRACE_CONTENT_TYPE,
    Metadata: metadata,
    ...(options.contentLength !== undefined ? { ContentLength: options.contentLength } : {}),
    ...(checksum !== undefined ? { ChecksumSHA256: checksum } : {}),
  });
  const metaHeaders = Object.keys(metadata).map((name) => `x-amz-meta-${name}`);
  const signableHeaders = new Set(['content-type']);
  if (options.contentLength !== undefined) signableHeaders.add('content-length');
  // x-amz-* headers are hoisted into the query string unless told otherwise. The checksum and the
  // attribution must stay signed headers: S3 checks the body against the one and stores the other.
  const unhoistableHeaders = new Set(inQuery ? [] : metaHeaders);
  if (checksum !== undefined) unhoistableHeaders.add('x-amz-checksum-sha256');
  const signedAt = Date.now();
  // S3 refuses a URL signed with temporary credentials once they expire, whatever X-Amz-Expires
  // says (e.g. a createSourceIdentityS3Client session): sign no longer than they last.
  const credentialsEnd = await credentialsExpiration(s3);
  const lifetime =
    credentialsEnd === undefined
      ? expiresIn
      : Math.max(1, Math.min(expiresIn, Math.floor((credentialsEnd - signedAt) / 1000)));
  const url = await getSignedUrl(s3, command, {
    expiresIn: lifetime,
    signableHeaders,
    unhoistableHeaders,
  });
  // Belt and braces: a body checksum in the query string means the client computed one for an
  // empty body; such a URL can never accept the trace.
  if (/[?&]x-amz-checksum-(?:crc32c?|crc64nvme|sha1)=/i.test(url)) {
    throw new ConfigError(
      'the presigned URL carries an SDK-computed body checksum; see createTraceS3Client',
      'requestChecksumCalculation',
    );
  }
  const headers: Record<string, string> = { 'content-type': TRACE_CONTENT_TYPE };
  if (checksum !== undefined) headers['x-amz-checksum-sha256'] = checksum;
  if (!inQuery) for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
  const expiresAt = presignedUrlExpiresAt(new URL(url)) ?? signedAt + lifetime * 1000;
  return { url, key, expiresAt: new Date(expiresAt), headers };
}
