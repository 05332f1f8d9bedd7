/**
 * `@agent-trace/trace-sdk`: what an agent runtime imports.
 *
 * record → serialize → compress → spool → upload.
 *
 * @packageDocumentation
 */

export * from './config.js';
export * from './errors.js';
export * from './key.js';
export {
  type ReadTraceHeaderOptions,
  type ReadTraceOptions,
  readTrace,
  readTraceHeader,
  readTraceLines,
  type TraceHeaderLine,
  type TraceLineRecord,
  type TraceSource,
} from './read/read-trace.js';
export {
  type ClaimedAttribution,
  type TraceAttributionReport,
  type TrustedAttribution,
  type TrustedTraceContext,
  traceAttribution,
} from './read/trace-attribution.js';
export * from './record/events.js';
export { type ArtifactHeader, SCHEMA_VERSION } from './record/header.js';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_EVENT_BYTES,
  DEFAULT_MAX_TEXT_CHARS,
  DEFAULT_MAX_TOOL_RESULT_CHARS,
  defaultSpoolDir,
  type RecorderLimits,
  type RedactHook,
  type TraceRecorderOptions,
} from './record/options.js';
export {
  createTraceRecorder,
  type FinishOptions,
  type FinishResult,
  type RecorderStats,
  type TraceRecorder,
} from './record/recorder.js';
export {
  BUILTIN_REDACTION_LABELS,
  type BuiltinRedactionLabel,
  type RedactionPattern,
  Redactor,
  redactionMarker,
  redactSecrets,
  secretLabelForKey,
} from './serialize/redact.js';
export { type FieldShape, safeStringify } from './serialize/safe-json.js';
export { REDACTION_LOOKAHEAD_CHARS, truncateText, truncationSuffix } from './serialize/truncate.js';
export {
  listSpooled,
  type SpooledArtifact,
  type SpooledLastError,
  type SpooledSidecar,
} from './spool/spool-store.js';
export {
  type SpoolSkipReason,
  type UploadSpooledOptions,
  type UploadSpooledResult,
  uploadSpooled,
} from './spool/upload-spooled.js';
export * from './upload/artifact.js';
export { isNetworkError, isRetryable, isRetryableStatus } from './upload/is-retryable.js';
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  type RetryEvent,
  type RetryPolicy,
  unwrapRetry,
  withRetry,
} from './upload/retry.js';
export * from './upload/transports/file.js';
export type { HttpPutOptions } from './upload/transports/http-put.js';
export * from './upload/transports/lambda-uploader.js';
export * from './upload/transports/presigned-put.js';
export * from './upload/transports/s3-put-object.js';
export * from './upload/types.js';
