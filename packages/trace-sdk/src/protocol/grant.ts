/**
 * Upload grants: what lets a runtime with no S3 permission ask the uploader Lambda to store a
 * trace, for exactly one user and task, until an expiry. The orchestrator mints them; the
 * Lambda verifies them and derives the object key from the grant alone.
 *
 * Token: `base64url(JSON payload) "." base64url(HMAC-SHA256(secret, "agent-trace.grant.v2." + payload segment))`,
 * payload `{ v: 2, kid, aud, sub: userId, tid: taskId, iat, exp, op?, sid? }` (epoch seconds;
 * `aud` the bucket or deployment the grant is for, `op` the operator, `sid` the session id).
 * Keys are rotated by id: mint with the new `kid`, verify with old and new until old grants
 * have expired.
 *
 * Version 1 grants (no audience, no issue time) are refused with `ERR_GRANT_VERSION`: they could
 * be replayed against any deployment sharing a key and had no bounded lifetime. Grants live at
 * most {@link DEFAULT_MAX_GRANT_LIFETIME_SECONDS} by default, so a rollout waits that long at most.
 *
 * @packageDocumentation
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, GrantError } from '../errors.js';
import { assertValidId, isValidId, traceKey } from '../key.js';
import { type AttributionClaims, checkAttributionClaims, isValidOperator } from './attribution.js';

/** A grant-signing key: an id (goes into the token) and a secret of at least 32 bytes. */
export interface GrantKey {
  /** Key id, 1–64 characters of `[A-Za-z0-9._-]`. */
  readonly id: string;
  /** HMAC secret, at least 32 bytes (a string counts its UTF-8 bytes). */
  readonly secret: string | Uint8Array;
}

/** Options of {@link createUploadGrant}. Give `expiresIn` or `expiresAt`. */
export interface CreateUploadGrantOptions extends AttributionClaims {
  /** The user the grant lets upload for (a valid id). */
  readonly userId: string;
  /** The one task of that user (a valid id). */
  readonly taskId: string;
  /**
   * Who the grant is for: the artifacts bucket, or a deployment id. The uploader Lambda accepts
   * only grants for its own audience (by default its bucket). 1–256 printable ASCII characters.
   */
  readonly audience: string;
  /**
   * Longest lifetime this call may mint, in seconds. Default
   * {@link DEFAULT_MAX_GRANT_LIFETIME_SECONDS}; verifiers refuse grants longer than theirs.
   */
  readonly maxLifetimeSeconds?: number | undefined;
  /** Lifetime in seconds from now. */
  readonly expiresIn?: number | undefined;
  /** Absolute expiry. */
  readonly expiresAt?: Date | undefined;
  /** The signing key. */
  readonly key: GrantKey;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** Verification keys: a map of key id to secret, or a lookup function (e.g. from a secret store). */
export type GrantKeys =
  | Readonly<Record<string, string | Uint8Array>>
  | ((kid: string) => string | Uint8Array | undefined);

/** Options of {@link verifyUploadGrant}. */
export interface VerifyUploadGrantOptions {
  /** Secrets by key id; keep retired ids until their grants have expired. */
  readonly keys: GrantKeys;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** Tolerated clock difference between minting and verifying hosts, in ms. Default 30 000, at most 300 000. */
  readonly clockSkewMs?: number | undefined;
  /** The audience (or audiences) this verifier serves, e.g. its bucket. A grant for another is `ERR_GRANT_SCOPE`. */
  readonly audience: string | readonly string[];
  /**
   * Longest accepted lifetime (`exp - iat`), in seconds. Default
   * {@link DEFAULT_MAX_GRANT_LIFETIME_SECONDS}. A longer grant is `ERR_GRANT_SCOPE`.
   */
  readonly maxLifetimeSeconds?: number | undefined;
}

/** What a verified grant allows: writing `key`, and nothing else, until `expiresAt`. */
export interface VerifiedUploadGrant {
  /** The user the grant names. */
  readonly userId: string;
  /** The task the grant names. */
  readonly taskId: string;
  /** `traceKey({ userId, taskId })`. */
  readonly key: string;
  /** When the grant stops verifying (before the clock-skew allowance). */
  readonly expiresAt: Date;
  /** Id of the key that signed it. */
  readonly kid: string;
  /** The audience the grant was minted for. */
  readonly audience: string;
  /** When it was minted. */
  readonly issuedAt: Date;
  /** The operator the orchestrator stated, if any (an STS-clean `SourceIdentity`). */
  readonly operator?: string | undefined;
  /** The session id the orchestrator stated, if any. */
  readonly sessionId?: string | undefined;
}

/** Unverified claims read from a grant, e.g. for a runtime to check it holds the right one. */
export interface UploadGrantClaims {
  /** The user the grant names. */
  readonly userId: string;
  /** The task the grant names. */
  readonly taskId: string;
  /** When the grant expires. */
  readonly expiresAt: Date;
  /** Id of the key it claims to be signed with. */
  readonly kid: string;
  /** The audience it claims. */
  readonly audience: string;
  /** The operator it claims, if any. */
  readonly operator?: string | undefined;
  /** The session id it claims, if any. */
  readonly sessionId?: string | undefined;
}

/** Smallest accepted secret, in bytes (the HMAC-SHA256 output size). */
export const MIN_GRANT_SECRET_BYTES = 32;
/** Longest token accepted by {@link verifyUploadGrant}. */
export const MAX_GRANT_TOKEN_CHARS = 4096;
/** Default tolerance for clocks that disagree. */
export const DEFAULT_GRANT_CLOCK_SKEW_MS = 30_000;
/** Largest accepted clock-skew tolerance (5 minutes): more would quietly extend every grant. */
export const MAX_GRANT_CLOCK_SKEW_MS = 300_000;
/**
 * Latest expiry a grant may carry, in epoch seconds (the end of JavaScript's Date range): a
 * later one could be minted but would never verify or print.
 */
const MAX_GRANT_EXP_SECONDS = 8_640_000_000_000;
/** Default longest grant lifetime, minted or accepted: 24 hours. */
export const DEFAULT_MAX_GRANT_LIFETIME_SECONDS = 86_400;

const GRANT_VERSION = 2;
const SIGNING_CONTEXT = 'agent-trace.grant.v2.';
const AUDIENCE = /^[\x21-\x7e]{1,256}$/;
const SESSION_ID = /^[A-Za-z0-9._:@+=,/-]{1,256}$/;
const KID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function secretBytes(secret: unknown, variable: string): Buffer {
  let bytes: Buffer;
  if (typeof secret === 'string') bytes = Buffer.from(secret, 'utf8');
  else if (secret instanceof Uint8Array) bytes = Buffer.from(secret);
  else throw new ConfigError('grant key secret must be a string or bytes', variable);
  if (bytes.byteLength < MIN_GRANT_SECRET_BYTES) {
    throw new ConfigError(`grant key secret must be at least ${MIN_GRANT_SECRET_BYTES} bytes`, variable);
  }
  return bytes;
}

function checkMaxLifetime(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_GRANT_LIFETIME_SECONDS;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(
      'maxLifetimeSeconds must be a positive whole number of seconds',
      'maxLifetimeSeconds',
    );
  }
  return value;
}

function sign(secret: Buffer, payloadSegment: string): Buffer {
  return createHmac('sha256', secret).update(SIGNING_CONTEXT).update(payloadSegment).digest();
}

/**
 * Mints an upload grant for one user and task. The token is opaque to the runtime and must be
 * handled like a credential: never logged, never put in an error.
 *
 * @throws {@link ConfigError} for a weak secret, a bad key id or a missing/invalid expiry.
 * @throws {@link TraceKeyError} for an invalid user or task id.
 */
export function createUploadGrant(options: CreateUploadGrantOptions): string {
  const { userId, taskId, key, audience } = options;
  assertValidId('userId', userId);
  assertValidId('taskId', taskId);
  if (typeof audience !== 'string' || !AUDIENCE.test(audience)) {
    throw new ConfigError(
      'audience (the bucket or deployment id the grant is for) must be 1-256 printable ASCII characters',
      'audience',
    );
  }
  const claims = checkAttributionClaims(options);
  const maxLifetime = checkMaxLifetime(options.maxLifetimeSeconds);
  if (typeof key?.id !== 'string' || !KID.test(key.id)) {
    throw new ConfigError('grant key id must be 1-64 characters of [A-Za-z0-9._-]', 'key.id');
  }
  const secret = secretBytes(key.secret, 'key.secret');
  const now = (options.now ?? Date.now)();
  let expMs: number;
  if (options.expiresAt !== undefined) {
    if (!(options.expiresAt instanceof Date) || Number.isNaN(options.expiresAt.getTime())) {
      throw new ConfigError('expiresAt must be a valid Date', 'expiresAt');
    }
    expMs = options.expiresAt.getTime();
  } else if (options.expiresIn !== undefined) {
    if (!Number.isFinite(options.expiresIn) || options.expiresIn <= 0) {
      throw new ConfigError('expiresIn must be a positive number of seconds', 'expiresIn');
    }
    expMs = now + options.expiresIn * 1000;
  } else {
    throw new ConfigError('give expiresIn (seconds) or expiresAt', 'expiresIn');
  }
  if (expMs <= now) throw new ConfigError('the grant would already be expired', 'expiresAt');
  const iat = Math.floor(now / 1000);
  if (expMs - now > maxLifetime * 1000) {
    throw new ConfigError(
      `the grant would live longer than maxLifetimeSeconds (${maxLifetime})`,
      options.expiresAt ? 'expiresAt' : 'expiresIn',
    );
  }
  if (Math.ceil(expMs / 1000) > MAX_GRANT_EXP_SECONDS) {
    throw new ConfigError(
      'the grant expiry is beyond the representable date range',
      options.expiresAt ? 'expiresAt' : 'expiresIn',
    );
  }
  const payload: GrantPayload = {
    v: GRANT_VERSION,
    kid: key.id,
    aud: audience,
    sub: userId,
    tid: taskId,
    iat,
    exp: Math.ceil(expMs / 1000),
    ...(claims.operator !== undefined ? { op: claims.operator } : {}),
    ...(claims.sessionId !== undefined ? { sid: claims.sessionId } : {}),
  };
  const payloadSegment = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${payloadSegment}.${sign(secret, payloadSegment).toString('base64url')}`;
}

const malformed = (why: string) => new GrantError('ERR_GRANT_MALFORMED', `Malformed upload grant: ${why}`);

/** Decodes a base64url segment, refusing any non-canonical spelling (so no two tokens verify alike). */
function decodeSegment(segment: string): Buffer {
  if (!BASE64URL.test(segment)) throw malformed('not base64url');
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) throw malformed('not canonical base64url');
  return bytes;
}

interface GrantPayload {
  v: number;
  kid: string;
  aud: string;
  sub: string;
  tid: string;
  iat: number;
  exp: number;
  op?: string;
  sid?: string;
}

const isEpochSeconds = (n: unknown): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n <= MAX_GRANT_EXP_SECONDS;

function decodeToken(token: unknown): { payloadSegment: string; signature: Buffer; payload: GrantPayload } {
  if (typeof token !== 'string' || token.length === 0) throw malformed('expected a non-empty string');
  if (token.length > MAX_GRANT_TOKEN_CHARS) throw malformed('too long');
  const parts = token.split('.');
  if (parts.length !== 2) throw malformed('expected two dot-separated parts');
  const [payloadSegment, signatureSegment] = parts as [string, string];
  const payloadBytes = decodeSegment(payloadSegment);
  const signature = decodeSegment(signatureSegment);
  let payload: unknown;
  try {
    payload = JSON.parse(payloadBytes.toString('utf8'));
  } catch {
    throw malformed('payload is not JSON');
  }
  const p = payload as Partial<GrantPayload> | null;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw malformed('payload is not an object');
  if (p.v === 1) {
    throw new GrantError(
      'ERR_GRANT_VERSION',
      'Upload grant version 1 (no audience, unbounded lifetime) is no longer accepted; mint a new grant',
    );
  }
  if (p.v !== GRANT_VERSION) throw malformed('unsupported version');
  if (typeof p.kid !== 'string' || !KID.test(p.kid)) throw malformed('bad key id');
  if (typeof p.aud !== 'string' || !AUDIENCE.test(p.aud)) throw malformed('bad audience');
  if (!isValidId(p.sub) || !isValidId(p.tid)) throw malformed('bad user or task id');
  if (!isEpochSeconds(p.exp)) throw malformed('bad expiry');
  if (!isEpochSeconds(p.iat) || p.iat > p.exp) throw malformed('bad issue time');
  if (p.op !== undefined && !isValidOperator(p.op)) throw malformed('bad operator');
  if (p.sid !== undefined && (typeof p.sid !== 'string' || !SESSION_ID.test(p.sid))) {
    throw malformed('bad session id');
  }
  return { payloadSegment, signature, payload: p as GrantPayload };
}

/**
 * Reads a grant's claims WITHOUT verifying it. For a runtime to check, before sending anything,
 * that the grant it holds is for the artifact it is uploading. Never use it to authorize.
 *
 * @throws {@link GrantError} `ERR_GRANT_MALFORMED` | `ERR_GRANT_VERSION`.
 */
export function readUploadGrantClaims(token: string): UploadGrantClaims {
  const { payload } = decodeToken(token);
  return {
    userId: payload.sub,
    taskId: payload.tid,
    expiresAt: new Date(payload.exp * 1000),
    kid: payload.kid,
    audience: payload.aud,
    ...(payload.op !== undefined ? { operator: payload.op } : {}),
    ...(payload.sid !== undefined ? { sessionId: payload.sid } : {}),
  };
}

function lookupKey(keys: GrantKeys, kid: string): string | Uint8Array | undefined {
  if (typeof keys === 'function') return keys(kid);
  return Object.hasOwn(keys, kid) ? keys[kid] : undefined;
}

/**
 * Verifies an upload grant: shape, key id, HMAC (constant-time), audience, lifetime, then
 * expiry with a small clock skew allowance. Returns what it allows; the key comes from
 * `traceKey` on the grant's ids.
 *
 * @throws {@link GrantError} `ERR_GRANT_MALFORMED` | `ERR_GRANT_VERSION` | `ERR_GRANT_UNKNOWN_KEY` |
 *   `ERR_GRANT_SIGNATURE` | `ERR_GRANT_SCOPE` (another audience, a lifetime over the maximum, or
 *   issued in the future) | `ERR_GRANT_EXPIRED`. Messages never contain the token.
 * @throws {@link ConfigError} when the configured secret for the grant's key id is too weak, no
 *   audience is configured, or `clockSkewMs` is not from 0 to {@link MAX_GRANT_CLOCK_SKEW_MS}.
 */
export function verifyUploadGrant(token: string, options: VerifyUploadGrantOptions): VerifiedUploadGrant {
  const audiences = typeof options?.audience === 'string' ? [options.audience] : options?.audience;
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((a) => typeof a === 'string' && AUDIENCE.test(a))
  ) {
    throw new ConfigError(
      "verifyUploadGrant: audience (this verifier's bucket or deployment id) is required",
      'audience',
    );
  }
  const maxLifetime = checkMaxLifetime(options.maxLifetimeSeconds);
  const { payloadSegment, signature, payload } = decodeToken(token);
  const configured = lookupKey(options.keys, payload.kid);
  if (configured === undefined) {
    throw new GrantError(
      'ERR_GRANT_UNKNOWN_KEY',
      `Upload grant signed with an unknown key id "${payload.kid}"`,
    );
  }
  const expected = sign(secretBytes(configured, `keys.${payload.kid}`), payloadSegment);
  if (signature.byteLength !== expected.byteLength || !timingSafeEqual(signature, expected)) {
    throw new GrantError('ERR_GRANT_SIGNATURE', 'Upload grant signature does not verify');
  }
  const now = (options.now ?? Date.now)();
  const skew = options.clockSkewMs ?? DEFAULT_GRANT_CLOCK_SKEW_MS;
  if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0 || skew > MAX_GRANT_CLOCK_SKEW_MS) {
    throw new ConfigError(`clockSkewMs must be a number from 0 to ${MAX_GRANT_CLOCK_SKEW_MS}`, 'clockSkewMs');
  }
  // After the signature: only a grant we minted is worth describing.
  if (!audiences.includes(payload.aud)) {
    throw new GrantError('ERR_GRANT_SCOPE', 'Upload grant was minted for another audience');
  }
  // iat is rounded down and exp up to whole seconds: one second of slack for the rounding.
  if (payload.exp - payload.iat > maxLifetime + 1) {
    throw new GrantError(
      'ERR_GRANT_SCOPE',
      `Upload grant lifetime ${payload.exp - payload.iat} s exceeds the maximum ${maxLifetime} s`,
    );
  }
  if (payload.iat * 1000 > now + skew) {
    throw new GrantError('ERR_GRANT_SCOPE', 'Upload grant was issued in the future');
  }
  const expiresAt = payload.exp * 1000;
  if (now > expiresAt + skew) {
    throw new GrantError('ERR_GRANT_EXPIRED', `Upload grant expired at ${new Date(expiresAt).toISOString()}`);
  }
  return {
    userId: payload.sub,
    taskId: payload.tid,
    key: traceKey({ userId: payload.sub, taskId: payload.tid }),
    expiresAt: new Date(expiresAt),
    kid: payload.kid,
    audience: payload.aud,
    issuedAt: new Date(payload.iat * 1000),
    ...(payload.op !== undefined ? { operator: payload.op } : {}),
    ...(payload.sid !== undefined ? { sessionId: payload.sid } : {}),
  };
}
