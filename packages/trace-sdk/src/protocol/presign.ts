/**
 * Minting presigned PUT URLs scoped to one exact trace key, for the orchestrator (and for the
 * uploader Lambda's large-body path). The AWS SDK is loaded lazily: `@aws-sdk/client-s3` and
 * `@aws-sdk/s3-request-presigner` are optional peer dependencies.
 *
 * @packageDocumentation
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import { traceKey } from '../key.js';
import { presignedUrlExpiresAt } from './presigned-url.js';
import { TRACE_CONTENT_TYPE } from './trace-object.js';

/** Options of {@link createTraceUploadUrl}. */
export interface CreateTraceUploadUrlOptions {
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
  /** URL lifetime in seconds, 1 to 604 800 (SigV4's maximum). Default 3600. */
  readonly expiresIn?: number | undefined;
  /** When the body size is known, it is signed too: the URL then accepts only that many bytes. */
  readonly contentLength?: number | undefined;
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
  /** Headers the uploader must send for the signature to match (Content-Type, and a signed checksum). */
  readonly headers: Readonly<Record<string, string>>;
}

/** Longest lifetime SigV4 presigning allows, in seconds (7 days). */
export const MAX_PRESIGN_EXPIRES_IN = 604_800;

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
 * Content-Type (`application/gzip`) is a signed header, so the URL cannot store another type;
 * `contentLength` and `sha256`, when given, are signed as well.
 *
 * @throws {@link ConfigError} for a client without `requestChecksumCalculation: 'WHEN_REQUIRED'`,
 *   a bad bucket or expiry.
 * @throws {@link TraceKeyError} for invalid ids.
 * @example
 * const s3 = await createTraceS3Client({ region: 'eu-west-1' });
 * const { url } = await createTraceUploadUrl({ s3, bucket, userId, taskId, expiresIn: 3600 });
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
  await assertPresignableClient(s3);
  const [{ PutObjectCommand }, { getSignedUrl }] = await Promise.all([loadS3(), loadPresigner()]);

  const checksum =
    options.sha256 === undefined ? undefined : Buffer.from(options.sha256, 'hex').toString('base64');
  const command = new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    ContentType: TRACE_CONTENT_TYPE,
    ...(options.contentLength !== undefined ? { ContentLength: options.contentLength } : {}),
    ...(checksum !== undefined ? { ChecksumSHA256: checksum } : {}),
  });
  const signableHeaders = new Set(['content-type']);
  if (options.contentLength !== undefined) signableHeaders.add('content-length');
  const signedAt = Date.now();
  const url = await getSignedUrl(s3, command, {
    expiresIn,
    signableHeaders,
    // x-amz-* headers are hoisted into the query string unless told otherwise; the checksum must
    // stay a header so S3 checks the body against it.
    ...(checksum !== undefined ? { unhoistableHeaders: new Set(['x-amz-checksum-sha256']) } : {}),
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
  const expiresAt = presignedUrlExpiresAt(new URL(url)) ?? signedAt + expiresIn * 1000;
  return { url, key, expiresAt: new Date(expiresAt), headers };
}
