/**
 * The SigV4-verifying local S3: `startLocalS3()` and its types.
 *
 * @packageDocumentation
 */
export { type FailOptions, type Fault, FaultInjector, type FaultMatch } from './faults.js';
export type { S3Operation } from './operations.js';
export {
  LOCAL_S3_ACCESS_KEY_ID,
  LOCAL_S3_CREDENTIALS,
  LOCAL_S3_REGION,
  LOCAL_S3_SECRET_ACCESS_KEY,
  type LocalS3,
  type LocalS3Object,
  type LocalS3ObjectInfo,
  type LocalS3Options,
  type RecordedRequest,
  startLocalS3,
} from './server.js';
export type { LocalS3Credentials } from './sigv4-verify.js';
