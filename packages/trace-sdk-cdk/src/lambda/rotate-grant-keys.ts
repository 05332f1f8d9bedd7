/**
 * Entry of the grant-key rotation Lambda bundle (`dist/assets/rotate-grant-keys/index.mjs`):
 * Secrets Manager calls it with each rotation step of the grant-key secret.
 *
 * @packageDocumentation
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type RotationEvent, rotateGrantKeySecret } from '../grant-keys/rotation.js';

const client = new SecretsManagerClient({});

/** The Lambda handler. Logs the step, never a secret. */
export async function handler(event: RotationEvent): Promise<void> {
  console.log(JSON.stringify({ msg: 'agent-trace grant-key rotation', step: event?.Step }));
  await rotateGrantKeySecret(client, event);
}
