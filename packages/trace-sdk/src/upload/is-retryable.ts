/**
 * The one rule for what the retry policy may try again (as OpenTelemetry's
 * `is-export-retryable.ts`): network failures, 408, 429, 5xx and S3's `SlowDown` /
 * `RequestTimeout`; never any other 4xx, never an abort, a deadline or a refused grant.
 *
 * @packageDocumentation
 */
import { UploadError } from '../errors.js';
import { isError } from '../sanitize.js';

/** Error codes (S3 XML `Code`, AWS SDK error `name`) that mean "try again later" whatever the status. */
export const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  'SlowDown',
  // S3 answers 400 RequestTimeout when the socket went idle mid-body: a transient fault.
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'EC2ThrottledException',
  'TimeoutError',
]);

/** Node and undici error codes of a connection that failed, reset or timed out. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** True for an HTTP status (and optional S3/AWS error code) worth retrying. */
export function isRetryableStatus(status: number | undefined, errorCode?: string | undefined): boolean {
  if (errorCode !== undefined && RETRYABLE_ERROR_CODES.has(errorCode)) return true;
  if (status === undefined) return false;
  return status === 408 || status === 429 || status >= 500;
}

/**
 * True when `err` (or an error in its `cause` chain) is a connection-level failure: reset,
 * refused, timed out, DNS. These are retried because no response ever arrived.
 */
export function isNetworkError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && isError(current); depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
    if (current.name === 'TimeoutError' && !(current instanceof UploadError)) return true;
    current = current.cause;
  }
  return false;
}

/**
 * Whether the retry policy may try again after `err`.
 *
 * - {@link UploadError}: `ERR_UPLOAD_NETWORK` always; `ERR_UPLOAD_HTTP` by status and S3 code
 *   (falling back to the error's own `retryable` flag when no status arrived, e.g. a Lambda
 *   function error); every other code (aborted, deadline, expired URL, rejected, too large,
 *   checksum) never.
 * - AWS SDK errors: by `$metadata.httpStatusCode` and `name`, else by `$retryable`.
 * - Anything else: only a recognisable network error.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof UploadError) {
    switch (err.code) {
      case 'ERR_UPLOAD_NETWORK':
        return true;
      case 'ERR_UPLOAD_HTTP':
        return err.status === undefined
          ? err.retryable || isRetryableStatus(undefined, err.s3Code)
          : isRetryableStatus(err.status, err.s3Code);
      default:
        return false;
    }
  }
  if (!isError(err)) return false;
  if (err.name === 'AbortError') return false;
  const aws = err as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = aws.$metadata?.httpStatusCode;
  if (status !== undefined) return isRetryableStatus(status, err.name);
  if (RETRYABLE_ERROR_CODES.has(err.name)) return true;
  if (aws.$retryable !== undefined && aws.$retryable !== null) return true;
  return isNetworkError(err);
}
