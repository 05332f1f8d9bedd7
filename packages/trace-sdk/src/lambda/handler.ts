/**
 * The uploader Lambda: the only component holding `s3:PutObject` on `traces/*`. It stores a
 * trace for a runtime that presents an upload grant, at the key derived from that grant alone,
 * so a compromised runtime can write nowhere but its own task's key.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { AttributionError, ConfigError, GrantError } from '../errors.js';
import { functionOption, numberOption } from '../option-checks.js';
import { attributionMetadata } from '../protocol/attribution.js';
import {
  DEFAULT_GRANT_CLOCK_SKEW_MS,
  DEFAULT_MAX_GRANT_LIFETIME_SECONDS,
  type GrantKeys,
  MAX_GRANT_CLOCK_SKEW_MS,
  MIN_GRANT_SECRET_BYTES,
  type VerifiedUploadGrant,
  verifyUploadGrant,
} from '../protocol/grant.js';
import {
  base64Length,
  LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES,
  type UploaderErrorCode,
  type UploaderErrorResponse,
  type UploaderRequest,
  type UploaderResponse,
} from '../protocol/lambda-messages.js';
import {
  createTraceS3Client,
  createTraceUploadUrl,
  DEFAULT_MAX_TRACE_OBJECT_BYTES,
  MAX_PRESIGN_EXPIRES_IN,
  S3_MAX_PUT_BYTES,
} from '../protocol/presign.js';
import { TRACE_CONTENT_TYPE } from '../protocol/trace-object.js';
import { safeErrorMessage } from '../sanitize.js';
import { fromAwsSdkError } from '../upload/transports/s3-error.js';
import { checkArtifactHeader, DEFAULT_MAX_HEADER_LINE_BYTES } from './artifact-header-check.js';

/** Options of {@link createUploaderHandler}. */
export interface UploaderHandlerOptions {
  /** The artifacts bucket. */
  readonly bucket: string;
  /**
   * S3 client for PutObject and presigning. Default: `createTraceS3Client()` from the Lambda
   * environment. A client you pass must use `requestChecksumCalculation: 'WHEN_REQUIRED'` for
   * the presign path.
   */
  readonly s3?: S3Client | undefined;
  /** Grant verification keys by key id (or a lookup function); keep old ids during rotation. */
  readonly grantKeys: GrantKeys;
  /**
   * The grant audience(s) this handler accepts (`createUploadGrant({ audience })`). Default: the
   * bucket. A grant minted for another bucket or deployment is refused with `ERR_GRANT_SCOPE`.
   */
  readonly grantAudience?: string | readonly string[] | undefined;
  /** Longest grant lifetime accepted, in seconds. Default 86 400 (24 h). */
  readonly maxGrantLifetimeSeconds?: number | undefined;
  /** Longest header line inflated when checking an inline body, in bytes. Default 64 KiB. */
  readonly maxHeaderBytes?: number | undefined;
  /** Largest inline (decoded) body accepted, in bytes. Default 6 MiB (Lambda's payload limit). */
  readonly maxInlineBytes?: number | undefined;
  /** Lifetime of URLs returned by `presign`, in seconds. Default 300. */
  readonly presignExpiresIn?: number | undefined;
  /**
   * Largest body a `presign` request may announce, in bytes; the URL is signed for exactly the
   * announced length and SHA-256. Default {@link DEFAULT_MAX_OBJECT_BYTES} (64 MiB), at most 5 GiB.
   */
  readonly maxObjectBytes?: number | undefined;
  /** Tolerated clock skew for grant expiry, in ms. Default 30 000, at most 300 000. */
  readonly clockSkewMs?: number | undefined;
  /**
   * One structured entry per request (never the grant or a URL). Default: a JSON line on
   * stdout, which Lambda ships to CloudWatch. `false` for none.
   */
  readonly log?: ((entry: UploaderLogEntry) => void) | false | undefined;
  /** Clock, for tests. */
  readonly now?: (() => number) | undefined;
}

/** What the handler logs per request. */
export interface UploaderLogEntry {
  /** Constant, to find these lines in CloudWatch. */
  readonly msg: 'agent-trace uploader';
  /** The request's `action`, cut to 32 characters. */
  readonly action: string;
  /** What became of the request. */
  readonly outcome: 'stored' | 'presigned' | 'refused' | 'failed';
  /** The refusal or failure code, when not ok. */
  readonly code?: string | undefined;
  /** The key written or presigned, when ok. */
  readonly key?: string | undefined;
  /** The announced body size. */
  readonly byteLength?: number | undefined;
  /** Time spent in the handler. */
  readonly durationMs: number;
}

/** The handler `createUploaderHandler` returns: Lambda calls it with the parsed JSON payload. */
export type UploaderHandler = (event: unknown, context?: unknown) => Promise<UploaderResponse>;

const DEFAULT_PRESIGN_EXPIRES_IN = 300;
/** Default largest body the handler presigns for: 64 MiB. */
export const DEFAULT_MAX_OBJECT_BYTES = DEFAULT_MAX_TRACE_OBJECT_BYTES;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TRANSPORT = 'uploader-lambda';

const OWNER = 'createUploaderHandler';

function positiveInteger(
  name: string,
  value: number | undefined,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
) {
  return numberOption(OWNER, name, value, fallback, { min: 1, max, integer: true });
}

function checkGrantKeys(keys: GrantKeys): void {
  if (typeof keys === 'function') return;
  if (keys === null || typeof keys !== 'object' || Object.keys(keys).length === 0) {
    throw new ConfigError(
      'createUploaderHandler: grantKeys must map at least one key id to a secret',
      'grantKeys',
    );
  }
  for (const [kid, secret] of Object.entries(keys)) {
    const bytes =
      typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : (secret as Uint8Array)?.byteLength;
    if (typeof bytes !== 'number' || bytes < MIN_GRANT_SECRET_BYTES) {
      throw new ConfigError(
        `createUploaderHandler: the secret of grant key "${kid}" must be at least ${MIN_GRANT_SECRET_BYTES} bytes`,
        'grantKeys',
      );
    }
  }
}

const refusal = (code: UploaderErrorCode, message: string, retryable = false): UploaderErrorResponse => ({
  ok: false,
  code,
  message,
  retryable,
});

/** Validates the payload's shape; returns the request or the refusal to send back. */
function parseRequest(event: unknown): UploaderRequest | UploaderErrorResponse {
  let value = event;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return refusal('ERR_UPLOAD_BAD_REQUEST', 'the request is not JSON');
    }
  }
  if (value === null || typeof value !== 'object')
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'the request is not an object');
  const r = value as Record<string, unknown>;
  if (r.action !== 'put' && r.action !== 'presign') {
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'action must be "put" or "presign"');
  }
  if (typeof r.grant !== 'string' || r.grant.length === 0)
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'grant is required');
  if (typeof r.sha256 !== 'string' || !SHA256_HEX.test(r.sha256)) {
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'sha256 must be 64 lowercase hex characters');
  }
  if (typeof r.byteLength !== 'number' || !Number.isSafeInteger(r.byteLength) || r.byteLength < 0) {
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'byteLength must be a non-negative integer');
  }
  if (r.action === 'put') {
    if (typeof r.body !== 'string') return refusal('ERR_UPLOAD_BAD_REQUEST', 'body (base64) is required');
    return { action: 'put', grant: r.grant, sha256: r.sha256, byteLength: r.byteLength, body: r.body };
  }
  return { action: 'presign', grant: r.grant, sha256: r.sha256, byteLength: r.byteLength };
}

/**
 * Creates the uploader Lambda's handler.
 *
 * For `put`, it verifies the grant (signature, audience, lifetime, expiry), derives the key from
 * it with `traceKey` (any key, user or task in the request is ignored), checks the decoded body's
 * length and SHA-256, checks the body is gzip whose header names the grant's task and user
 * (`ERR_UPLOAD_NOT_A_TRACE`, status 400, otherwise), and calls PutObject with `ContentType:
 * application/gzip`, `ChecksumSHA256` (S3 re-checks it) and the grant's attribution as metadata.
 * For `presign`, it returns a short-lived presigned PUT for the same key with the exact size,
 * SHA-256 and attribution signed in, refusing sizes above `maxObjectBytes`. Refusals and S3 failures come back as `{ ok: false, code, message, retryable }`;
 * only unexpected faults (e.g. misconfiguration) throw.
 *
 * @throws {@link ConfigError} at creation for a missing bucket, weak grant keys or bad limits.
 * @example
 * export const handler = createUploaderHandler({
 *   bucket: process.env.TRACE_ARTIFACTS_BUCKET_NAME!,
 *   grantKeys: { [process.env.GRANT_KEY_ID!]: process.env.GRANT_KEY_SECRET! },
 * });
 */
export function createUploaderHandler(options: UploaderHandlerOptions): UploaderHandler {
  const { bucket, grantKeys } = options ?? ({} as UploaderHandlerOptions);
  if (typeof bucket !== 'string' || bucket.length === 0) {
    throw new ConfigError('createUploaderHandler: bucket is required', 'bucket');
  }
  checkGrantKeys(grantKeys);
  const maxInlineBytes = positiveInteger(
    'maxInlineBytes',
    options.maxInlineBytes,
    LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES,
  );
  const presignExpiresIn = positiveInteger(
    'presignExpiresIn',
    options.presignExpiresIn,
    DEFAULT_PRESIGN_EXPIRES_IN,
    MAX_PRESIGN_EXPIRES_IN,
  );
  const maxObjectBytes = positiveInteger(
    'maxObjectBytes',
    options.maxObjectBytes,
    DEFAULT_MAX_OBJECT_BYTES,
    S3_MAX_PUT_BYTES,
  );
  const maxGrantLifetimeSeconds = positiveInteger(
    'maxGrantLifetimeSeconds',
    options.maxGrantLifetimeSeconds,
    DEFAULT_MAX_GRANT_LIFETIME_SECONDS,
  );
  const maxHeaderBytes = positiveInteger(
    'maxHeaderBytes',
    options.maxHeaderBytes,
    DEFAULT_MAX_HEADER_LINE_BYTES,
  );
  const audience = options.grantAudience ?? bucket;
  const audiences = typeof audience === 'string' ? [audience] : audience;
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((a) => typeof a === 'string' && /^[\x21-\x7e]{1,256}$/.test(a))
  ) {
    throw new ConfigError(
      'createUploaderHandler: grantAudience must be one or more audiences of 1-256 printable ASCII characters',
      'grantAudience',
    );
  }
  const clockSkewMs = numberOption(OWNER, 'clockSkewMs', options.clockSkewMs, DEFAULT_GRANT_CLOCK_SKEW_MS, {
    max: MAX_GRANT_CLOCK_SKEW_MS,
  });
  const now = functionOption(OWNER, 'now', options.now) ?? Date.now;
  const log =
    options.log === false
      ? undefined
      : (functionOption(OWNER, 'log', options.log) ??
        ((entry: UploaderLogEntry) => console.log(JSON.stringify(entry))));
  let s3: Promise<S3Client> | undefined;
  const client = () => {
    s3 ??= options.s3 ? Promise.resolve(options.s3) : createTraceS3Client();
    return s3;
  };

  const store = async (
    grant: VerifiedUploadGrant,
    sha256: string,
    bytes: Buffer,
    metadata: Record<string, string>,
  ): Promise<UploaderResponse> => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    try {
      const out = await (await client()).send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: grant.key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: TRACE_CONTENT_TYPE,
          ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
          // Attribution from the verified grant: trusted, unlike anything inside the body.
          Metadata: metadata,
        }),
      );
      return { ok: true, action: 'put', key: grant.key, uri: `s3://${bucket}/${grant.key}`, etag: out.ETag };
    } catch (err) {
      const mapped = fromAwsSdkError(err, TRANSPORT);
      // S3 re-checked ChecksumSHA256 and found the body different: same code as our own check.
      if (mapped.code === 'ERR_UPLOAD_CHECKSUM') {
        return refusal('ERR_UPLOAD_CHECKSUM', 'S3 rejected the body: its checksum does not match');
      }
      const code: UploaderErrorCode =
        mapped.code === 'ERR_UPLOAD_NETWORK' ? 'ERR_UPLOAD_NETWORK' : 'ERR_UPLOAD_HTTP';
      return {
        ok: false,
        code,
        message: `S3 PutObject failed: ${safeErrorMessage(err)}`,
        retryable: mapped.retryable || code === 'ERR_UPLOAD_NETWORK',
        ...(mapped.status !== undefined ? { status: mapped.status } : {}),
        ...(mapped.s3Code !== undefined ? { s3Code: mapped.s3Code } : {}),
      };
    }
  };

  const handle = async (event: unknown): Promise<UploaderResponse> => {
    const request = parseRequest(event);
    if ('ok' in request) return request;
    let grant: VerifiedUploadGrant;
    try {
      grant = verifyUploadGrant(request.grant, {
        keys: grantKeys,
        now,
        clockSkewMs,
        audience: audiences,
        maxLifetimeSeconds: maxGrantLifetimeSeconds,
      });
    } catch (err) {
      if (err instanceof GrantError) return refusal(err.code, err.message);
      throw err;
    }

    if (request.action === 'presign') {
      if (request.byteLength > maxObjectBytes) {
        return refusal(
          'ERR_UPLOAD_TOO_LARGE',
          `the body is ${request.byteLength} bytes; at most ${maxObjectBytes} accepted`,
        );
      }
      let minted: Awaited<ReturnType<typeof createTraceUploadUrl>>;
      try {
        minted = await createTraceUploadUrl({
          s3: await client(),
          bucket,
          userId: grant.userId,
          taskId: grant.taskId,
          operator: grant.operator,
          sessionId: grant.sessionId,
          maxBytes: maxObjectBytes,
          expiresIn: Math.max(
            1,
            Math.min(presignExpiresIn, Math.floor((grant.expiresAt.getTime() - now()) / 1000)),
          ),
          contentLength: request.byteLength,
          sha256: request.sha256,
        });
      } catch (err) {
        if (err instanceof AttributionError) return refusal('ERR_UPLOAD_BAD_REQUEST', err.message);
        throw err;
      }
      return {
        ok: true,
        action: 'presign',
        key: minted.key,
        url: minted.url,
        headers: minted.headers,
        expiresAt: minted.expiresAt.toISOString(),
      };
    }

    if (request.byteLength > maxInlineBytes || request.body.length > base64Length(maxInlineBytes)) {
      return refusal(
        'ERR_UPLOAD_TOO_LARGE',
        `inline bodies are limited to ${maxInlineBytes} bytes; use presign`,
      );
    }
    // Length first, on the encoded text: cheap, and it bounds what is decoded.
    if (request.body.length !== base64Length(request.byteLength) || !BASE64.test(request.body)) {
      return refusal('ERR_UPLOAD_CHECKSUM', 'the body is not base64 of the announced byteLength');
    }
    const bytes = Buffer.from(request.body, 'base64');
    if (bytes.byteLength !== request.byteLength) {
      return refusal(
        'ERR_UPLOAD_CHECKSUM',
        `the body is ${bytes.byteLength} bytes, not ${request.byteLength}`,
      );
    }
    if (createHash('sha256').update(bytes).digest('hex') !== request.sha256) {
      return refusal('ERR_UPLOAD_CHECKSUM', 'the body does not match its sha256');
    }
    // A grant lets the runtime store its own trace, not any bytes: the body must be gzip whose
    // header names the grant's task (and user). Presigned bodies are bound by length and sha256.
    const check = await checkArtifactHeader(bytes, grant, { maxHeaderBytes });
    if (!check.ok) {
      return { ...refusal('ERR_UPLOAD_NOT_A_TRACE', `not stored: ${check.reason}`), status: 400 };
    }
    let metadata: Record<string, string>;
    try {
      metadata = attributionMetadata(grant, 'uploader-lambda');
    } catch (err) {
      if (err instanceof AttributionError) return refusal('ERR_UPLOAD_BAD_REQUEST', err.message);
      throw err;
    }
    return store(grant, request.sha256, bytes, metadata);
  };

  return async (event) => {
    const started = now();
    const action =
      typeof (event as { action?: unknown })?.action === 'string'
        ? String((event as { action: string }).action)
        : 'unknown';
    const byteLength = (event as { byteLength?: unknown })?.byteLength;
    let response: UploaderResponse | undefined;
    try {
      response = await handle(event);
      return response;
    } finally {
      if (log) {
        try {
          log({
            msg: 'agent-trace uploader',
            action: action.slice(0, 32),
            outcome:
              response === undefined
                ? 'failed'
                : response.ok
                  ? response.action === 'put'
                    ? 'stored'
                    : 'presigned'
                  : response.retryable
                    ? 'failed'
                    : 'refused',
            ...(response && !response.ok ? { code: response.code } : {}),
            ...(response?.ok ? { key: response.key } : {}),
            ...(typeof byteLength === 'number' ? { byteLength } : {}),
            durationMs: Math.max(0, now() - started),
          });
        } catch {
          // Logging must never change the response.
        }
      }
    }
  };
}
