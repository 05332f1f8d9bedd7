/**
 * The one retry policy every transport shares (as OpenTelemetry's `retrying-transport.ts`):
 * {@link withRetry} wraps any {@link TraceTransport}; transports themselves make one attempt.
 *
 * Exponential backoff with full jitter (`delay = random(0, min(maxDelayMs, minDelayMs * 2^n))`),
 * `Retry-After` honoured, an overall deadline and prompt aborts, in one small loop. (p-retry was
 * dropped: its `randomize` multiplies by 1–2, not full jitter, and it cannot honour `Retry-After`,
 * so it only ever ran this loop's body with `minTimeout: 0`.)
 *
 * @packageDocumentation
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { ConfigError, UploadError } from '../errors.js';
import { functionOption, numberOption } from '../option-checks.js';
import { safeCause } from '../sanitize.js';
import { abortedError, classifyUploadError } from './classify.js';
import { isRetryable } from './is-retryable.js';
import type { TraceArtifact, TraceTransport, UploadOptions, UploadReceipt } from './types.js';

/** How a wrapped transport retries. Every field is optional. */
export interface RetryPolicy {
  /** Retries after the first attempt. Default 4 (five attempts in all). */
  readonly retries?: number | undefined;
  /** Backoff base: the cap of the first retry's delay, in ms. Default 250. */
  readonly minDelayMs?: number | undefined;
  /** Largest backoff cap, in ms. Default 20 000. */
  readonly maxDelayMs?: number | undefined;
  /**
   * Overall bound on one upload, retries and sleeps included, in ms. Default 120 000.
   * Passing it rejects with `ERR_UPLOAD_DEADLINE`. `Infinity` (or anything above about 24.8
   * days, the longest a timer can wait) means that longest wait.
   */
  readonly deadlineMs?: number | undefined;
  /** Called before each backoff sleep (for logs and metrics). Its errors are ignored. */
  readonly onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Source of randomness in [0, 1) for the jitter. Default `Math.random`; inject for tests. */
  readonly random?: (() => number) | undefined;
  /** Sleeps `ms`, rejecting when `signal` aborts. Default a timer; inject for tests. */
  readonly sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
}

/** What {@link RetryPolicy.onRetry} is told before a backoff sleep. */
export interface RetryEvent {
  /** The attempt that just failed (1-based). */
  readonly attempt: number;
  /** The sleep before the next attempt, in ms. */
  readonly delayMs: number;
  /** Why the attempt failed. Its message is safe to log. */
  readonly error: UploadError;
}

/** Defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY = {
  retries: 4,
  minDelayMs: 250,
  maxDelayMs: 20_000,
  deadlineMs: 120_000,
} as const;

type ResolvedPolicy = Required<Omit<RetryPolicy, 'onRetry'>> & Pick<RetryPolicy, 'onRetry'>;

const WRAPPED = Symbol('agent-trace.retry.inner');

/** A transport returned by {@link withRetry}; remembers the transport it wraps. */
interface RetryingTransport extends TraceTransport {
  readonly [WRAPPED]: TraceTransport;
}

/** Longest delay a Node timer can wait; a longer one fires at once (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const OWNER = 'RetryPolicy';

function resolvePolicy(policy: RetryPolicy = {}): ResolvedPolicy {
  if (policy === null || typeof policy !== 'object') {
    throw new ConfigError(`${OWNER}: the retry policy must be an object (or false for none)`, 'retry');
  }
  const ms = (name: keyof RetryPolicy, fallback: number) =>
    numberOption(OWNER, `retry.${name}`, policy[name], fallback);
  const minDelayMs = ms('minDelayMs', DEFAULT_RETRY_POLICY.minDelayMs);
  const maxDelayMs = ms('maxDelayMs', DEFAULT_RETRY_POLICY.maxDelayMs);
  // Infinity means "no deadline"; a deadline past what a timer can hold is capped (~24.8 days)
  // rather than handed to setTimeout, which would fire it after 1 ms.
  const deadlineMs =
    policy.deadlineMs === Number.POSITIVE_INFINITY
      ? MAX_TIMER_MS
      : Math.min(ms('deadlineMs', DEFAULT_RETRY_POLICY.deadlineMs), MAX_TIMER_MS);
  return {
    retries: numberOption(OWNER, 'retry.retries', policy.retries, DEFAULT_RETRY_POLICY.retries, {
      integer: true,
    }),
    minDelayMs,
    maxDelayMs: Math.max(minDelayMs, maxDelayMs),
    deadlineMs,
    onRetry: functionOption(OWNER, 'retry.onRetry', policy.onRetry),
    random: functionOption(OWNER, 'retry.random', policy.random) ?? Math.random,
    sleep:
      functionOption(OWNER, 'retry.sleep', policy.sleep) ??
      ((delay, signal) => sleepTimer(delay, undefined, { signal })),
  };
}

/**
 * The full-jitter backoff before retry number `retryIndex` (0 for the first retry):
 * uniform in `[0, min(maxDelayMs, minDelayMs * 2^retryIndex))`.
 */
export function backoffDelay(
  retryIndex: number,
  policy: Pick<RetryPolicy, 'minDelayMs' | 'maxDelayMs'> = {},
  random: () => number = Math.random,
): number {
  const min = policy.minDelayMs ?? DEFAULT_RETRY_POLICY.minDelayMs;
  const max = Math.max(min, policy.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs);
  const cap = Math.min(max, min * 2 ** retryIndex);
  return Math.floor(random() * cap);
}

/**
 * Wraps `transport` with the shared retry policy: network errors, 408, 429, 5xx and S3
 * `SlowDown`/`RequestTimeout` are retried with full-jitter exponential backoff (or after the
 * server's `Retry-After`); other failures, an abort and the deadline end the upload at once.
 * The receipt's `attempts`, and the final error's, count every attempt made.
 *
 * Wrapping a transport that is already wrapped replaces its policy instead of nesting loops.
 *
 * @throws {@link ConfigError} for a bad policy; `variable` names the field, e.g. `retry.deadlineMs`.
 * @example
 * const transport = withRetry(myTransport, { retries: 2, deadlineMs: 30_000 });
 */
export function withRetry(transport: TraceTransport, policy?: RetryPolicy): TraceTransport {
  const inner = (transport as Partial<RetryingTransport>)[WRAPPED] ?? transport;
  const resolved = resolvePolicy(policy);
  const wrapped: RetryingTransport = {
    name: inner.name,
    ...(inner.bucketWide === true ? { bucketWide: true } : {}),
    [WRAPPED]: inner,
    upload: (artifact, opts) => uploadWithRetry(inner, resolved, artifact, opts ?? {}),
  };
  return wrapped;
}

/** The transport `transport` wraps, or `transport` itself when it is not retry-wrapped. */
export function unwrapRetry(transport: TraceTransport): TraceTransport {
  return (transport as Partial<RetryingTransport>)[WRAPPED] ?? transport;
}

/** Applies the `retry` option of a built-in transport factory: a policy, the default, or `false` for none. */
export function applyRetryOption(
  transport: TraceTransport,
  retry: RetryPolicy | false | undefined,
): TraceTransport {
  return retry === false ? transport : withRetry(transport, retry);
}

class DeadlineReason extends Error {}

async function uploadWithRetry(
  transport: TraceTransport,
  policy: ResolvedPolicy,
  artifact: TraceArtifact,
  opts: UploadOptions,
): Promise<UploadReceipt> {
  const name = transport.name;
  const deadlineAt = performance.now() + policy.deadlineMs;
  const deadline = new AbortController();
  // unref: the deadline only bounds work that is itself keeping the process alive.
  const timer = setTimeout(() => deadline.abort(new DeadlineReason('deadline')), policy.deadlineMs);
  timer.unref();
  const userSignal = opts.signal;
  const signal = userSignal ? AbortSignal.any([userSignal, deadline.signal]) : deadline.signal;

  // Maps "the combined signal fired" to the right code: the caller's abort wins over the deadline.
  const stopped = (cause: unknown): UploadError | undefined => {
    if (userSignal?.aborted) {
      return abortedError(name, cause);
    }
    if (deadline.signal.aborted) return deadlineError(name, policy.deadlineMs, cause);
    return undefined;
  };
  const fail = (error: UploadError, attempts: number): never => {
    error.attempts = attempts;
    throw error;
  };

  try {
    for (let attempt = 1; ; attempt++) {
      const before = stopped(undefined);
      if (before) fail(before, attempt - 1);
      let error: UploadError;
      try {
        const receipt = await transport.upload(artifact, { signal });
        return { ...receipt, attempts: attempt };
      } catch (err) {
        error = stopped(err) ?? classifyUploadError(err, name, signal);
      }
      if (attempt > policy.retries || !isRetryable(error)) fail(error, attempt);
      const jitter = backoffDelay(attempt - 1, policy, policy.random);
      const delayMs = error.retryAfterMs !== undefined ? Math.max(error.retryAfterMs, jitter) : jitter;
      // Waiting past the deadline only to be cut off: give up now, with the real cause.
      if (performance.now() + delayMs >= deadlineAt)
        fail(deadlineError(name, policy.deadlineMs, error), attempt);
      try {
        policy.onRetry?.({ attempt, delayMs, error });
      } catch {
        // A logging hook must not change the outcome.
      }
      try {
        await policy.sleep(delayMs, signal);
      } catch (sleepErr) {
        fail(stopped(sleepErr) ?? classifyUploadError(sleepErr, name, signal), attempt);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

function deadlineError(transport: string, deadlineMs: number, cause: unknown): UploadError {
  const last = cause instanceof UploadError ? cause : undefined;
  const why = last ? ` (last error: ${last.message})` : '';
  return new UploadError(
    'ERR_UPLOAD_DEADLINE',
    `${transport}: upload deadline of ${deadlineMs} ms passed${why}`,
    {
      transport,
      ...(last?.status !== undefined ? { status: last.status } : {}),
      ...(last?.s3Code !== undefined ? { s3Code: last.s3Code } : {}),
      retryable: false,
      cause: safeCause(cause),
    },
  );
}
