/**
 * The grant-key secret's value: the HMAC keys that sign and verify upload grants, by key id.
 *
 * Stored as one flat JSON object, `{ "current": "<kid>", "<kid>": "<secret>", ... }`: `current`
 * names the key the orchestrator signs with; every other member is a key id and its secret, all of
 * which the uploader Lambda accepts. The flat shape lets Secrets Manager generate the first key
 * itself (`generateStringKey`), so a fresh stack can mint grants before its first rotation.
 *
 * Rotation (see {@link rotateGrantKeys}) adds a new key, makes it current, and keeps exactly the
 * key it replaces, so grants signed just before a rotation keep verifying until the next one.
 *
 * Pure functions, no AWS: shared by the rotation Lambda, the uploader Lambda and the orchestrator.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { ConfigError } from '@agent-trace/trace-sdk';
import type { GrantKey } from '@agent-trace/trace-sdk/orchestrator';

/** Member of the secret naming the signing key. Not a valid key id of its own. */
export const CURRENT_FIELD = 'current';
/** Key id Secrets Manager's generated first key carries. */
export const INITIAL_KID = 'k0';
/** Length of generated secrets, in characters (base64url of 48 random bytes: 384 bits). */
export const GENERATED_SECRET_CHARS = 64;
/** Smallest secret accepted, in UTF-8 bytes (the HMAC-SHA256 output size, as `createUploadGrant` requires). */
export const MIN_SECRET_BYTES = 32;

const KID = /^[A-Za-z0-9._-]{1,64}$/;
const VARIABLE = 'grantKeySecret';

/** The parsed secret: the key to sign with, and every key to verify with (current included). */
export interface GrantKeySet {
  /** Id of the signing key; always present in `keys`. */
  readonly current: string;
  /** Secrets by key id. */
  readonly keys: Readonly<Record<string, string>>;
}

const bad = (why: string) => new ConfigError(`the grant-key secret is invalid: ${why}`, VARIABLE);

/**
 * Parses and validates the secret's string value. Messages name key ids, never secrets.
 *
 * @throws {@link ConfigError} (`variable: 'grantKeySecret'`) for anything but a valid key set.
 */
export function parseGrantKeySet(secretString: string): GrantKeySet {
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw bad('not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('not a JSON object');
  const record = value as Record<string, unknown>;
  const current = record[CURRENT_FIELD];
  if (typeof current !== 'string' || !KID.test(current)) {
    throw bad(`"${CURRENT_FIELD}" must name a key id (1-64 characters of [A-Za-z0-9._-])`);
  }
  const keys: Record<string, string> = Object.create(null);
  for (const [kid, secret] of Object.entries(record)) {
    if (kid === CURRENT_FIELD) continue;
    if (!KID.test(kid)) throw bad(`"${kid.slice(0, 64)}" is not a valid key id`);
    if (typeof secret !== 'string' || Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
      throw bad(`the secret of key "${kid}" must be a string of at least ${MIN_SECRET_BYTES} bytes`);
    }
    keys[kid] = secret;
  }
  if (!Object.hasOwn(keys, current)) throw bad(`the current key "${current}" has no secret`);
  return { current, keys };
}

/** Serializes a key set to the secret's string value (current first, then keys as given). */
export function serializeGrantKeySet(set: GrantKeySet): string {
  return JSON.stringify({ [CURRENT_FIELD]: set.current, ...set.keys });
}

/** The signing key, in the shape `createUploadGrant({ key })` takes. */
export function signingKey(set: GrantKeySet): GrantKey {
  return { id: set.current, secret: set.keys[set.current]! };
}

/**
 * A key id for a key created at `now`: `k` and the UTC time to the second (`k20261201T141800Z`),
 * so ids sort by age and say when a key was made. A clash with an existing id gets a suffix.
 */
export function newKeyId(now: Date, existing: Iterable<string> = []): string {
  const base = `k${now.toISOString().slice(0, 19).replaceAll(/[-:]/g, '')}Z`;
  const taken = new Set(existing);
  let kid = base;
  for (let n = 2; taken.has(kid); n++) kid = `${base}.${n}`;
  return kid;
}

/** A fresh random secret: 48 bytes from the CSPRNG as base64url (64 characters). */
export function generateSecret(): string {
  return randomBytes(48).toString('base64url');
}

/** Options of {@link rotateGrantKeys}. */
export interface RotateGrantKeysOptions {
  /** Clock for the new key id. Default: now. */
  readonly now?: Date | undefined;
  /** Secret generator. Default {@link generateSecret}. */
  readonly generate?: (() => string) | undefined;
}

/**
 * The key set after one rotation: a new current key, plus the key it replaces (so grants minted
 * just before the rotation still verify). Older keys are dropped: a grant must not outlive two
 * rotation periods, so keep the rotation period longer than the longest grant lifetime.
 */
export function rotateGrantKeys(previous: GrantKeySet, options: RotateGrantKeysOptions = {}): GrantKeySet {
  const kid = newKeyId(options.now ?? new Date(), Object.keys(previous.keys));
  const secret = (options.generate ?? generateSecret)();
  if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
    throw bad(`a generated secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return {
    current: kid,
    keys: { [kid]: secret, [previous.current]: previous.keys[previous.current]! },
  };
}
