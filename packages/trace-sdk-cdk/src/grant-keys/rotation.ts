/**
 * Secrets Manager rotation of the grant-key secret, one step per call, as Secrets Manager drives
 * it (createSecret, setSecret, testSecret, finishSecret). Each step is idempotent: Secrets Manager
 * retries a failed step with the same token.
 *
 * @packageDocumentation
 */
import { ConfigError } from '@agent-trace/trace-sdk';
import { verifyUploadGrant } from '@agent-trace/trace-sdk/lambda';
import { createUploadGrant } from '@agent-trace/trace-sdk/orchestrator';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type GrantKeySet, parseGrantKeySet, rotateGrantKeys, serializeGrantKeySet } from './format.js';

/** The event Secrets Manager invokes a rotation function with. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
}

/** Options of {@link rotateGrantKeySecret}. */
export interface RotateGrantKeySecretOptions {
  /** Clock for the new key id and the test grant. Default: now. */
  readonly now?: (() => number) | undefined;
  /** Secret generator, for tests. */
  readonly generate?: (() => string) | undefined;
}

const STEPS = new Set(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);

const isNotFound = (err: unknown) => (err as { name?: unknown })?.name === 'ResourceNotFoundException';

async function readVersion(
  client: SecretsManagerClient,
  input: { SecretId: string; VersionStage?: string; VersionId?: string },
): Promise<GrantKeySet> {
  const out = await client.send(new GetSecretValueCommand(input));
  if (typeof out.SecretString !== 'string') throw new ConfigError('the grant-key secret has no string value');
  return parseGrantKeySet(out.SecretString);
}

/**
 * Runs one rotation step for the grant-key secret.
 *
 * - `createSecret`: stores the rotated key set (a new current key plus the one it replaces) as
 *   `AWSPENDING` under the token, unless that version exists already.
 * - `setSecret`: nothing; no other system holds the keys.
 * - `testSecret`: mints a grant with the pending signing key and verifies it with the pending set.
 * - `finishSecret`: moves `AWSCURRENT` to the token's version.
 *
 * @throws {@link ConfigError} for an event that is not a rotation step of a rotation-enabled secret.
 */
export async function rotateGrantKeySecret(
  client: SecretsManagerClient,
  event: RotationEvent,
  options: RotateGrantKeySecretOptions = {},
): Promise<void> {
  const { SecretId, ClientRequestToken: token, Step } = event ?? ({} as RotationEvent);
  if (typeof SecretId !== 'string' || typeof token !== 'string' || !STEPS.has(Step)) {
    throw new ConfigError('not a Secrets Manager rotation event', 'event');
  }
  const now = options.now ?? Date.now;
  const described = await client.send(new DescribeSecretCommand({ SecretId }));
  if (described.RotationEnabled === false) {
    throw new ConfigError('rotation is not enabled on the grant-key secret', 'SecretId');
  }
  const stages = described.VersionIdsToStages?.[token];
  if (stages === undefined)
    throw new ConfigError('the rotation token is not a version of the secret', 'token');
  if (stages.includes('AWSCURRENT')) return; // this version already finished rotating
  if (!stages.includes('AWSPENDING')) {
    throw new ConfigError('the rotation token is not the pending version of the secret', 'token');
  }

  switch (Step) {
    case 'createSecret': {
      const current = await readVersion(client, { SecretId, VersionStage: 'AWSCURRENT' });
      try {
        await readVersion(client, { SecretId, VersionId: token, VersionStage: 'AWSPENDING' });
        return; // created by an earlier try of this step
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const next = rotateGrantKeys(current, { now: new Date(now()), generate: options.generate });
      await client.send(
        new PutSecretValueCommand({
          SecretId,
          ClientRequestToken: token,
          SecretString: serializeGrantKeySet(next),
          VersionStages: ['AWSPENDING'],
        }),
      );
      return;
    }
    case 'setSecret':
      return;
    case 'testSecret': {
      const pending = await readVersion(client, { SecretId, VersionId: token, VersionStage: 'AWSPENDING' });
      const key = { id: pending.current, secret: pending.keys[pending.current]! };
      // A grant for a throwaway audience: it proves the pending key signs and verifies, and is
      // valid for no uploader.
      const audience = 'agent-trace-rotation-test';
      const grant = createUploadGrant({
        userId: 'rotation-test',
        taskId: token,
        expiresIn: 60,
        key,
        now,
        audience,
      });
      verifyUploadGrant(grant, { keys: pending.keys, now, audience });
      return;
    }
    case 'finishSecret': {
      const currentVersion = Object.entries(described.VersionIdsToStages ?? {}).find(([, s]) =>
        s.includes('AWSCURRENT'),
      )?.[0];
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(currentVersion !== undefined ? { RemoveFromVersionId: currentVersion } : {}),
        }),
      );
      return;
    }
  }
}
