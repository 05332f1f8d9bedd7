import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, GrantError, isValidId, traceKey } from '../src/index.js';
import { verifyUploadGrant } from '../src/lambda/index.js';
import { createUploadGrant, DEFAULT_GRANT_CLOCK_SKEW_MS } from '../src/orchestrator/index.js';
import { readUploadGrantClaims } from '../src/protocol/grant.js';

const K1 = { id: 'k1', secret: 'a'.repeat(32) };
const K2 = { id: 'k2-2026', secret: Buffer.alloc(48, 7) };
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const AUD = 'trace-bucket';
const clock = (ms: number) => () => ms;

function grantCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GrantError);
    return (err as GrantError).code;
  }
  throw new Error('expected a GrantError');
}

const mint = (over: Partial<Parameters<typeof createUploadGrant>[0]> = {}) =>
  createUploadGrant({
    audience: AUD,
    userId: 'user-1',
    taskId: 'task-1',
    expiresIn: 600,
    key: K1,
    now: clock(NOW),
    ...over,
  });

const id = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter(isValidId);

describe('upload grants', () => {
  it('round-trips the user and task of any valid ids, and derives the key with traceKey', () => {
    fc.assert(
      fc.property(id, id, fc.integer({ min: 1, max: 86_400 }), (userId, taskId, expiresIn) => {
        const token = createUploadGrant({
          audience: AUD,
          userId,
          taskId,
          expiresIn,
          key: K2,
          now: clock(NOW),
        });
        const verified = verifyUploadGrant(token, {
          audience: AUD,
          keys: { [K2.id]: K2.secret },
          now: clock(NOW),
        });
        expect(verified).toEqual({
          userId,
          taskId,
          key: traceKey({ userId, taskId }),
          expiresAt: new Date(NOW + expiresIn * 1000),
          kid: K2.id,
          audience: AUD,
          issuedAt: new Date(NOW),
        });
        expect(readUploadGrantClaims(token)).toMatchObject({ userId, taskId, kid: K2.id });
      }),
    );
  });

  it('fails verification when any single character of the token is changed', () => {
    const token = mint();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.constantFrom(...alphabet), (index, replacement) => {
        fc.pre(token[index] !== replacement);
        const tampered = token.slice(0, index) + replacement + token.slice(index + 1);
        const code = grantCode(() =>
          verifyUploadGrant(tampered, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW) }),
        );
        expect([
          'ERR_GRANT_MALFORMED',
          'ERR_GRANT_VERSION',
          'ERR_GRANT_SIGNATURE',
          'ERR_GRANT_UNKNOWN_KEY',
        ]).toContain(code);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a payload re-encoded to name another user under the original signature', () => {
    const [payload, signature] = mint().split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'user-2' })).toString('base64url');
    expect(
      grantCode(() =>
        verifyUploadGrant(`${forged}.${signature}`, { audience: AUD, keys: { k1: K1.secret } }),
      ),
    ).toBe('ERR_GRANT_SIGNATURE');
  });

  it('rejects a grant signed with another secret under the same key id', () => {
    const token = mint({ key: { id: 'k1', secret: 'b'.repeat(32) } });
    expect(
      grantCode(() => verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW) })),
    ).toBe('ERR_GRANT_SIGNATURE');
  });

  it('rejects an unknown key id', () => {
    const token = mint({ key: K2 });
    expect(
      grantCode(() => verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW) })),
    ).toBe('ERR_GRANT_UNKNOWN_KEY');
    expect(
      grantCode(() => verifyUploadGrant(token, { audience: AUD, keys: () => undefined, now: clock(NOW) })),
    ).toBe('ERR_GRANT_UNKNOWN_KEY');
    // Inherited object properties are not keys.
    const proto = mint({ key: { id: 'constructor', secret: K1.secret } });
    expect(
      grantCode(() => verifyUploadGrant(proto, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW) })),
    ).toBe('ERR_GRANT_UNKNOWN_KEY');
  });

  it('expires, with a small clock-skew allowance', () => {
    const token = mint({ expiresIn: 60 });
    const at = (ms: number) => () =>
      verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(ms) });
    expect(at(NOW + 60_000)().userId).toBe('user-1');
    expect(at(NOW + 60_000 + DEFAULT_GRANT_CLOCK_SKEW_MS)().userId).toBe('user-1');
    expect(grantCode(at(NOW + 60_000 + DEFAULT_GRANT_CLOCK_SKEW_MS + 1))).toBe('ERR_GRANT_EXPIRED');
    expect(
      grantCode(() =>
        verifyUploadGrant(token, {
          audience: AUD,
          keys: { k1: K1.secret },
          now: clock(NOW + 61_000),
          clockSkewMs: 0,
        }),
      ),
    ).toBe('ERR_GRANT_EXPIRED');
  });

  it('supports key rotation by key id', () => {
    const old = mint({ key: K1 });
    const fresh = mint({ key: K2 });
    const both = { k1: K1.secret, [K2.id]: K2.secret };
    expect(verifyUploadGrant(old, { audience: AUD, keys: both, now: clock(NOW) }).kid).toBe('k1');
    expect(verifyUploadGrant(fresh, { audience: AUD, keys: both, now: clock(NOW) }).kid).toBe(K2.id);
    const lookup = (kid: string) => (kid === K2.id ? K2.secret : undefined);
    expect(verifyUploadGrant(fresh, { audience: AUD, keys: lookup, now: clock(NOW) }).userId).toBe('user-1');
    expect(grantCode(() => verifyUploadGrant(old, { audience: AUD, keys: lookup, now: clock(NOW) }))).toBe(
      'ERR_GRANT_UNKNOWN_KEY',
    );
  });

  it.each([
    ['empty', ''],
    ['one part', 'abc'],
    ['three parts', 'a.b.c'],
    ['not base64url', 'a+b.c/d'],
    ['not JSON', `${Buffer.from('nope').toString('base64url')}.${Buffer.alloc(32).toString('base64url')}`],
    ['too long', `${'a'.repeat(5000)}.b`],
  ])('rejects a malformed token (%s)', (_what, token) => {
    expect(grantCode(() => verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret } }))).toBe(
      'ERR_GRANT_MALFORMED',
    );
  });

  it('rejects payloads with invalid ids even if well signed shapes are attempted', () => {
    const payload = Buffer.from(
      JSON.stringify({ v: 2, kid: 'k1', aud: AUD, sub: '../x', tid: 't', iat: 1, exp: 9e9 }),
    ).toString('base64url');
    expect(
      grantCode(() =>
        verifyUploadGrant(`${payload}.${Buffer.alloc(32).toString('base64url')}`, {
          audience: AUD,
          keys: { k1: K1.secret },
        }),
      ),
    ).toBe('ERR_GRANT_MALFORMED');
  });

  it('never puts the token in an error message', () => {
    const token = mint();
    const [payload, signature] = token.split('.') as [string, string];
    const attempts = [
      () =>
        verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW + 86_400_000) }),
      () =>
        verifyUploadGrant(`${payload}.${signature.slice(0, -2)}AA`, {
          audience: AUD,
          keys: { k1: K1.secret },
        }),
      () => verifyUploadGrant(token, { audience: AUD, keys: {} }),
      () => verifyUploadGrant(`${token}x`, { audience: AUD, keys: { k1: K1.secret } }),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
        throw new Error('expected failure');
      } catch (err) {
        expect(err).toBeInstanceOf(GrantError);
        expect((err as Error).message).not.toContain(payload);
        expect((err as Error).message).not.toContain(signature);
      }
    }
  });

  it('refuses weak secrets, bad key ids and missing expiries with ConfigError', () => {
    const bad = (over: Partial<Parameters<typeof createUploadGrant>[0]>) => () => mint(over);
    expect(bad({ key: { id: 'k1', secret: 'short' } })).toThrow(ConfigError);
    expect(bad({ key: { id: 'k1', secret: Buffer.alloc(31) } })).toThrow(/at least 32 bytes/);
    expect(bad({ key: { id: 'bad id!', secret: K1.secret } })).toThrow(ConfigError);
    expect(bad({ expiresIn: undefined })).toThrow(ConfigError);
    expect(bad({ expiresIn: -5 })).toThrow(ConfigError);
    expect(bad({ expiresIn: undefined, expiresAt: new Date(NOW - 1) })).toThrow(ConfigError);
    expect(bad({ userId: 'a/b' })).toThrow(/Invalid userId/);
    const token = mint();
    expect(() => verifyUploadGrant(token, { audience: AUD, keys: { k1: 'short' } })).toThrow(ConfigError);
  });

  it('refuses to mint a grant whose expiry could never verify', () => {
    const bad = (over: Partial<Parameters<typeof createUploadGrant>[0]>) => () => mint(over);
    // Past JavaScript's Date range: minted, it would only ever fail as malformed.
    expect(bad({ expiresIn: 1e13 })).toThrow(expect.objectContaining({ variable: 'expiresIn' }));
    expect(bad({ expiresIn: 1e16 })).toThrow(ConfigError);
    // The latest representable expiry still round-trips.
    const unbounded = Number.MAX_SAFE_INTEGER;
    const far = mint({
      expiresIn: undefined,
      expiresAt: new Date(8_639_999_999_999_000),
      maxLifetimeSeconds: unbounded,
    });
    const verifyFar = {
      audience: AUD,
      keys: { k1: K1.secret },
      now: clock(NOW),
      maxLifetimeSeconds: unbounded,
    };
    expect(verifyUploadGrant(far, verifyFar).expiresAt.getTime()).toBe(8_639_999_999_999_000);
  });

  it('accepts a clock-skew allowance only from 0 to 5 minutes', () => {
    const token = mint();
    for (const clockSkewMs of [-1, 300_001, Number.NaN]) {
      expect(() =>
        verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW), clockSkewMs }),
      ).toThrow(expect.objectContaining({ code: 'ERR_TRACE_CONFIG', variable: 'clockSkewMs' }));
    }
    expect(
      verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW), clockSkewMs: 0 })
        .key,
    ).toBe(traceKey({ userId: 'user-1', taskId: 'task-1' }));
  });

  it('accepts an absolute expiresAt', () => {
    const expiresAt = new Date(NOW + 5 * 60_000);
    const token = mint({ expiresIn: undefined, expiresAt });
    expect(
      verifyUploadGrant(token, { audience: AUD, keys: { k1: K1.secret }, now: clock(NOW) }).expiresAt,
    ).toEqual(expiresAt);
  });
});
