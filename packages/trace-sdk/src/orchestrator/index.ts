/**
 * `@agent-trace/trace-sdk/orchestrator`: what the orchestrator uses to let a runtime upload one
 * trace without S3 permissions: presigned PUT URLs scoped to one exact key, and upload grants
 * for the uploader Lambda. Every name is listed (test/architecture/public-api.test.ts).
 *
 * @packageDocumentation
 */
export {
  type CreateUploadGrantOptions,
  createUploadGrant,
  DEFAULT_GRANT_CLOCK_SKEW_MS,
  type GrantKey,
  type GrantKeys,
  MIN_GRANT_SECRET_BYTES,
  type UploadGrantClaims,
} from '../protocol/grant.js';
export {
  type CreateTraceUploadUrlOptions,
  createTraceS3Client,
  createTraceUploadUrl,
  MAX_PRESIGN_EXPIRES_IN,
  type TraceUploadUrl,
} from '../protocol/presign.js';
