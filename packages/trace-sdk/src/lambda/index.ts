/**
 * `@agent-trace/trace-sdk/lambda`: the uploader Lambda's handler and its request/response protocol.
 * Every name is listed (test/architecture/public-api.test.ts).
 *
 * @packageDocumentation
 */
export {
  type GrantKey,
  type GrantKeys,
  MAX_GRANT_CLOCK_SKEW_MS,
  readUploadGrantClaims,
  type UploadGrantClaims,
  type VerifiedUploadGrant,
  type VerifyUploadGrantOptions,
  verifyUploadGrant,
} from '../protocol/grant.js';
export {
  LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES,
  type UploaderErrorCode,
  type UploaderErrorResponse,
  type UploaderPresignRequest,
  type UploaderPresignResponse,
  type UploaderPutRequest,
  type UploaderPutResponse,
  type UploaderRequest,
  type UploaderResponse,
} from '../protocol/lambda-messages.js';
export {
  type ArtifactHeaderCheck,
  checkArtifactHeader,
  DEFAULT_MAX_HEADER_LINE_BYTES,
} from './artifact-header-check.js';
export {
  createUploaderHandler,
  DEFAULT_MAX_OBJECT_BYTES,
  type UploaderHandler,
  type UploaderHandlerOptions,
  type UploaderLogEntry,
} from './handler.js';
