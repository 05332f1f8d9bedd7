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
import { isNetworkError, isRetryableStatus, RETRYABLE_ERROR_CODES } from './is-retryable.js';
import { isChecksumMismatchCode, parseRetryAfter } from './transports/s3-error.js';

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
 * - an AWS SDK v3 error (a custom transport built on an AWS client): as {@link fromAwsSdkError},
 *   so a raw `SlowDown` 503 is retried like the built-in transports' own;
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
  if (isAwsSdkError(err)) return fromAwsSdkError(err, transport, signal);
  return new UploadError('ERR_UPLOAD_TRANSPORT', `${transport}: ${safeErrorMessage(err)}`, {
    transport,
    retryable: false,
    cause: safeCause(err),
  });
}

/**
 * Whether `err` looks like an AWS SDK v3 error: it carries `$metadata` or `$retryable`, or a
 * name the SDK uses for throttling and service faults (the same signs `isRetryable` reads).
 */
function isAwsSdkError(err: unknown): err is Error {
  if (!isError(err)) return false;
  const aws = err as { $metadata?: unknown; $retryable?: unknown };
  return (
    (aws.$metadata !== null && typeof aws.$metadata === 'object') ||
    (aws.$retryable !== undefined && aws.$retryable !== null) ||
    RETRYABLE_ERROR_CODES.has(err.name)
  );
}

/** The shape of the AWS SDK v3's service and client errors that this module reads. */
interface AwsSdkErrorLike {
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  $response?: { headers?: Record<string, string | undefined> };
}

/**
 * Maps an AWS SDK v3 error (S3, Lambda) into an {@link UploadError} by the same rules as
 * {@link uploadErrorFromResponse}: the HTTP status and the service's error name (`SlowDown`,
 * `TooManyRequestsException`, ...) decide `retryable`; a checksum mismatch (`BadDigest`, ...)
 * is `ERR_UPLOAD_CHECKSUM`; network failures become `ERR_UPLOAD_NETWORK`; a client without a region
 * is `ERR_UPLOAD_REJECTED` saying which option or variable to set. The cause is kept
 * only as a {@link safeCause} copy.
 */
export function fromAwsSdkError(err: unknown, transport: string, signal?: AbortSignal): UploadError {
  if (err instanceof UploadError) return sanitizedUploadError(err);
  if (signal?.aborted) return abortedError(transport, err);
  if (!isError(err)) return classifyUploadError(err, transport, signal);
  const aws = err as unknown as AwsSdkErrorLike;
  const status = aws.$metadata?.httpStatusCode;
  if (status === undefined && isNetworkError(err)) return classifyUploadError(err, transport, signal);
  if (err.name === 'AbortError') return abortedError(transport, err);
  if (status === undefined && err.message === 'Region is missing') {
    // The SDK found no region anywhere (options, AWS_REGION, the shared config file): nothing was
    // sent, and no retry can fix it. Say what to set instead of "Error: Region is missing".
    return new UploadError(
      'ERR_UPLOAD_REJECTED',
      `${transport}: no AWS region: pass \`region\` (or a configured \`client\`), or set AWS_REGION`,
      { transport, retryable: false },
    );
  }
  const retryAfterMs = parseRetryAfter(aws.$response?.headers?.['retry-after']);
  const retryable =
    status !== undefined
      ? isRetryableStatus(status, err.name)
      : isRetryableStatus(undefined, err.name) || (aws.$retryable !== undefined && aws.$retryable !== null);
  const what = status !== undefined ? `${status} ${err.name}` : err.name;
  const kind = isChecksumMismatchCode(err.name) ? 'ERR_UPLOAD_CHECKSUM' : 'ERR_UPLOAD_HTTP';
  return new UploadError(kind, `${transport}: ${what}: ${safeText(err.message)}`, {
    transport,
    ...(status !== undefined ? { status } : {}),
    s3Code: err.name,
    retryable: kind === 'ERR_UPLOAD_HTTP' && retryable,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    cause: safeCause(err),
  });
}
