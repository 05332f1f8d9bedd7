/**
 * `@agent-trace/trace-sdk`: what an agent runtime imports.
 *
 * record → serialize → compress → spool → upload. Every name here is a semver promise, listed by
 * name (test/public-api.test.ts snapshots them); the orchestrator and the uploader Lambda have their
 * own subpaths (`./orchestrator`, `./lambda`).
 *
 * @packageDocumentation
 */

export { type TransportConfig, type TransportKind, transportFromConfig, transportFromEnv } from './config.js';
export {
  AttributionError,
  type AttributionErrorReason,
  ConfigError,
  GrantError,
  type GrantErrorCode,
  RecorderStateError,
  SpoolError,
  TraceError,
  TraceFormatError,
  type TraceFormatErrorCode,
  TraceKeyError,
  type TraceKeyErrorReason,
  UploadError,
  type UploadErrorCode,
} from './errors.js';
export {
  isValidId,
  parseTraceKey,
  TRACE_KEY_PREFIX,
  type TraceKeyParts,
  traceKey,
  userPrefix,
} from './key.js';
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
export {
  type CheckpointOptions,
  type CheckpointStats,
  DEFAULT_CHECKPOINTS,
} from './record/checkpoint.js';
export {
  type KnownTraceEvent,
  OUTPUT_SCREENING,
  type OutputScreeningEvent,
  type OutputScreeningInput,
  POLICY_DECISION,
  type PolicyDecisionEvent,
  type PolicyDecisionInput,
  type ResultInput,
  type ToolCallInput,
  type ToolCallRecord,
  type ToolResultContent,
  type ToolResultInput,
  type ToolResultRecord,
  TRAJECTORY_ARTIFACT_HEADER,
  TRAJECTORY_RESULT,
  TRAJECTORY_TURN,
  type TraceEvent,
  type TrajectoryResultEvent,
  type TrajectoryTurnEvent,
  type TurnInput,
} from './record/events.js';
export { type ArtifactHeader, SCHEMA_VERSION } from './record/header.js';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_EVENT_BYTES,
  DEFAULT_MAX_TEXT_CHARS,
  DEFAULT_MAX_TOOL_RESULT_CHARS,
  defaultSpoolDir,
  type RecorderLimits,
  type RedactHook,
  type TraceRecorderOptions,
} from './record/options.js';
export { createTraceRecorder } from './record/recorder.js';
export { DEFAULT_SIGNAL_GRACE_MS, type FinishOnSignalOptions, finishOnSignal } from './record/signals.js';
export type {
  FinishFailed,
  FinishOptions,
  FinishResult,
  FinishResultBase,
  FinishSkipped,
  FinishUploaded,
  RecorderStats,
  TraceRecorder,
} from './record/types.js';
export { describeUrl } from './sanitize.js';
export {
  BUILTIN_REDACTION_LABELS,
  type BuiltinRedactionLabel,
  type RedactionPattern,
  redactSecrets,
} from './serialize/redact.js';
export {
  DEFAULT_REDELIVERY,
  type RedeliverOptions,
  type RedeliverResult,
  redeliverSpooled,
} from './spool/redeliver.js';
export {
  listSpooled,
  type SpoolBrokenEntry,
  type SpoolEntry,
  type SpooledArtifact,
  type SpooledLastError,
  type SpooledSidecar,
  type SpoolSpillEntry,
} from './spool/spool-store.js';
export {
  type SpoolAuthorizer,
  type SpooledClaim,
  type SpoolScope,
  type SpoolSkipReason,
  type UploadSpooledOptions,
  type UploadSpooledResult,
  uploadSpooled,
} from './spool/upload-spooled.js';
export { artifactFromBuffer, artifactFromFile } from './upload/artifact.js';
export { DEFAULT_DELIVERY_TIMEOUT_MS } from './upload/deliver.js';
export { isRetryableStatus } from './upload/is-retryable.js';
export { DEFAULT_RETRY_POLICY, type RetryEvent, type RetryPolicy, withRetry } from './upload/retry.js';
export { type FileTransportOptions, fileTransport } from './upload/transports/file.js';
export type { HttpPutOptions } from './upload/transports/http-put.js';
export {
  type LambdaUploaderOptions,
  lambdaUploaderTransport,
  type UploadGrantRequest,
} from './upload/transports/lambda-uploader.js';
export {
  type PresignedPutOptions,
  presignedPutTransport,
  type UploadUrlRequest,
  type UploadUrlResult,
} from './upload/transports/presigned-put.js';
export {
  S3_PUT_OBJECT_WARNING_CODE,
  type S3PutObjectOptions,
  s3PutObjectTransport,
} from './upload/transports/s3-put-object.js';
export {
  TRACE_CONTENT_TYPE,
  type TraceArtifact,
  type TraceTransport,
  type UploadOptions,
  type UploadReceipt,
} from './upload/types.js';
