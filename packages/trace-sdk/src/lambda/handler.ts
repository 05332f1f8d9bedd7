/**
 * The uploader Lambda: the only component holding `s3:PutObject` on `traces/*`. It stores a
 * trace for a runtime that presents an upload grant, at the key derived from that grant alone,
 * so a compromised runtime can write nowhere but its own task's key.
 *
 * This module is the handler's options, grant verification, dispatch and logging; the request is
 * parsed in ./handler-request.ts, inline bodies are stored in ./handler-store.ts and URLs are
 * presigned in ./handler-presign.ts.
 *
 * @packageDocumentation
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, GrantError } from '../errors.js';
import { functionOption, numberOption } from '../option-checks.js';
import {
  DEFAULT_GRANT_CLOCK_SKEW_MS,
  DEFAULT_MAX_GRANT_LIFETIME_SECONDS,
  type GrantKeys,
  MAX_GRANT_CLOCK_SKEW_MS,
  MIN_GRANT_SECRET_BYTES,
  type VerifiedUploadGrant,
  verifyUploadGrant,
} from '../protocol/grant.js';
import { LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES, type UploaderResponse } from '../protocol/lambda-messages.js';
import {
  createTraceS3Client,
  DEFAULT_MAX_TRACE_OBJECT_BYTES,
  MAX_PRESIGN_EXPIRES_IN,
  S3_MAX_PUT_BYTES,
} from '../protocol/presign.js';
import { DEFAULT_MAX_HEADER_LINE_BYTES } from './artifact-header-check.js';
import { presignUpload } from './handler-presign.js';
import { parseRequest, refusal } from './handler-request.js';
import { storeInline } from './handler-store.js';

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
  const presignTarget = { bucket, client, maxObjectBytes, presignExpiresIn, now };
  const inlineTarget = { bucket, client, maxInlineBytes, maxHeaderBytes };

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

    if (request.action === 'presign') return presignUpload(presignTarget, request, grant);
    return storeInline(inlineTarget, request, grant);
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
