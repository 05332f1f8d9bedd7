/**
 * Entry of the uploader Lambda bundle (`dist/assets/uploader/index.mjs`, built by
 * `scripts/bundle-lambdas.ts`): `createUploaderHandler` from `@agent-trace/trace-sdk/lambda`,
 * with its grant keys read from Secrets Manager.
 *
 * Environment: `TRACE_ARTIFACTS_BUCKET_NAME` (the traces bucket) and
 * `TRACE_GRANT_KEYS_SECRET_ARN` (the grant-key secret). The keys are fetched at cold start and
 * refetched when a grant names an unknown key id (after a rotation) or the cache ages out.
 *
 * @packageDocumentation
 */
import { ConfigError } from '@agent-trace/trace-sdk';
import {
  createUploaderHandler,
  readUploadGrantClaims,
  type UploaderResponse,
} from '@agent-trace/trace-sdk/lambda';
import { createGrantKeyring } from '../grant-keys/keyring.js';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`${name} is required by the agent-trace uploader function`, name);
  }
  return value;
}

/** The grant's key id, or undefined when the request carries no well-formed grant (the handler refuses it). */
function grantKid(event: unknown): string | undefined {
  try {
    const request = typeof event === 'string' ? JSON.parse(event) : event;
    const grant = (request as { grant?: unknown } | null)?.grant;
    return typeof grant === 'string' ? readUploadGrantClaims(grant).kid : undefined;
  } catch {
    return undefined;
  }
}

const keyring = createGrantKeyring({ secretId: requiredEnv('TRACE_GRANT_KEYS_SECRET_ARN') });
// Start fetching during init (cold start); a failure here is retried by the first request.
keyring.keySet().catch(() => {});

const upload = createUploaderHandler({
  bucket: requiredEnv('TRACE_ARTIFACTS_BUCKET_NAME'),
  grantKeys: keyring.lookup,
});

/** The Lambda handler: freshens the keys for the grant's kid, then verifies and stores. */
export async function handler(event: unknown, context?: unknown): Promise<UploaderResponse> {
  const kid = grantKid(event);
  await (kid === undefined ? keyring.keySet() : keyring.keySetFor(kid));
  return upload(event, context);
}
