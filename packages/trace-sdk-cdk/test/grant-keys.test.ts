/**
 * The grant-key secret: its format, the cached keyring the orchestrator and the uploader read it
 * through, and the Secrets Manager rotation that adds a key by `kid` and keeps the previous one.
 */
import { ConfigError, GrantError } from '@agent-trace/trace-sdk';
import { verifyUploadGrant } from '@agent-trace/trace-sdk/lambda';
import { createUploadGrant } from '@agent-trace/trace-sdk/orchestrator';

/** The uploader's bucket, which grants name as their audience. */
const AUDIENCE = 'traces-bucket';

import { describe, expect, it } from 'vitest';
import {
  createGrantKeyring,
  generateSecret,
  newKeyId,
  parseGrantKeySet,
  rotateGrantKeys,
  serializeGrantKeySet,
} from '../src/grant-keys/index.js';
import { rotateGrantKeySecret } from '../src/grant-keys/rotation.js';
import { FakeAwsError, FakeSecretsManager } from './fake-secrets-manager.js';

const S0 = 'a'.repeat(64);
const S1 = 'b'.repeat(64);
const INITIAL = JSON.stringify({ current: 'k0', k0: S0 });

describe('grant-key secret format', () => {
  it('reads what Secrets Manager generates first', () => {
    expect(parseGrantKeySet(INITIAL)).toEqual({ current: 'k0', keys: { k0: S0 } });
  });

  it('round-trips through serialize', () => {
    const set = { current: 'k2', keys: { k2: S1, k0: S0 } };
    expect(parseGrantKeySet(serializeGrantKeySet(set))).toEqual(set);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /not a JSON object/],
    ['no current', JSON.stringify({ k0: S0 }), /"current" must name a key id/],
    [
      'a current without a secret',
      JSON.stringify({ current: 'k1', k0: S0 }),
      /current key "k1" has no secret/,
    ],
    [
      'a short secret',
      JSON.stringify({ current: 'k0', k0: 'short-secret' }),
      /"k0" must be a string of at least 32/,
    ],
    ['a bad key id', JSON.stringify({ current: 'k0', k0: S0, 'a b': S1 }), /"a b" is not a valid key id/],
  ])('refuses %s with a ConfigError that never shows a secret', (_what, value, message) => {
    const err = captureError(() => parseGrantKeySet(value));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('grantKeySecret');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('short-secret');
  });

  it('names keys by their UTC creation second, unique among existing ids', () => {
    const at = new Date('2026-12-01T14:18:37.123Z');
    expect(newKeyId(at)).toBe('k20261201T141837Z');
    expect(newKeyId(at, ['k20261201T141837Z'])).toBe('k20261201T141837Z.2');
  });

  it('generates 64-character base64url secrets, each different', () => {
    const a = generateSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(generateSecret()).not.toBe(a);
  });

  it('a rotation adds a current key and keeps only the one it replaces', () => {
    const once = rotateGrantKeys(parseGrantKeySet(INITIAL), {
      now: new Date('2026-12-01T00:00:00Z'),
      generate: () => S1,
    });
    expect(once).toEqual({ current: 'k20261201T000000Z', keys: { k20261201T000000Z: S1, k0: S0 } });
    const twice = rotateGrantKeys(once, { now: new Date('2026-12-31T00:00:00Z') });
    expect(Object.keys(twice.keys).sort()).toEqual(['k20261201T000000Z', 'k20261231T000000Z']);
    expect(twice.current).toBe('k20261231T000000Z');
  });
});

describe('createGrantKeyring', () => {
  function setup(options: { maxAgeMs?: number } = {}) {
    const sm = new FakeSecretsManager(INITIAL);
    let clock = 1_000_000;
    const keyring = createGrantKeyring({
      secretId: sm.arn,
      client: sm.asClient(),
      now: () => clock,
      ...options,
    });
    return { sm, keyring, advance: (ms: number) => (clock += ms) };
  }

  it('reads the secret once and serves the signing key and lookups from the cache', async () => {
    const { sm, keyring } = setup();
    expect(keyring.lookup('k0')).toBeUndefined(); // nothing fetched yet
    expect(await keyring.signingKey()).toEqual({ id: 'k0', secret: S0 });
    expect(keyring.lookup('k0')).toBe(S0);
    expect(keyring.lookup('k9')).toBeUndefined();
    await keyring.keySet();
    expect(sm.calls).toEqual(['GetSecretValue']);
  });

  it('shares one fetch between concurrent callers', async () => {
    const { sm, keyring } = setup();
    await Promise.all([keyring.keySet(), keyring.keySetFor('k0'), keyring.signingKey()]);
    expect(sm.calls).toEqual(['GetSecretValue']);
  });

  it('refetches for a key id it does not know (a rotation), at most once per interval', async () => {
    const { sm, keyring, advance } = setup();
    await keyring.keySet();
    advance(1_100);
    sm.setCurrent(JSON.stringify({ current: 'k1', k1: S1, k0: S0 }));
    expect((await keyring.keySetFor('k1')).current).toBe('k1');
    expect(keyring.lookup('k1')).toBe(S1);
    // A forged kid right after does not cause another read.
    await keyring.keySetFor('forged');
    expect(sm.calls).toEqual(['GetSecretValue', 'GetSecretValue']);
    advance(1_100);
    await keyring.keySetFor('forged');
    expect(sm.calls).toHaveLength(3);
  });

  it('refetches the whole set after maxAgeMs, so a removed key stops verifying', async () => {
    const { sm, keyring, advance } = setup({ maxAgeMs: 60_000 });
    await keyring.keySet();
    sm.setCurrent(JSON.stringify({ current: 'k1', k1: S1 }));
    advance(59_000);
    expect(keyring.lookup('k0')).toBe(S0);
    await keyring.keySetFor('k0');
    expect(sm.calls).toHaveLength(1);
    advance(2_000);
    await keyring.keySetFor('k1');
    expect(keyring.lookup('k0')).toBeUndefined();
  });

  it('fails the first read with a ConfigError carrying the AWS error as cause', async () => {
    const { sm, keyring } = setup();
    sm.failWith = new FakeAwsError('AccessDeniedException', 'not allowed');
    const err = await keyring.keySet().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).cause).toBe(sm.failWith);
  });

  it('keeps serving the cached keys when a later read fails', async () => {
    const { sm, keyring, advance } = setup({ maxAgeMs: 1_000 });
    await keyring.keySet();
    sm.failWith = new FakeAwsError('InternalServiceError', 'down');
    advance(5_000);
    expect((await keyring.keySet()).current).toBe('k0');
    expect(keyring.lookup('k0')).toBe(S0);
  });

  it('refuses a missing secret id', () => {
    expect(() => createGrantKeyring({ secretId: '' })).toThrow(ConfigError);
  });
});

describe('rotateGrantKeySecret (Secrets Manager rotation steps)', () => {
  const now = () => Date.parse('2026-12-01T12:00:00Z');

  async function rotate(sm: FakeSecretsManager, token: string, generate = () => S1) {
    sm.beginRotation(token);
    for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await rotateGrantKeySecret(
        sm.asClient(),
        { SecretId: sm.arn, ClientRequestToken: token, Step },
        { now, generate },
      );
    }
  }

  it('makes a new kid current, keeps the previous key, and old grants still verify', async () => {
    const sm = new FakeSecretsManager(INITIAL);
    const oldGrant = createUploadGrant({
      userId: 'u1',
      taskId: 't1',
      expiresIn: 3600,
      key: { id: 'k0', secret: S0 },
      audience: AUDIENCE,
      now,
    });
    await rotate(sm, 'token-1');
    const set = parseGrantKeySet(sm.current());
    expect(set).toEqual({ current: 'k20261201T120000Z', keys: { k20261201T120000Z: S1, k0: S0 } });
    expect(verifyUploadGrant(oldGrant, { keys: set.keys, now, audience: AUDIENCE }).key).toBe(
      'traces/u1/t1.jsonl.gz',
    );
    expect(sm.versions.get('token-1')!.stages).toContain('AWSCURRENT');
    expect(sm.versions.get('v0')!.stages).toEqual([]);
  });

  it('drops the key two rotations back: its grants stop verifying', async () => {
    const sm = new FakeSecretsManager(INITIAL);
    const oldGrant = createUploadGrant({
      userId: 'u1',
      taskId: 't1',
      expiresIn: 3600,
      key: { id: 'k0', secret: S0 },
      audience: AUDIENCE,
      now,
    });
    await rotate(sm, 'token-1');
    await rotate(sm, 'token-2', () => 'c'.repeat(64));
    const set = parseGrantKeySet(sm.current());
    expect(Object.keys(set.keys)).not.toContain('k0');
    expect(() => verifyUploadGrant(oldGrant, { keys: set.keys, now, audience: AUDIENCE })).toThrow(
      GrantError,
    );
  });

  it('createSecret is idempotent: a retried step keeps the pending value', async () => {
    const sm = new FakeSecretsManager(INITIAL);
    sm.beginRotation('token-1');
    const event = { SecretId: sm.arn, ClientRequestToken: 'token-1', Step: 'createSecret' } as const;
    await rotateGrantKeySecret(sm.asClient(), event, { now, generate: () => S1 });
    const pending = sm.versions.get('token-1')!.value;
    await rotateGrantKeySecret(sm.asClient(), event, { now, generate: () => 'c'.repeat(64) });
    expect(sm.versions.get('token-1')!.value).toBe(pending);
  });

  it('testSecret refuses a pending value that cannot sign', async () => {
    const sm = new FakeSecretsManager(INITIAL);
    sm.beginRotation('token-1');
    sm.versions.get('token-1')!.value = JSON.stringify({ current: 'k1', k1: 'too-short' });
    const err = await rotateGrantKeySecret(sm.asClient(), {
      SecretId: sm.arn,
      ClientRequestToken: 'token-1',
      Step: 'testSecret',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(sm.current()).toBe(INITIAL);
  });

  it('does nothing for a version that is already current', async () => {
    const sm = new FakeSecretsManager(INITIAL);
    await rotateGrantKeySecret(sm.asClient(), {
      SecretId: sm.arn,
      ClientRequestToken: 'v0',
      Step: 'createSecret',
    });
    expect(sm.calls).toEqual(['DescribeSecret']);
  });

  it.each([
    [
      'an unknown token',
      (sm: FakeSecretsManager) => ({ SecretId: sm.arn, ClientRequestToken: 'nope', Step: 'createSecret' }),
    ],
    [
      'an unknown step',
      (sm: FakeSecretsManager) => ({ SecretId: sm.arn, ClientRequestToken: 'v0', Step: 'dropTables' }),
    ],
    ['not an event', () => null],
  ])('refuses %s', async (_what, event) => {
    const sm = new FakeSecretsManager(INITIAL);
    const err = await rotateGrantKeySecret(sm.asClient(), event(sm) as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
  });

  it('refuses to rotate a secret whose rotation is disabled', async () => {
    const sm = new FakeSecretsManager(INITIAL);
    sm.rotationEnabled = false;
    sm.beginRotation('token-1');
    await expect(
      rotateGrantKeySecret(sm.asClient(), {
        SecretId: sm.arn,
        ClientRequestToken: 'token-1',
        Step: 'createSecret',
      }),
    ).rejects.toThrow(/rotation is not enabled/);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
