/**
 * A custom transport, as a consumer repo would write one: it stores traces through whatever
 * key-value store the application already has (a blob service, a database, an internal API),
 * behind a four-line `KeyValueStore` interface.
 *
 * What makes it a good transport (and what the contract suite checks):
 * - it writes exactly `artifact.key`, and refuses any key outside its own user's prefix;
 * - it streams the body (`artifact.open()`), never buffering it;
 * - it maps failures onto `UploadError` with `retryable` set, and lets `withRetry` do the retrying;
 * - it honours the AbortSignal.
 */
import type { Readable } from 'node:stream';
import {
  isRetryableStatus,
  type RetryPolicy,
  type TraceTransport,
  UploadError,
  userPrefix,
  withRetry,
} from '@agent-trace/trace-sdk';

/** What the transport needs from a store. */
export interface KeyValueStore {
  /**
   * Stores `body` (exactly `meta.byteLength` bytes) at `key`, replacing any previous value.
   * Throws on failure; an error with a numeric `status` (HTTP-like) or a `retryable` flag tells
   * the transport whether trying again can help, and `retryAfterMs` when to.
   */
  put(
    key: string,
    body: Readable,
    meta: { readonly contentType: string; readonly byteLength: number; readonly sha256: string },
    options: { readonly signal?: AbortSignal | undefined },
  ): Promise<void>;
}

/** Options of {@link keyValueTransport}. */
export interface KeyValueTransportOptions {
  readonly store: KeyValueStore;
  /** The only user this runtime uploads for: keys outside `traces/<userId>/` are refused. */
  readonly userId: string;
  /** Retry policy for the shared `withRetry` wrapper, or `false` for a single attempt. */
  readonly retry?: RetryPolicy | false;
}

const NAME = 'key-value';

function toUploadError(error: unknown, signal: AbortSignal | undefined): UploadError {
  if (error instanceof UploadError) return error;
  if (signal?.aborted) {
    return new UploadError('ERR_UPLOAD_ABORTED', `${NAME}: upload aborted`, {
      transport: NAME,
      cause: error,
    });
  }
  const status = (error as { status?: unknown }).status;
  const flagged = (error as { retryable?: unknown }).retryable;
  const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof status === 'number') {
    return new UploadError('ERR_UPLOAD_HTTP', `${NAME}: the store answered ${status}`, {
      transport: NAME,
      status,
      retryable: typeof flagged === 'boolean' ? flagged : isRetryableStatus(status),
      ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
      cause: error,
    });
  }
  // No status: the store could not be reached (or the connection broke). Worth another try.
  return new UploadError('ERR_UPLOAD_NETWORK', `${NAME}: ${(error as Error)?.message ?? error}`, {
    transport: NAME,
    retryable: flagged !== false,
    cause: error,
  });
}

/** A transport that stores traces through a {@link KeyValueStore}. */
export function keyValueTransport(options: KeyValueTransportOptions): TraceTransport {
  const prefix = userPrefix(options.userId);
  const transport: TraceTransport = {
    name: NAME,
    async upload(artifact, { signal }) {
      if (!artifact.key.startsWith(prefix)) {
        throw new UploadError('ERR_UPLOAD_REJECTED', `${NAME}: ${artifact.key} is outside ${prefix}`, {
          transport: NAME,
        });
      }
      if (signal?.aborted) throw toUploadError(signal.reason, signal);
      const body = artifact.open();
      try {
        const meta = {
          contentType: artifact.contentType,
          byteLength: artifact.byteLength,
          sha256: artifact.sha256,
        };
        await options.store.put(artifact.key, body, meta, { signal });
      } catch (error) {
        throw toUploadError(error, signal);
      } finally {
        body.destroy();
      }
      return { key: artifact.key };
    },
  };
  return options.retry === false ? transport : withRetry(transport, options.retry);
}
