/**
 * Turning whatever a transport's I/O throws (undici, Node, the AWS SDK, a user's provider
 * function) into {@link UploadError}s whose messages are safe to log: no URL query strings,
 * no signatures, bounded length.
 *
 * @packageDocumentation
 */
import { describeUrl, TraceError, UploadError } from '../../errors.js';
import { isNetworkError } from '../is-retryable.js';

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

/** {@link safeText} without the length cap: for stack frames, which are long but carry no secrets of their own. */
function scrubText(text: string): string {
  return text
    .replace(URL_IN_TEXT, (url) => describeUrl(url))
    .replace(SIGNED_PARAM, '<redacted>')
    .replace(TOKEN_LIKE, '<redacted-token>');
}

const MAX_CAUSE_DEPTH = 5;

/**
 * A copy of a foreign error that is safe to keep as a `cause`: loggers, `util.inspect` and the
 * CLI's `--debug` print the whole cause chain, and undici, Node and the AWS SDK put URLs (query
 * strings included), request paths or echoed payloads (a grant) in their messages and
 * properties. The copy keeps the class (`instanceof` still holds), `name`, `code` and the other
 * primitive fields run through {@link safeText}, the stack frames, and a safe copy of its own
 * cause; everything else (sockets, responses, request objects) is dropped.
 *
 * Our own {@link TraceError}s are built safe and pass through unchanged.
 */
export function safeCause(err: unknown, depth = 0): unknown {
  if (err === undefined || err === null || err instanceof TraceError) return err;
  if (!(err instanceof Error)) {
    return typeof err === 'object' || typeof err === 'function' ? '<non-error value>' : safeText(String(err));
  }
  try {
    return copyError(err, depth);
  } catch {
    // A hostile getter or proxy: keep nothing of it but that it happened.
    return new Error('<unreadable error>');
  }
}

function define(target: object, name: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, name, { value, enumerable, writable: true, configurable: true });
}

/** Primitive fields of `value`, strings made safe; objects and functions are dropped. */
function primitiveFields(value: object): Array<[string, string | number | boolean]> {
  const out: Array<[string, string | number | boolean]> = [];
  for (const [name, field] of Object.entries(value)) {
    if (typeof field === 'string') out.push([name, safeText(field)]);
    else if (typeof field === 'number' || typeof field === 'boolean') out.push([name, field]);
  }
  return out;
}

function copyError(err: Error, depth: number): Error {
  const name = typeof err.name === 'string' ? err.name : 'Error';
  const message = safeText(String(err.message));
  const ctor = typeof err.constructor === 'function' ? err.constructor : Error;
  let copy: Error;
  try {
    // Error's own constructor under the original's prototype: a real Error that still passes
    // `instanceof`, without running a subclass constructor that wants arguments we lack.
    copy = Reflect.construct(Error, [message], ctor) as Error;
    // Classes whose accessors need internal slots (DOMException's name and code) cannot be
    // imitated this way: reading one throws. A plain Error with the same name serves instead.
    void copy.name;
    void (copy as { code?: unknown }).code;
  } catch {
    copy = new Error(message);
  }
  for (const [field, value] of primitiveFields(err)) {
    if (field !== 'message' && field !== 'stack') define(copy, field, value, true);
  }
  // The AWS SDK's request id and status help support; the rest of its response does not.
  const metadata = (err as { $metadata?: unknown }).$metadata;
  if (metadata !== null && typeof metadata === 'object') {
    define(copy, '$metadata', Object.fromEntries(primitiveFields(metadata)), true);
  }
  if (copy.name !== name) define(copy, 'name', name, false);
  const frames = String(err.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line));
  copy.stack = [`${name}: ${message}`, ...frames.map(scrubText)].join('\n');
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH)
    define(copy, 'cause', safeCause(err.cause, depth + 1), false);
  return copy;
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
  if (err instanceof UploadError) return err;
  const network = isNetworkError(err);
  return new UploadError(
    network ? 'ERR_UPLOAD_NETWORK' : 'ERR_UPLOAD_REJECTED',
    `${transport}: the ${what} provider failed: ${safeErrorMessage(err)}`,
    { transport, retryable: network },
  );
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
      cause: safeCause(err),
    });
  }
  if (err instanceof Error && err.name === 'AbortError') return abortedError(transport, err);
  return new UploadError('ERR_UPLOAD_HTTP', `${transport}: ${safeErrorMessage(err)}`, {
    transport,
    retryable: false,
    cause: safeCause(err),
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
