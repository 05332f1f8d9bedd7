/**
 * Turning whatever a transport's I/O throws (undici, Node, the AWS SDK, a user's provider
 * function) into {@link UploadError}s whose messages are safe to log: no URL query strings,
 * no signatures, bounded length.
 *
 * @packageDocumentation
 */
import { describeUrl, UploadError } from '../../errors.js';
import { isNetworkError, isRetryableStatus } from '../is-retryable.js';

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
// Signature-bearing fragments that may show up outside a full URL (a path, an echoed header).
const SIGNED_PARAM =
  /\b(X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|x-amz-security-token)=[^\s&"'<>]*/gi;
// Token-shaped strings (an upload grant, a JWT): long base64url runs joined by dots.
const TOKEN_LIKE = /[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]{16,})+/g;
const MAX_MESSAGE_CHARS = 300;

/**
 * Makes untrusted text (a server's error message, a provider's exception) safe for an error
 * message or a log: URLs lose their query strings, signature parameters are masked, and the
 * text is cut to a few hundred characters. Token-shaped strings (grants, JWTs) are masked too.
 */
export function safeText(text: string): string {
  const cleaned = text
    .replace(URL_IN_TEXT, (url) => describeUrl(url))
    .replace(SIGNED_PARAM, '<redacted>')
    .replace(TOKEN_LIKE, '<redacted-token>')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > MAX_MESSAGE_CHARS ? `${cleaned.slice(0, MAX_MESSAGE_CHARS)}…` : cleaned;
}

/** The message of any thrown value, made safe with {@link safeText}. */
export function safeErrorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const prefix = typeof code === 'string' && !err.message.includes(code) ? `${code}: ` : '';
    return safeText(`${prefix}${err.message}`);
  }
  return safeText(String(err));
}

/** The `ERR_UPLOAD_ABORTED` error a transport throws when its signal fires. */
export function abortedError(transport: string, cause?: unknown): UploadError {
  return new UploadError('ERR_UPLOAD_ABORTED', `${transport}: upload aborted`, {
    transport,
    retryable: false,
    cause,
  });
}

/**
 * Wraps an error thrown by a transport's own I/O: an UploadError passes through, an abort (the
 * signal fired) becomes `ERR_UPLOAD_ABORTED`, a connection failure `ERR_UPLOAD_NETWORK`
 * (retryable), anything else a non-retryable `ERR_UPLOAD_HTTP` without status.
 */
export function toUploadError(err: unknown, transport: string, signal?: AbortSignal): UploadError {
  if (err instanceof UploadError) return err;
  if (signal?.aborted) return abortedError(transport, err);
  if (isNetworkError(err)) {
    return new UploadError('ERR_UPLOAD_NETWORK', `${transport}: network error: ${safeErrorMessage(err)}`, {
      transport,
      retryable: true,
      cause: err,
    });
  }
  if (err instanceof Error && err.name === 'AbortError') return abortedError(transport, err);
  return new UploadError('ERR_UPLOAD_HTTP', `${transport}: ${safeErrorMessage(err)}`, {
    transport,
    retryable: false,
    cause: err,
  });
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
 * Maps an AWS SDK v3 error (S3, Lambda) into an {@link UploadError}: the HTTP status and the
 * service's error name (`SlowDown`, `TooManyRequestsException`, ...) decide `retryable`;
 * network failures become `ERR_UPLOAD_NETWORK`.
 */
export function fromAwsSdkError(err: unknown, transport: string, signal?: AbortSignal): UploadError {
  if (err instanceof UploadError) return err;
  if (signal?.aborted) return abortedError(transport, err);
  if (!(err instanceof Error)) return toUploadError(err, transport, signal);
  const aws = err as unknown as AwsSdkErrorLike;
  const status = aws.$metadata?.httpStatusCode;
  if (status === undefined && isNetworkError(err)) return toUploadError(err, transport, signal);
  if (err.name === 'AbortError') return abortedError(transport, err);
  const retryAfterMs = parseRetryAfter(aws.$response?.headers?.['retry-after']);
  const retryable =
    status !== undefined
      ? isRetryableStatus(status, err.name)
      : isRetryableStatus(undefined, err.name) || (aws.$retryable !== undefined && aws.$retryable !== null);
  const what = status !== undefined ? `${status} ${err.name}` : err.name;
  return new UploadError('ERR_UPLOAD_HTTP', `${transport}: ${what}: ${safeText(err.message)}`, {
    transport,
    ...(status !== undefined ? { status } : {}),
    s3Code: err.name,
    retryable,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    cause: err,
  });
}

/**
 * Parses a `Retry-After` header (delta seconds or an HTTP date) into milliseconds from now.
 * Returns `undefined` for a missing or unparseable value.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
