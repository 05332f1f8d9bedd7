/**
 * The one sanitizer: everything that turns an error or untrusted text into text for the outside
 * (error messages, `cause` chains, span status, metrics, spool sidecars, logs, the CLI, the uploader
 * Lambda's answers) goes through here, so what may leak is decided in one place.
 *
 * Removed: URL query strings (presigned signatures and session tokens), signature parameters seen
 * outside a URL, token-shaped strings (upload grants, JWTs), every secret the redaction rules know,
 * and any literal secret the caller names.
 *
 * @packageDocumentation
 */
import { types } from 'node:util';
import { TraceError } from './errors.js';
import { redactSecrets } from './serialize/redact.js';

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
// Signature-bearing fragments that may show up outside a full URL (a path, an echoed header).
const SIGNED_PARAM =
  /\b(X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|x-amz-security-token)=[^\s&"'<>]*/gi;
// Token-shaped strings (an upload grant, a JWT): long base64url runs joined by dots.
const TOKEN_LIKE = /[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]{16,})+/g;
/**
 * Whether `value` is an Error, from this realm or another: jest runs tests in a VM context, so an
 * error from `node:net` there fails `instanceof Error` although it is one.
 */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** Default cap on one sanitized message. */
export const MAX_SAFE_TEXT_CHARS = 300;
const MAX_CAUSE_DEPTH = 5;

/** Options of {@link safeText}. */
export interface SafeTextOptions {
  /** Characters kept (default {@link MAX_SAFE_TEXT_CHARS}); `Infinity` keeps all (stack frames, the CLI). */
  readonly maxChars?: number;
  /** Literal values to mask wherever they appear (a grant or URL the caller holds). */
  readonly secrets?: readonly string[];
  /** Keep line breaks (stack traces); by default whitespace runs become one space. */
  readonly multiline?: boolean;
}

/**
 * Names a URL for a log or error message without its query string, so presigned-URL signatures
 * and credentials never leak: `https://bucket.s3.amazonaws.com/traces/u/t.jsonl.gz?<redacted>`.
 */
export function describeUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?<redacted>' : ''}`;
  } catch {
    return '<unparseable url>';
  }
}

/** Makes untrusted text safe for an error message, a log line or a span status. Never throws. */
export function safeText(text: string, opts: SafeTextOptions = {}): string {
  try {
    let out = text;
    for (const secret of opts.secrets ?? []) {
      if (secret.length >= 8) out = out.split(secret).join('<redacted>');
    }
    out = out
      // A URL cut at `?<redacted>` (text sanitized before) keeps its `?`: sanitizing is idempotent.
      .replace(URL_IN_TEXT, (url) =>
        url.endsWith('?') ? `${describeUrl(url.slice(0, -1))}?` : describeUrl(url),
      )
      .replace(SIGNED_PARAM, '<redacted>')
      .replace(TOKEN_LIKE, '<redacted-token>');
    out = redactSecrets(out);
    if (opts.multiline !== true) out = out.replace(/\s+/g, ' ').trim();
    const max = opts.maxChars ?? MAX_SAFE_TEXT_CHARS;
    return out.length > max ? `${out.slice(0, max)}…` : out;
  } catch {
    return '<unreadable text>';
  }
}

/** The message of any thrown value, made safe with {@link safeText} (its `code` first when not in it). */
export function safeErrorMessage(err: unknown, opts?: SafeTextOptions): string {
  try {
    if (isError(err)) {
      const code = (err as { code?: unknown }).code;
      const prefix = typeof code === 'string' && !String(err.message).includes(code) ? `${code}: ` : '';
      return safeText(`${prefix}${String(err.message)}`, opts);
    }
    return safeText(String(err), opts);
  } catch {
    return '<unreadable error>';
  }
}

/**
 * A copy of a foreign error that is safe to keep as a `cause`: loggers, `util.inspect` and the
 * CLI's `--debug` print the whole cause chain, and undici, Node and the AWS SDK put URLs (query
 * strings included), request paths or echoed payloads (a grant) in their messages and properties.
 * The copy keeps the class (`instanceof` still holds), `name`, `code` and the other primitive
 * fields run through {@link safeText}, the stack frames, and a safe copy of its own cause;
 * everything else (sockets, responses, request objects) is dropped.
 *
 * Errors of this SDK ({@link TraceError}) pass through unchanged when their message, fields and
 * cause chain are safe (as the SDK builds them); otherwise they are copied like any other.
 */
export function safeCause(err: unknown, depth = 0): unknown {
  if (err === undefined || err === null || SAFE_COPIES.has(err as object)) return err;
  if (err instanceof TraceError && isSafeTraceError(err, depth)) return err;
  if (!isError(err)) {
    return typeof err === 'object' || typeof err === 'function' ? '<non-error value>' : safeText(String(err));
  }
  try {
    return copyError(err, depth);
  } catch {
    // A hostile getter or proxy: keep nothing of it but that it happened.
    return new Error('<unreadable error>');
  }
}

/** Copies made by {@link safeCause}: already safe, passed through as they are. */
const SAFE_COPIES = new WeakSet<object>();
const VERBATIM: SafeTextOptions = { maxChars: Number.POSITIVE_INFINITY, multiline: true };

/**
 * Whether a {@link TraceError} is safe as it is: its message, string fields and cause chain are
 * unchanged by the sanitizer. The SDK builds its own errors safe, but `UploadError` is public: a
 * custom transport may build one around a raw URL, in a field or in its `cause`.
 */
function isSafeTraceError(err: TraceError, depth: number): boolean {
  try {
    if (safeText(String(err.message), VERBATIM) !== err.message) return false;
    for (const value of Object.values(err)) {
      if (typeof value === 'string' && safeText(value, VERBATIM) !== value) return false;
    }
    const cause: unknown = err.cause;
    if (cause === undefined) return true;
    return depth < MAX_CAUSE_DEPTH && safeCause(cause, depth + 1) === cause;
  } catch {
    return false;
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
  copy.stack = [
    `${name}: ${message}`,
    ...frames.map((f) => safeText(f, { maxChars: Number.POSITIVE_INFINITY, multiline: true })),
  ].join('\n');
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH)
    define(copy, 'cause', safeCause(err.cause, depth + 1), false);
  SAFE_COPIES.add(copy);
  return copy;
}
