/**
 * The uploader Lambda's request and response shapes, shared by `createUploaderHandler` and
 * `lambdaUploaderTransport` so both sides agree by construction.
 *
 * Requests carry the grant; the handler derives the object key from the verified grant alone
 * and ignores any key, user or task a request may also name. Failures come back as
 * `{ ok: false, code, message }` rather than a thrown error, so the transport maps them to typed
 * errors without parsing Lambda's FunctionError payloads.
 *
 * @packageDocumentation
 */
import type { GrantErrorCode } from '../errors.js';

/** Store an inline body (base64) at the grant's key. */
export interface UploaderPutRequest {
  /** Discriminant. */
  readonly action: 'put';
  /** Upload grant from `createUploadGrant`. */
  readonly grant: string;
  /** Lowercase hex SHA-256 of the decoded body. */
  readonly sha256: string;
  /** Decoded body size in bytes. */
  readonly byteLength: number;
  /** The gzip body, standard base64. */
  readonly body: string;
}

/** Ask for a presigned PUT URL for the grant's key (bodies too large to inline). */
export interface UploaderPresignRequest {
  /** Discriminant. */
  readonly action: 'presign';
  /** Upload grant from `createUploadGrant`. */
  readonly grant: string;
  /** Lowercase hex SHA-256 of the body; signed into the URL. */
  readonly sha256: string;
  /** Body size in bytes; signed into the URL. */
  readonly byteLength: number;
}

/** Any request the uploader Lambda accepts. */
export type UploaderRequest = UploaderPutRequest | UploaderPresignRequest;

/** The body was stored. */
export interface UploaderPutResponse {
  /** Success. */
  readonly ok: true;
  /** Discriminant. */
  readonly action: 'put';
  /** The key written, derived from the grant. */
  readonly key: string;
  /** `s3://<bucket>/<key>`. */
  readonly uri: string;
  /** ETag S3 returned. */
  readonly etag?: string | undefined;
}

/** A presigned PUT for the grant's key, with the size and SHA-256 signed in. */
export interface UploaderPresignResponse {
  /** Success. */
  readonly ok: true;
  /** Discriminant. */
  readonly action: 'presign';
  /** The key the URL writes, derived from the grant. */
  readonly key: string;
  /** The presigned URL; a bearer credential for `key`. */
  readonly url: string;
  /** Headers the PUT must carry for the signature to match. */
  readonly headers: Readonly<Record<string, string>>;
  /** ISO 8601. */
  readonly expiresAt: string;
}

/** Codes of {@link UploaderErrorResponse}. */
export type UploaderErrorCode =
  | GrantErrorCode
  /** The request is not one of the shapes above. */
  | 'ERR_UPLOAD_BAD_REQUEST'
  /** The decoded body's length or SHA-256 differs from the request's. */
  | 'ERR_UPLOAD_CHECKSUM'
  /** The body is larger than the handler accepts (inline or presigned). */
  | 'ERR_UPLOAD_TOO_LARGE'
  /**
   * The inline body is not a trace for the grant: not gzip, or its first line is not a
   * `TRAJECTORY_ARTIFACT_HEADER` naming the grant's task (and user, when it names one).
   */
  | 'ERR_UPLOAD_NOT_A_TRACE'
  /** S3 answered the handler with an error (see `status` and `s3Code`). */
  | 'ERR_UPLOAD_HTTP'
  /** The handler could not reach S3. */
  | 'ERR_UPLOAD_NETWORK';

/** The request was refused or failed; nothing was stored. */
export interface UploaderErrorResponse {
  /** Failure. */
  readonly ok: false;
  /** Why. */
  readonly code: UploaderErrorCode;
  /** Human-readable; never contains the grant or a URL's query. */
  readonly message: string;
  /** Whether the caller may retry the same request. */
  readonly retryable: boolean;
  /** S3's HTTP status for `ERR_UPLOAD_HTTP`; 400 for a refused body (`ERR_UPLOAD_NOT_A_TRACE`). */
  readonly status?: number | undefined;
  /** S3's error code, for `ERR_UPLOAD_HTTP`. */
  readonly s3Code?: string | undefined;
}

/** Any response of the uploader Lambda. */
export type UploaderResponse = UploaderPutResponse | UploaderPresignResponse | UploaderErrorResponse;

/**
 * Lambda's limit on a synchronous (RequestResponse) invocation payload, in bytes (6 MiB). Larger
 * requests fail with `RequestTooLargeException` ("Request must be smaller than 6291456 bytes").
 */
export const LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/** Base64 length of `n` bytes. */
export function base64Length(byteLength: number): number {
  return 4 * Math.ceil(byteLength / 3);
}

/**
 * Exact size in bytes of the JSON `put` request for a body of `byteLength` bytes: the envelope
 * (grant, sha256, length) plus the base64 body. Base64 needs no JSON escaping, so this is exact.
 */
export function inlineRequestBytes(grant: string, sha256: string, byteLength: number): number {
  const envelope: UploaderPutRequest = { action: 'put', grant, sha256, byteLength, body: '' };
  return Buffer.byteLength(JSON.stringify(envelope), 'utf8') + base64Length(byteLength);
}
