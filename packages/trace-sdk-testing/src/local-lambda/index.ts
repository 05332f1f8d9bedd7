/**
 * The local Lambda Invoke API: `startLocalLambda()` and its types.
 *
 * @packageDocumentation
 */
export {
  LAMBDA_MAX_PAYLOAD_BYTES,
  type LocalLambda,
  type LocalLambdaContext,
  type LocalLambdaHandler,
  type LocalLambdaInvocation,
  type LocalLambdaOptions,
  startLocalLambda,
} from './server.js';
