/**
 * `@agent-trace/trace-sdk-cdk`: AWS CDK constructs that make agent-trace's promise real in
 * infrastructure: a traces bucket no agent runtime can write to, grants per transport, and the
 * uploader Lambda with its rotating grant key.
 *
 * @packageDocumentation
 */
export {
  type LegacyRuntimeGrantOptions,
  TRACES_OBJECTS,
  TRACES_PREFIX,
  TraceBucket,
  type TraceBucketProps,
} from './trace-bucket.js';
export {
  BUCKET_ENV,
  GRANT_KEYS_SECRET_ENV,
  TraceUploader,
  type TraceUploaderProps,
} from './trace-uploader.js';
