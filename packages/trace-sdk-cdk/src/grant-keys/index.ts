/**
 * `@agent-trace/trace-sdk-cdk/grant-keys`: reading the grant-key secret that `TraceUploader`
 * provisions, for the orchestrator (to sign upload grants) and the uploader function (to verify
 * them). Needs `@agent-trace/trace-sdk` and `@aws-sdk/client-secrets-manager` at run time.
 *
 * @packageDocumentation
 */
export {
  CURRENT_FIELD,
  type GrantKeySet,
  generateSecret,
  INITIAL_KID,
  newKeyId,
  parseGrantKeySet,
  type RotateGrantKeysOptions,
  rotateGrantKeys,
  serializeGrantKeySet,
  signingKey,
} from './format.js';
export { createGrantKeyring, type GrantKeyring, type GrantKeyringOptions } from './keyring.js';
