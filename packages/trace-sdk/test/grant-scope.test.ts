import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AttributionError, ConfigError, GrantError } from '../src/index.js';
import { readUploadGrantClaims, verifyUploadGrant } from '../src/lambda/index.js';
import { createUploadGrant, DEFAULT_MAX_GRANT_LIFETIME_SECONDS } from '../src/orchestrator/index.js';

const KEY = { id: 'k1', secret: 's'.repeat(32) };
const KEYS = { k1: KEY.secret };
const NOW = Date.UTC(2026, 5, 1, 8, 0, 0);
const now = () => NOW;
const base = { userId: 'user-1', taskId: 'task-1', key: KEY, now, audience: 'bucket-a' } as const;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  throw new Error('expected a failure');
}

/** Signs a payload the way version 1 did, to stand for a grant minted before the version bump. */
function legacyV1Grant(): string {
  const payload = Buffer.from(
    JSON.stringify({ v: 1, kid: 'k1', sub: 'user-1', tid: 'task-1', exp: NOW / 1000 + 600 }),
  ).toString('base64url');
  const sig = createHmac('sha256', KEY.secret).update('agent-trace.grant.v1.').update(payload).digest();
  return `${payload}.${sig.toString('base64url')}`;
}

describe('grant audience', () => {
  it('verifies only for the audience it was minted for', () => {
    const token = createUploadGrant({ ...base, expiresIn: 600 });
    expect(verifyUploadGrant(token, { keys: KEYS, now, audience: 'bucket-a' }).audience).toBe('bucket-a');
    expect(verifyUploadGrant(token, { keys: KEYS, now, audience: ['bucket-b', 'bucket-a'] }).key).toBe(
      'traces/user-1/task-1.jsonl.gz',
    );
    expect(codeOf(() => verifyUploadGrant(token, { keys: KEYS, now, audience: 'bucket-b' }))).toBe(
      'ERR_GRANT_SCOPE',
    );
  });

  it('is required on both sides', () => {
    expect(() => createUploadGrant({ ...base, audience: '', expiresIn: 600 })).toThrow(
      expect.objectContaining({ variable: 'audience' }),
    );
    const token = createUploadGrant({ ...base, expiresIn: 600 });
    expect(() =>
      verifyUploadGrant(token, { keys: KEYS, now } as unknown as Parameters<typeof verifyUploadGrant>[1]),
    ).toThrow(ConfigError);
  });
});

describe('grant lifetime', () => {
  it('mints at most 24 hours by default', () => {
    expect(() => createUploadGrant({ ...base, expiresIn: DEFAULT_MAX_GRANT_LIFETIME_SECONDS + 1 })).toThrow(
      ConfigError,
    );
    const day = createUploadGrant({ ...base, expiresIn: DEFAULT_MAX_GRANT_LIFETIME_SECONDS });
    expect(verifyUploadGrant(day, { keys: KEYS, now, audience: 'bucket-a' }).userId).toBe('user-1');
  });

  it('refuses a grant that lives longer than the verifier allows, even if correctly signed', () => {
    const week = createUploadGrant({ ...base, expiresIn: 7 * 86_400, maxLifetimeSeconds: 7 * 86_400 });
    expect(codeOf(() => verifyUploadGrant(week, { keys: KEYS, now, audience: 'bucket-a' }))).toBe(
      'ERR_GRANT_SCOPE',
    );
    expect(
      verifyUploadGrant(week, { keys: KEYS, now, audience: 'bucket-a', maxLifetimeSeconds: 7 * 86_400 })
        .userId,
    ).toBe('user-1');
    const short = createUploadGrant({ ...base, expiresIn: 3600 });
    expect(
      codeOf(() =>
        verifyUploadGrant(short, { keys: KEYS, now, audience: 'bucket-a', maxLifetimeSeconds: 600 }),
      ),
    ).toBe('ERR_GRANT_SCOPE');
  });

  it('refuses a grant issued in the future (beyond the clock skew)', () => {
    const later = createUploadGrant({ ...base, expiresIn: 600, now: () => NOW + 3_600_000 });
    expect(codeOf(() => verifyUploadGrant(later, { keys: KEYS, now, audience: 'bucket-a' }))).toBe(
      'ERR_GRANT_SCOPE',
    );
  });
});

describe('old grants', () => {
  it('refuses a correctly signed version 1 grant with ERR_GRANT_VERSION', () => {
    const v1 = legacyV1Grant();
    expect(codeOf(() => verifyUploadGrant(v1, { keys: KEYS, now, audience: 'bucket-a' }))).toBe(
      'ERR_GRANT_VERSION',
    );
    expect(() => readUploadGrantClaims(v1)).toThrow(GrantError);
  });
});

describe('grant attribution claims', () => {
  it('carries the operator and session id, signed', () => {
    const token = createUploadGrant({
      ...base,
      expiresIn: 600,
      operator: 'alice@example.com',
      sessionId: 'sess-42',
    });
    const verified = verifyUploadGrant(token, { keys: KEYS, now, audience: 'bucket-a' });
    expect(verified).toMatchObject({ operator: 'alice@example.com', sessionId: 'sess-42' });
    expect(readUploadGrantClaims(token)).toMatchObject({
      operator: 'alice@example.com',
      sessionId: 'sess-42',
    });
    const plain = verifyUploadGrant(createUploadGrant({ ...base, expiresIn: 600 }), {
      keys: KEYS,
      now,
      audience: 'bucket-a',
    });
    expect(plain.operator).toBeUndefined();
  });

  it.each([
    ['too short', 'a'],
    ['too long', 'a'.repeat(65)],
    ['a space', 'alice smith'],
    ['a slash', 'alice/admin'],
    ['the reserved aws: prefix', 'aws:alice'],
  ])('fails closed on an operator STS would refuse (%s)', (_why, operator) => {
    expect(() => createUploadGrant({ ...base, expiresIn: 600, operator })).toThrow(AttributionError);
  });

  it('fails closed on a bad session id', () => {
    expect(() => createUploadGrant({ ...base, expiresIn: 600, sessionId: 'a b' })).toThrow(
      expect.objectContaining({ code: 'ERR_ATTRIBUTION', reason: 'invalid_session_id' }),
    );
  });
});
