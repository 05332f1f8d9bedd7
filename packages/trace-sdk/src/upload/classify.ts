/**
 * The one error classification of the upload side (as OpenTelemetry's exporters return one result
 * from the place a request failed): whatever a transport's I/O, a provider function or a custom
 * transport throws becomes an {@link UploadError} here, with a message made safe by the one
 * sanitizer. Transports call it where an error happens; the retry policy and the delivery boundary
 * call it for anything that still arrives unclassified, so one error means one thing everywhere.
 *
 * @packageDocumentation
 */
import { UploadError } from '../errors.js';
import { isError, safeCause, safeErrorMessage, safeText } from '../sanitize.js';
import { isNetworkError } from './is-retryable.js';

/** Longest message kept when a transport's own UploadError is re-sanitized at the boundary. */
const MAX_UPLOAD_MESSAGE_CHARS = 1000;

/** The `ERR_UPLOAD_ABORTED` error a transport throws when its signal fires. */
export function abortedError(transport: string, cause?: unknown): UploadError {
  return new UploadError('ERR_UPLOAD_ABORTED', `${transport}: upload aborted`, {
    transport,
    retryable: false,
    cause: safeCause(cause),
  });
}

/**
 * The error for a failed URL or grant provider (a function the orchestrator side supplies). A
 * network failure on the way to the orchestrator is retryable like any other; anything else
 * (the provider refused, or has a bug) is `ERR_UPLOAD_REJECTED`. No `cause`: a provider's
 * error may carry the very URL or grant it was minting.
 */
export function providerError(transport: string, what: string, err: unknown): UploadError {
  if (err instanceof UploadError) return sanitizedUploadError(err);
  const network = isNetworkError(err);
  return new UploadError(
    network ? 'ERR_UPLOAD_NETWORK' : 'ERR_UPLOAD_REJECTED',
    `${transport}: the ${what} provider failed: ${safeErrorMessage(err)}`,
    { transport, retryable: network },
  );
}

/**
 * `err` with its message, fields and cause chain run through the sanitizer. A custom transport may
 * build an UploadError around a raw server message or URL, in its message, its `s3Code` or its
 * `cause`; the SDK's own errors come back unchanged (same instance).
 */
export function sanitizedUploadError(err: UploadError): UploadError {
  const message = safeText(err.message, { maxChars: MAX_UPLOAD_MESSAGE_CHARS });
  if (message === err.message && safeCause(err) === err) return err;
  return new UploadError(err.code, message, {
    ...(err.status === undefined ? {} : { status: err.status }),
    ...(err.s3Code === undefined ? {} : { s3Code: safeText(err.s3Code) }),
    retryable: err.retryable,
    ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    ...(err.transport === undefined ? {} : { transport: safeText(err.transport) }),
    ...(err.attempts === undefined ? {} : { attempts: err.attempts }),
    cause: safeCause(err.cause),
  });
}

/**
 * Classifies anything a transport threw:
 * - an {@link UploadError} keeps its code (its message re-sanitized);
 * - after `signal` fired, or for an `AbortError`: `ERR_UPLOAD_ABORTED`;
 * - a connection failure (reset, refused, DNS, timeout; see `isNetworkError`): `ERR_UPLOAD_NETWORK`, retryable;
 * - anything else: `ERR_UPLOAD_TRANSPORT`, not retryable (the transport failed in a way it did not say).
 */
export function classifyUploadError(err: unknown, transport: string, signal?: AbortSignal): UploadError {
  if (err instanceof UploadError) return sanitizedUploadError(err);
  if (signal?.aborted) return abortedError(transport, err);
  if (isNetworkError(err)) {
    return new UploadError('ERR_UPLOAD_NETWORK', `${transport}: network error: ${safeErrorMessage(err)}`, {
      transport,
      retryable: true,
      cause: safeCause(err),
    });
  }
  if (isError(err) && err.name === 'AbortError') return abortedError(transport, err);
  return new UploadError('ERR_UPLOAD_TRANSPORT', `${transport}: ${safeErrorMessage(err)}`, {
    transport,
    retryable: false,
    cause: safeCause(err),
  });
}
