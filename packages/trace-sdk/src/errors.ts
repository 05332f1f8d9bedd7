/**
 * Typed errors. Every error the SDK raises or reports is a {@link TraceError} subclass with a
 * stable `code` callers can switch on; messages are for humans and may change.
 *
 * Messages never contain presigned URLs, signatures, grants or credentials: foreign text goes through
 * the one sanitizer (sanitize.ts) before it reaches a message.
 *
 * @packageDocumentation
 */

/** Base class of every agent-trace error. */
export abstract class TraceError extends Error {
  /** Stable machine-readable code, e.g. `ERR_TRACE_KEY`. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Why an id or key was rejected by {@link TraceKeyError}. */
export type TraceKeyErrorReason =
  | 'not_a_string'
  | 'empty'
  | 'too_long'
  | 'slash'
  | 'backslash'
  | 'control_character'
  | 'dot_segment'
  | 'surrounding_whitespace'
  | 'malformed_unicode'
  | 'not_a_trace_key';

/** An invalid user id, task id or object key. Nothing is uploaded when this is raised. */
export class TraceKeyError extends TraceError {
  readonly code = 'ERR_TRACE_KEY' as const;
  /** Which input was bad. */
  readonly field: 'userId' | 'taskId' | 'key';
  /** Machine-readable reason. */
  readonly reason: TraceKeyErrorReason;
  constructor(field: 'userId' | 'taskId' | 'key', reason: TraceKeyErrorReason, message: string) {
    super(message);
    this.field = field;
    this.reason = reason;
  }
}

/** A bad or incomplete configuration, reported at construction time. */
export class ConfigError extends TraceError {
  readonly code = 'ERR_TRACE_CONFIG' as const;
  /** The option or environment variable at fault, e.g. `TRACE_UPLOAD_URL`. */
  readonly variable: string | undefined;
  constructor(message: string, variable?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.variable = variable;
  }
}

/** Codes carried by {@link UploadError}. */
export type UploadErrorCode =
  /** The server answered with a non-success status (see `status` and `s3Code`). */
  | 'ERR_UPLOAD_HTTP'
  /** The connection failed, reset or timed out before a response. */
  | 'ERR_UPLOAD_NETWORK'
  /** The presigned URL (or its credentials) expired, and no fresh one could be had. */
  | 'ERR_UPLOAD_URL_EXPIRED'
  /** The caller's AbortSignal fired. */
  | 'ERR_UPLOAD_ABORTED'
  /** The overall upload deadline passed. */
  | 'ERR_UPLOAD_DEADLINE'
  /** The stored bytes do not match the artifact's sha256. */
  | 'ERR_UPLOAD_CHECKSUM'
  /** The body is larger than the transport or endpoint accepts. */
  | 'ERR_UPLOAD_TOO_LARGE'
  /** The uploader (e.g. the Lambda handler) refused the request: bad grant, foreign key, ... */
  | 'ERR_UPLOAD_REJECTED'
  /** Local I/O at the destination failed (disk full, permissions), e.g. in `fileTransport`. */
  | 'ERR_UPLOAD_IO'
  /** The transport threw an error it did not classify (a bug, or a custom transport's plain `Error`). Not retried. */
  | 'ERR_UPLOAD_TRANSPORT';

/** An upload attempt (or the whole upload) failed. */
export class UploadError extends TraceError {
  readonly code: UploadErrorCode;
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /** S3 (or uploader) error code from the response body, e.g. `SlowDown`, `AccessDenied`. */
  readonly s3Code: string | undefined;
  /** Whether the retry policy may try again. */
  readonly retryable: boolean;
  /** Server-requested delay before retrying (from `Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;
  /** Name of the transport that failed. */
  readonly transport: string | undefined;
  /** Attempts made before giving up; set by the retry policy. */
  attempts: number | undefined;

  constructor(
    code: UploadErrorCode,
    message: string,
    details: {
      status?: number;
      s3Code?: string;
      retryable?: boolean;
      retryAfterMs?: number;
      transport?: string;
      attempts?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: details.cause });
    this.code = code;
    this.status = details.status;
    this.s3Code = details.s3Code;
    this.retryable = details.retryable ?? false;
    this.retryAfterMs = details.retryAfterMs;
    this.transport = details.transport;
    this.attempts = details.attempts;
  }
}

/** Codes carried by {@link GrantError}. */
export type GrantErrorCode =
  | 'ERR_GRANT_MALFORMED'
  | 'ERR_GRANT_EXPIRED'
  | 'ERR_GRANT_SIGNATURE'
  | 'ERR_GRANT_UNKNOWN_KEY'
  /** The grant is for another audience (bucket or deployment), or outlives the verifier's maximum lifetime. */
  | 'ERR_GRANT_SCOPE'
  /** The grant uses a token version this verifier no longer accepts (e.g. a v1 grant without audience). */
  | 'ERR_GRANT_VERSION';

/** An upload grant could not be minted or did not verify. */
export class GrantError extends TraceError {
  readonly code: GrantErrorCode;
  constructor(code: GrantErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Codes carried by {@link TraceFormatError}. */
export type TraceFormatErrorCode =
  /** The gzip stream or the last line ends early (e.g. a killed process). */
  | 'ERR_TRACE_TRUNCATED'
  /** Bytes that are not gzip, or a line that is not a JSON object. */
  | 'ERR_TRACE_CORRUPT'
  /** The first line is not a `TRAJECTORY_ARTIFACT_HEADER`. */
  | 'ERR_TRACE_NO_HEADER'
  /** The header claims another user or task than the trusted key and object metadata. */
  | 'ERR_TRACE_ATTRIBUTION';

/** A trace artifact could not be read in full. Every complete line before the fault was yielded. */
export class TraceFormatError extends TraceError {
  readonly code: TraceFormatErrorCode;
  /** Complete lines yielded before the fault. */
  readonly linesRead: number;
  constructor(code: TraceFormatErrorCode, message: string, linesRead: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.linesRead = linesRead;
  }
}

/** Why {@link AttributionError} refused. */
export type AttributionErrorReason =
  /** The operator is not a valid STS `SourceIdentity` (2–64 characters of `[A-Za-z0-9_+=,.@-]`, no `aws:` prefix). */
  | 'invalid_operator'
  /** The session id is not 1–256 characters of `[A-Za-z0-9._:@+=,/-]`. */
  | 'invalid_session_id'
  /** The attribution does not fit S3's 2 KB of user metadata. */
  | 'too_large'
  /** CloudTrail binding was required but the signing credentials do not carry the operator as `SourceIdentity`. */
  | 'source_identity_unbound';

/**
 * Attribution was requested but cannot be bound to the upload, so nothing was minted: the
 * orchestrator fails closed rather than authorizing an upload without the attribution it stated.
 */
export class AttributionError extends TraceError {
  readonly code = 'ERR_ATTRIBUTION' as const;
  /** Machine-readable reason. */
  readonly reason: AttributionErrorReason;
  constructor(reason: AttributionErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The recorder was used in a state that does not allow the call (e.g. `finish` after `abort`). */
export class RecorderStateError extends TraceError {
  readonly code = 'ERR_RECORDER_STATE' as const;
}

/** Spool directory I/O failed (disk full, permissions). */
export class SpoolError extends TraceError {
  readonly code = 'ERR_SPOOL_IO' as const;
}
