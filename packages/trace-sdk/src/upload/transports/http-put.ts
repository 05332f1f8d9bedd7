/**
 * The one undici PUT of an artifact to a presigned URL, shared by the presigned-PUT transport
 * and the uploader Lambda's large-body path: local checks before any byte is sent (scheme, the
 * URL names exactly the artifact's key), a streamed body with a known Content-Length, S3 error
 * parsing, the ETag check, the clock skew learned from S3's `Date`, and one refresh of an expired
 * URL. Whether a URL has expired is S3's call, not the local clock's: a host whose clock runs
 * ahead must still be able to upload.
 *
 * @packageDocumentation
 */
import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { type Dispatcher, request } from 'undici';
import { ConfigError, UploadError } from '../../errors.js';
import { booleanOption, numberOption } from '../../option-checks.js';
import { isPresignedUrlExpired, uploadUrlProblem, urlObjectLocation } from '../../protocol/presigned-url.js';
import { describeUrl, safeCause, safeErrorMessage } from '../../sanitize.js';
import { classifyUploadError } from '../classify.js';
import { TRACE_CONTENT_TYPE, type TraceArtifact, type UploadReceipt } from '../types.js';
import { clockSkewFrom, reportClockSkew } from './clock-skew.js';
import { discardBody, headerValue, readBodyPrefix } from './http-body.js';
import { isExpiredUrlResponse, parseS3ErrorXml, uploadErrorFromResponse } from './s3-error.js';

/** A URL to PUT to, plus any headers its signature requires. */
export interface PresignedTarget {
  /** The presigned URL. Never logged or put in an error; only `describeUrl(url)` is. */
  readonly url: string;
  /**
   * Headers the uploader must send because they were signed into the URL, e.g. a signed
   * `x-amz-checksum-sha256`. Content-Type and Content-Length are always sent.
   */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** HTTP knobs shared by the transports that PUT to presigned URLs. */
export interface HttpPutOptions {
  /** undici dispatcher (an Agent, a ProxyAgent, a MockAgent in tests). Default: the global one. */
  readonly dispatcher?: Dispatcher | undefined;
  /** Longest wait for response headers, refreshed while the body is being sent, in ms. Default 60 000. */
  readonly headersTimeoutMs?: number | undefined;
  /** Longest gap between response body chunks, in ms. Default 60 000. */
  readonly bodyTimeoutMs?: number | undefined;
  /**
   * Confirm the write from the response's ETag (default true): a 2xx answer must carry an ETag,
   * and where S3 documents it as the MD5 of the body (single PUTs to plaintext or SSE-S3 buckets;
   * not SSE-KMS/SSE-C) it must equal the MD5 of the bytes sent. A 2xx without an ETag (a proxy or
   * gateway that answered without storing) or with a wrong one is `ERR_UPLOAD_CHECKSUM`, not
   * retried, and the artifact is kept like any failed upload. Costs an MD5 pass over the body.
   * `false` accepts any 2xx (for S3-compatible servers that send no ETag).
   */
  readonly verifyEtag?: boolean | undefined;
}

/**
 * The {@link HttpPutOptions} of a transport's options, checked: timeouts are whole milliseconds
 * from 1 to about 24.8 days, `verifyEtag` a boolean, `dispatcher` an undici Dispatcher.
 *
 * @throws {@link ConfigError} naming the bad option.
 */
export function httpPutOptions(owner: string, options: HttpPutOptions): HttpPutOptions {
  const timeout = (name: 'headersTimeoutMs' | 'bodyTimeoutMs') =>
    options[name] === undefined
      ? undefined
      : numberOption(owner, name, options[name], DEFAULT_TIMEOUT_MS, {
          min: 1,
          max: 2 ** 31 - 1,
          integer: true,
        });
  const dispatcher = options.dispatcher;
  if (dispatcher !== undefined && typeof (dispatcher as { dispatch?: unknown })?.dispatch !== 'function') {
    throw new ConfigError(
      `${owner}: dispatcher must be an undici Dispatcher (Agent, Pool, MockAgent, ...)`,
      'dispatcher',
    );
  }
  return {
    dispatcher,
    headersTimeoutMs: timeout('headersTimeoutMs'),
    bodyTimeoutMs: timeout('bodyTimeoutMs'),
    verifyEtag: booleanOption(owner, 'verifyEtag', options.verifyEtag),
  };
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Headers a target may not override: the body's own framing and type are ours. */
const RESERVED_HEADERS = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'host',
]);

type PutOutcome =
  | { readonly ok: true; readonly receipt: UploadReceipt }
  | { readonly ok: false; readonly error: UploadError; readonly expired: boolean };

function rejected(transport: string, message: string): UploadError {
  return new UploadError('ERR_UPLOAD_REJECTED', `${transport}: ${message}`, { transport, retryable: false });
}

/**
 * Checks a target before any byte is sent: a usable URL that writes exactly `artifact.key`.
 * Returns the parsed URL and the bucket when the URL names one.
 */
export function checkTarget(
  target: PresignedTarget,
  artifact: TraceArtifact,
  transport: string,
): { url: URL; bucket: string | undefined } {
  if (typeof target?.url !== 'string') throw rejected(transport, 'the upload URL is not a string');
  const problem = uploadUrlProblem(target.url);
  if (problem !== undefined) throw rejected(transport, `the upload URL ${problem}`);
  const url = new URL(target.url);
  const location = urlObjectLocation(url, artifact.key);
  if (location === undefined) {
    // Defence in depth: a URL minted for another key (another task, another user) is never used.
    throw rejected(transport, `the upload URL ${describeUrl(url)} does not name the key ${artifact.key}`);
  }
  return { url, bucket: location.bucket };
}

/** A lowercase hex SHA-256 as the base64 S3 uses in `x-amz-checksum-sha256`. */
function sha256Base64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

function md5Tap(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

/** Whether the response's ETag can be compared with an MD5 of the body (S3's documented cases). */
function etagIsMd5(etag: string, headers: Record<string, string | string[] | undefined>): boolean {
  const sse = headerValue(headers, 'x-amz-server-side-encryption');
  if (sse?.startsWith('aws:kms')) return false;
  if (headerValue(headers, 'x-amz-server-side-encryption-customer-algorithm') !== undefined) return false;
  return /^"?[0-9a-f]{32}"?$/i.test(etag);
}

/** One PUT of the artifact to `target`. Local refusals throw; server answers come back as outcomes. */
export async function putOnce(
  target: PresignedTarget,
  artifact: TraceArtifact,
  options: HttpPutOptions & { readonly transport: string; readonly signal?: AbortSignal | undefined },
): Promise<PutOutcome> {
  const { transport, signal } = options;
  const { url, bucket } = checkTarget(target, artifact, transport);
  const safeTarget = describeUrl(url);
  if (signal?.aborted) throw classifyUploadError(signal.reason, transport, signal);

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    if (!RESERVED_HEADERS.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  headers['content-type'] = TRACE_CONTENT_TYPE;
  headers['content-length'] = String(artifact.byteLength);

  const source = artifact.open();
  // With the artifact's SHA-256 signed in as x-amz-checksum-sha256, S3 checks every byte itself
  // (BadDigest otherwise) and echoes the checksum: no need to hash the body again here.
  const sentChecksum = headers['x-amz-checksum-sha256'];
  const s3Verifies = sentChecksum !== undefined && sentChecksum === sha256Base64(artifact.sha256);
  const md5 = options.verifyEtag === false || s3Verifies ? undefined : createHash('md5');
  let body: Readable = source;
  if (md5) {
    const tap = md5Tap(md5);
    source.on('error', (err) => tap.destroy(err));
    body = source.pipe(tap);
  }

  let response: Dispatcher.ResponseData;
  const sentAt = Date.now();
  try {
    response = await request(url, {
      method: 'PUT',
      headers,
      body,
      signal,
      dispatcher: options.dispatcher,
      headersTimeout: options.headersTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      bodyTimeout: options.bodyTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
  } catch (err) {
    if (
      !signal?.aborted &&
      (err as { code?: unknown } | null)?.code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'
    ) {
      // The artifact's stream is longer or shorter than its byteLength: undici stopped before
      // S3 could store a wrong body. Re-reading the same artifact cannot fix it.
      throw new UploadError(
        'ERR_UPLOAD_CHECKSUM',
        `${transport}: the artifact body is not ${artifact.byteLength} bytes long; nothing was stored at ${safeTarget}`,
        { transport, retryable: false, cause: safeCause(err) },
      );
    }
    const mapped = classifyUploadError(err, transport, signal);
    if (mapped.code === 'ERR_UPLOAD_NETWORK') {
      throw new UploadError(
        'ERR_UPLOAD_NETWORK',
        `${transport}: PUT ${safeTarget} failed: ${safeErrorMessage(err)}`,
        { transport, retryable: true, cause: safeCause(err) },
      );
    }
    throw mapped;
  } finally {
    // undici owns the body while sending; make sure a file handle never outlives the attempt.
    if (!source.destroyed && !source.readableEnded) source.destroy();
  }

  const { statusCode, headers: responseHeaders } = response;
  const clockSkewMs = clockSkewFrom(responseHeaders, sentAt, Date.now());
  reportClockSkew(transport, clockSkewMs);
  if (statusCode >= 200 && statusCode < 300) {
    await discardBody(response.body);
    const etag = headerValue(responseHeaders, 'etag');
    const echoed = headerValue(responseHeaders, 'x-amz-checksum-sha256');
    if (s3Verifies && options.verifyEtag !== false && echoed !== undefined && echoed !== sentChecksum) {
      const error = new UploadError(
        'ERR_UPLOAD_CHECKSUM',
        `${transport}: ${safeTarget} confirmed another SHA-256 than the one sent`,
        { transport, status: statusCode, retryable: false },
      );
      return { ok: false, error, expired: false };
    }
    const confirmed = etag !== undefined || (s3Verifies && echoed !== undefined);
    if (options.verifyEtag !== false && !confirmed) {
      const error = new UploadError(
        'ERR_UPLOAD_CHECKSUM',
        `${transport}: ${safeTarget} answered ${statusCode} without an ETag, so the write is not confirmed (verifyEtag: false accepts such servers)`,
        { transport, status: statusCode, retryable: false },
      );
      return { ok: false, error, expired: false };
    }
    if (md5 && etag !== undefined && etagIsMd5(etag, responseHeaders)) {
      const sent = md5.digest('hex');
      if (etag.replace(/"/g, '').toLowerCase() !== sent) {
        const error = new UploadError(
          'ERR_UPLOAD_CHECKSUM',
          `${transport}: the stored object's ETag does not match the MD5 of the bytes sent to ${safeTarget}`,
          { transport, status: statusCode, retryable: false },
        );
        return { ok: false, error, expired: false };
      }
    }
    return {
      ok: true,
      receipt: {
        key: artifact.key,
        ...(bucket !== undefined ? { uri: `s3://${bucket}/${artifact.key}` } : {}),
        ...(etag !== undefined ? { etag } : {}),
        ...(clockSkewMs ? { clockSkewMs } : {}),
      },
    };
  }

  const text = await readBodyPrefix(response.body);
  const details = parseS3ErrorXml(text);
  const error = uploadErrorFromResponse({
    transport,
    target: safeTarget,
    status: statusCode,
    headers: responseHeaders,
    body: text,
  });
  // A 403 for a URL whose own expiry has passed by the server's clock is an expiry, whatever the
  // body says (our clock corrected by the skew S3's Date showed; ours alone without one).
  const serverNow = Date.now() + (clockSkewMs ?? 0);
  const expired =
    isExpiredUrlResponse(statusCode, details) ||
    (statusCode === 403 && isPresignedUrlExpired(url, serverNow));
  return { ok: false, error, expired };
}

function expiredError(
  transport: string,
  artifact: TraceArtifact,
  why: string,
  last?: UploadError,
): UploadError {
  return new UploadError(
    'ERR_UPLOAD_URL_EXPIRED',
    `${transport}: the upload URL for ${artifact.key} ${why}`,
    {
      transport,
      ...(last?.status !== undefined ? { status: last.status } : {}),
      ...(last?.s3Code !== undefined ? { s3Code: last.s3Code } : {}),
      retryable: false,
      ...(last ? { cause: last } : {}),
    },
  );
}

/**
 * Uploads to a presigned target, refreshing an expired URL at most once, after S3 answers that it
 * has expired (never on the local clock alone: S3 judges by its own). Without `refresh` (a fixed
 * URL) an expired URL is `ERR_UPLOAD_URL_EXPIRED`.
 */
export async function uploadToPresignedTarget(params: {
  readonly artifact: TraceArtifact;
  readonly transport: string;
  readonly signal?: AbortSignal | undefined;
  readonly http: HttpPutOptions;
  /** The target to try first. */
  readonly target: PresignedTarget;
  /** Asks for a fresh target; `undefined` when the URL cannot be refreshed. */
  readonly refresh?: (() => Promise<PresignedTarget>) | undefined;
}): Promise<UploadReceipt> {
  const { artifact, transport, refresh } = params;
  const put = (target: PresignedTarget) =>
    putOnce(target, artifact, { ...params.http, transport, signal: params.signal });

  const first = await put(params.target);
  if (first.ok) return first.receipt;
  if (!first.expired) throw first.error;
  if (!refresh) throw expiredError(transport, artifact, 'has expired and cannot be refreshed', first.error);

  const second = await put(await refresh());
  if (second.ok) return second.receipt;
  if (second.expired) throw expiredError(transport, artifact, 'expired again after a refresh', second.error);
  throw second.error;
}
