/**
 * Reads the grant-key secret from Secrets Manager and keeps it cached, for the uploader Lambda
 * (verifies grants) and the orchestrator (signs them).
 *
 * A warm Lambda must notice a rotation: a grant signed with a key id the cache does not know
 * triggers one refetch (at most once per `minRefreshIntervalMs`, so forged kids cannot turn the
 * function into a Secrets Manager load generator), and the whole set is refetched after
 * `maxAgeMs` so a removed key stops verifying.
 *
 * @packageDocumentation
 */
import { ConfigError } from '@agent-trace/trace-sdk';
import type { GrantKey } from '@agent-trace/trace-sdk/orchestrator';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type GrantKeySet, parseGrantKeySet, signingKey } from './format.js';

/** Options of {@link createGrantKeyring}. */
export interface GrantKeyringOptions {
  /** ARN or name of the grant-key secret. */
  readonly secretId: string;
  /** A configured client. Default: one from the environment (region, credentials). */
  readonly client?: SecretsManagerClient | undefined;
  /** How long a fetched key set is used before it is fetched again, in ms. Default 300 000. */
  readonly maxAgeMs?: number | undefined;
  /** Least time between two fetches caused by unknown key ids, in ms. Default 1000. */
  readonly minRefreshIntervalMs?: number | undefined;
  /** Clock, for tests. */
  readonly now?: (() => number) | undefined;
}

/** A cached view of the grant-key secret. */
export interface GrantKeyring {
  /** The key set, fetched when nothing is cached or the cache is older than `maxAgeMs`. */
  keySet(): Promise<GrantKeySet>;
  /**
   * The key set, fetched again first when `kid` is not in the cache (rate-limited). Resolves
   * whether or not the key exists; verification then decides.
   */
  keySetFor(kid: string): Promise<GrantKeySet>;
  /** The current signing key, for `createUploadGrant({ key })`. */
  signingKey(): Promise<GrantKey>;
  /**
   * Synchronous lookup over the cached set, for `createUploaderHandler({ grantKeys })`. Call
   * {@link GrantKeyring.keySetFor} before each verification so the cache is loaded and fresh.
   */
  readonly lookup: (kid: string) => string | undefined;
}

const DEFAULT_MAX_AGE_MS = 300_000;
const DEFAULT_MIN_REFRESH_INTERVAL_MS = 1_000;

/**
 * Creates a keyring over the grant-key secret. Nothing is fetched until first use.
 *
 * A failed refetch keeps serving the cached set (Secrets Manager being briefly unreachable must
 * not stop uploads); a failed first fetch rejects with a {@link ConfigError} whose cause is the
 * AWS SDK error.
 *
 * @example
 * const keyring = createGrantKeyring({ secretId: process.env.TRACE_GRANT_KEYS_SECRET_ARN! });
 * const grant = createUploadGrant({
 *   userId, taskId, expiresIn: 3600, audience: bucketName, key: await keyring.signingKey(),
 * });
 */
export function createGrantKeyring(options: GrantKeyringOptions): GrantKeyring {
  if (typeof options?.secretId !== 'string' || options.secretId.length === 0) {
    throw new ConfigError('createGrantKeyring: secretId is required', 'secretId');
  }
  const { secretId } = options;
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
  let cached: { set: GrantKeySet; fetchedAt: number } | undefined;
  let inFlight: Promise<GrantKeySet> | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let client: Promise<SecretsManagerClient> | undefined;

  const getClient = () => {
    client ??= options.client
      ? Promise.resolve(options.client)
      : import('@aws-sdk/client-secrets-manager').then((m) => new m.SecretsManagerClient({}));
    return client;
  };

  const fetchSet = async (): Promise<GrantKeySet> => {
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    let secretString: string | undefined;
    try {
      const out = await (await getClient()).send(new GetSecretValueCommand({ SecretId: secretId }));
      secretString = out.SecretString;
    } catch (err) {
      throw new ConfigError('could not read the grant-key secret from Secrets Manager', 'grantKeySecret', {
        cause: err,
      });
    }
    if (typeof secretString !== 'string') throw new ConfigError('the grant-key secret has no string value');
    return parseGrantKeySet(secretString);
  };

  // One fetch at a time; concurrent callers share it. A failure falls back to the cache if any.
  const refresh = (): Promise<GrantKeySet> => {
    inFlight ??= (async () => {
      lastAttempt = now();
      try {
        const set = await fetchSet();
        cached = { set, fetchedAt: now() };
        return set;
      } catch (err) {
        if (cached) return cached.set;
        throw err;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  // A stale cache is refetched, but after a failed refetch not again before minRefreshIntervalMs.
  const keySet = async () =>
    cached && (now() - cached.fetchedAt < maxAgeMs || now() - lastAttempt < minRefreshIntervalMs)
      ? cached.set
      : refresh();

  return {
    keySet,
    async keySetFor(kid) {
      const set = await keySet();
      if (Object.hasOwn(set.keys, kid) || now() - lastAttempt < minRefreshIntervalMs) return set;
      return refresh();
    },
    async signingKey() {
      return signingKey(await keySet());
    },
    lookup: (kid) => (cached && Object.hasOwn(cached.set.keys, kid) ? cached.set.keys[kid] : undefined),
  };
}
