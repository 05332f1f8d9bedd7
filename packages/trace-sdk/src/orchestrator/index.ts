/**
 * `@agent-trace/trace-sdk/orchestrator`: what the orchestrator uses to let a runtime upload one
 * trace without S3 permissions: presigned PUT URLs scoped to one exact key (size, checksum and
 * attribution signed in), upload grants for the uploader Lambda, and the CloudTrail binding of an
 * operator as STS SourceIdentity. Every name is listed (test/architecture/public-api.test.ts).
 *
 * @packageDocumentation
 */
export {
  ATTRIBUTION_METADATA,
  type AttributionClaims,
  type AttributionSource,
  attributionMetadata,
  isValidOperator,
  readAttributionMetadata,
  type StoredAttribution,
  type TraceAttribution,
  UNATTRIBUTED_METADATA,
} from '../protocol/attribution.js';
export {
  type CreateUploadGrantOptions,
  createUploadGrant,
  DEFAULT_GRANT_CLOCK_SKEW_MS,
  DEFAULT_MAX_GRANT_LIFETIME_SECONDS,
  type GrantKey,
  type GrantKeys,
  MAX_GRANT_TOKEN_CHARS,
  MIN_GRANT_SECRET_BYTES,
  type UploadGrantClaims,
} from '../protocol/grant.js';
export {
  type CreateTraceUploadUrlOptions,
  createTraceS3Client,
  createTraceUploadUrl,
  DEFAULT_MAX_TRACE_OBJECT_BYTES,
  MAX_PRESIGN_EXPIRES_IN,
  S3_MAX_PUT_BYTES,
  sourceIdentityOf,
  type TraceUploadUrl,
} from '../protocol/presign.js';
export {
  assumeRoleWithSourceIdentity,
  createSourceIdentityS3Client,
  type SourceIdentityCredentials,
  type SourceIdentityRoleOptions,
  type SourceIdentityS3ClientOptions,
} from './source-identity.js';
