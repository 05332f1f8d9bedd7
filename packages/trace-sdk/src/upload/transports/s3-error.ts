/**
 * The one reading of S3's errors: the XML body of a raw response
 * (`<Error><Code>…</Code><Message>…</Message></Error>`),
 * `Retry-After`, and what they mean for a retry, an expired URL or a checksum mismatch.
 *
 * @packageDocumentation
 */
import { UploadError } from '../../errors.js';
import { TRACE_CONTENT_TYPE } from '../../protocol/trace-object.js';
import { safeText } from '../../sanitize.js';
import { isRetryableStatus } from '../is-retryable.js';
import { headerValue } from './http-body.js';

/** `Code` and `Message` of an S3 XML error body; either may be missing. */
export interface S3ErrorDetails {
  /** The S3 error code, e.g. `SlowDown`, `AccessDenied`. */
  readonly code?: string | undefined;
  /** The human-readable message (untrusted: pass through `safeText` before use). */
  readonly message?: string | undefined;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi, (all, entity: string) => {
    if (entity[0] === '#') {
      const point =
        entity[1] === 'x' || entity[1] === 'X'
          ? Number.parseInt(entity.slice(2), 16)
          : Number(entity.slice(1));
      return Number.isInteger(point) && point >= 0 && point <= 0x10ffff ? String.fromCodePoint(point) : all;
    }
    return XML_ENTITIES[entity.toLowerCase()] ?? all;
  });
}

function element(xml: string, name: string): string | undefined {
  // Only the top-level <Error> children matter; S3 error bodies are flat.
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match?.[1] === undefined ? undefined : decodeXml(match[1]).trim();
}

/** Parses an S3 XML error body. Returns empty details for anything that is not one. */
export function parseS3ErrorXml(body: string): S3ErrorDetails {
  if (!body.includes('<Error')) return {};
  return { code: element(body, 'Code'), message: element(body, 'Message') };
}

/** Error codes S3 answers when a presigned URL or the credentials that signed it have expired. */
const EXPIRED_CREDENTIAL_CODES: ReadonlySet<string> = new Set(['ExpiredToken', 'TokenRefreshRequired']);

/**
 * True when a response says the presigned URL has expired: `AccessDenied` "Request has expired"
 * (403, or 400 as some S3 endpoints and compatible stores answer it), or the signing credentials'
 * session expired (`ExpiredToken`).
 */
export function isExpiredUrlResponse(status: number, details: S3ErrorDetails): boolean {
  if (details.code !== undefined && EXPIRED_CREDENTIAL_CODES.has(details.code)) return true;
  return (status === 403 || status === 400) && /request has expired/i.test(details.message ?? '');
}

/** S3 error codes meaning "the body does not match the checksum sent with it". */
const CHECKSUM_MISMATCH_CODES: ReadonlySet<string> = new Set([
  'BadDigest',
  'XAmzContentChecksumMismatch',
  'InvalidDigest',
]);

/** True for S3 error codes that mean the stored body would not match its checksum. */
export function isChecksumMismatchCode(code: string | undefined): boolean {
  return code !== undefined && CHECKSUM_MISMATCH_CODES.has(code);
}

/**
 * Builds the {@link UploadError} for a non-2xx response to a PUT: status, S3 code, a safe
 * message, `Retry-After`, and `retryable` by the shared rule.
 */
export function uploadErrorFromResponse(params: {
  readonly transport: string;
  /** Where the request went, already made safe (e.g. by `describeUrl`). */
  readonly target: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}): UploadError {
  const details = parseS3ErrorXml(params.body);
  const retryAfterMs = parseRetryAfter(headerValue(params.headers, 'retry-after'));
  const code = details.code;
  const summary = [String(params.status), code, details.message ? safeText(details.message) : undefined]
    .filter((part) => part !== undefined && part !== '')
    .join(' ');
  const kind = isChecksumMismatchCode(code) ? 'ERR_UPLOAD_CHECKSUM' : 'ERR_UPLOAD_HTTP';
  // The usual cause with a URL minted outside this SDK (boto3's generate_presigned_url): the
  // signature covers a Content-Type other than the one every trace is sent with.
  const hint =
    code === 'SignatureDoesNotMatch'
      ? ` (the URL must be signed for exactly this key with Content-Type ${TRACE_CONTENT_TYPE} as a signed header,` +
        ' and for any x-amz-meta-* or checksum headers the orchestrator returned)'
      : '';
  return new UploadError(kind, `${params.transport}: PUT ${params.target} failed: ${summary}${hint}`, {
    transport: params.transport,
    status: params.status,
    ...(code !== undefined ? { s3Code: code } : {}),
    retryable: isRetryableStatus(params.status, code),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
/**
 * The three HTTP-date forms of RFC 9110 §5.6.7: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
 * RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
 * `Date.parse` alone would also take "1.5" or "soon 2" as dates in 2001.
 */
const HTTP_DATE = new RegExp(
  `^(?:[A-Z][a-z]{2}, \\d{2} (?:${MONTHS}) \\d{4} \\d{2}:\\d{2}:\\d{2} GMT` +
    `|[A-Z][a-z]+, \\d{2}-(?:${MONTHS})-\\d{2} \\d{2}:\\d{2}:\\d{2} GMT` +
    `|[A-Z][a-z]{2} (?:${MONTHS}) [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4})$`,
);

/**
 * Parses a `Retry-After` header into milliseconds from now: delay-seconds (`120`; a fractional
 * `1.5` is read as seconds too) or an HTTP-date (a past date is 0). Returns `undefined` for a
 * missing or unparseable value, which then leaves the backoff to the jitter.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    // Too many digits to count is "much later than any deadline", not "now".
    return Math.min(Math.ceil(Number(text) * 1000), Number.MAX_SAFE_INTEGER);
  }
  if (!HTTP_DATE.test(text)) return undefined;
  // asctime has no zone: it is GMT by definition.
  const at = Date.parse(/GMT$/.test(text) ? text : `${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
