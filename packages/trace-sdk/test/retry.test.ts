import { setTimeout as sleepFor } from 'node:timers/promises';
import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  artifactFromBuffer,
  ConfigError,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  type TraceArtifact,
  type TraceTransport,
  UploadError,
  type UploadReceipt,
  withRetry,
} from '../src/index.js';
import { safeCause } from '../src/sanitize.js';
import { classifyUploadError } from '../src/upload/classify.js';
import { isRetryable } from '../src/upload/is-retryable.js';
import { backoffDelay } from '../src/upload/retry.js';
import { parseRetryAfter } from '../src/upload/transports/s3-error.js';

const artifact = artifactFromBuffer('traces/u1/t1.jsonl.gz', Buffer.from('body'));

/** A transport that fails with the scripted errors, then succeeds. */
function scripted(failures: unknown[]): TraceTransport & { calls: number } {
  const t = {
    name: 'scripted',
    calls: 0,
    async upload(a: TraceArtifact): Promise<UploadReceipt> {
      t.calls++;
      const next = failures.shift();
      if (next !== undefined) throw next;
      return { key: a.key, uri: `mem://${a.key}` };
    },
  };
  return t;
}

const http = (status: number, s3Code?: string, extra: { retryAfterMs?: number } = {}) =>
  new UploadError('ERR_UPLOAD_HTTP', `HTTP ${status}`, {
    status,
    ...(s3Code ? { s3Code } : {}),
    ...extra,
  });

/** Records sleeps instead of waiting. */
function fakeSleep() {
  const slept: number[] = [];
  return {
    slept,
    sleep: async (ms: number, signal: AbortSignal) => {
      signal.throwIfAborted();
      slept.push(ms);
    },
  };
}

describe('isRetryable', () => {
  it.each([
    [http(500), true],
    [http(503, 'SlowDown'), true],
    [http(502), true],
    [http(408), true],
    [http(429), true],
    [http(400, 'RequestTimeout'), true],
    [new UploadError('ERR_UPLOAD_NETWORK', 'reset'), true],
    [http(400, 'InvalidArgument'), false],
    [http(403, 'AccessDenied'), false],
    [http(403, 'SignatureDoesNotMatch'), false],
    [http(404, 'NoSuchBucket'), false],
    [http(413), false],
    [new UploadError('ERR_UPLOAD_ABORTED', 'x'), false],
    [new UploadError('ERR_UPLOAD_DEADLINE', 'x'), false],
    [new UploadError('ERR_UPLOAD_URL_EXPIRED', 'x'), false],
    [new UploadError('ERR_UPLOAD_REJECTED', 'x', { retryable: true }), false],
    [new UploadError('ERR_UPLOAD_CHECKSUM', 'x'), false],
  ])('%s → %s', (err, expected) => {
    expect(isRetryable(err)).toBe(expected);
  });

  it('classifies raw network errors and AWS SDK errors', () => {
    expect(isRetryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))).toBe(true);
    expect(
      isRetryable(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'EPIPE' }) })),
    ).toBe(true);
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
    });
    expect(isRetryable(throttled)).toBe(true);
    const denied = Object.assign(new Error('denied'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    expect(isRetryable(denied)).toBe(false);
    expect(isRetryable(new Error('plain bug'))).toBe(false);
    expect(isRetryable('not an error')).toBe(false);
  });

  it('means the same before and after the one classification (what withRetry actually reads)', () => {
    const raw: unknown[] = [
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      Object.assign(new Error('Rate exceeded'), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      }),
      Object.assign(new Error('slow'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }),
      Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
      Object.assign(new Error('bad digest'), { name: 'BadDigest', $metadata: { httpStatusCode: 400 } }),
      Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
      Object.assign(new Error('transient'), { name: 'Unknown', $retryable: { throttling: false } }),
      new Error('plain bug'),
      'not an error',
    ];
    for (const err of raw) {
      expect(isRetryable(classifyUploadError(err, 'custom')), inspect(err)).toBe(isRetryable(err));
    }
  });
});

describe('backoffDelay (full jitter)', () => {
  it('stays in [0, min(max, base * 2^n)) for any random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, base, max, r) => {
          const cap = Math.min(Math.max(base, max), base * 2 ** n);
          const delay = backoffDelay(n, { minDelayMs: base, maxDelayMs: max }, () => r);
          return delay >= 0 && delay < cap;
        },
      ),
    );
  });

  it('spans the whole range: random 0 gives 0, random near 1 gives nearly the cap', () => {
    expect(backoffDelay(3, { minDelayMs: 100, maxDelayMs: 10_000 }, () => 0)).toBe(0);
    expect(backoffDelay(3, { minDelayMs: 100, maxDelayMs: 10_000 }, () => 0.999_999)).toBe(799);
    expect(backoffDelay(10, { minDelayMs: 100, maxDelayMs: 1000 }, () => 0.5)).toBe(500);
  });
});

describe('withRetry', () => {
  it('retries 5xx with exponential full-jitter backoff and reports attempts on the receipt', async () => {
    const inner = scripted([http(500), http(503), http(502)]);
    const { slept, sleep } = fakeSleep();
    const t = withRetry(inner, { minDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5, sleep });
    const receipt = await t.upload(artifact, {});
    expect(receipt).toEqual({ key: artifact.key, uri: `mem://${artifact.key}`, attempts: 4 });
    expect(inner.calls).toBe(4);
    expect(slept).toEqual([50, 100, 200]);
  });

  it('gives up after `retries` retries with the last error, its attempts set', async () => {
    const inner = scripted([http(500), http(500), http(500), http(503, 'SlowDown')]);
    const t = withRetry(inner, { retries: 3, ...fakeSleep() });
    const err = await t.upload(artifact, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_HTTP', status: 503, s3Code: 'SlowDown', attempts: 4 });
    expect(inner.calls).toBe(4);
  });

  it.each([400, 401, 403, 404, 409, 412])('never retries a %i', async (status) => {
    const inner = scripted([http(status, 'Nope')]);
    const t = withRetry(inner, fakeSleep());
    await expect(t.upload(artifact, {})).rejects.toMatchObject({ status, attempts: 1 });
    expect(inner.calls).toBe(1);
  });

  it('retries network errors thrown raw by a custom transport, wrapping them as ERR_UPLOAD_NETWORK', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const inner = scripted([reset, reset]);
    const t = withRetry(inner, { retries: 1, ...fakeSleep() });
    const err = await t.upload(artifact, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_NETWORK', attempts: 2, transport: 'scripted' });
    expect((err as Error).cause).toMatchObject({ message: 'read ECONNRESET', code: 'ECONNRESET' });
  });

  it('recognises a network error from another realm (jest runs tests in a VM context)', () => {
    const foreign = runInNewContext('Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })');
    expect(foreign instanceof Error).toBe(false);
    expect(isRetryable(foreign)).toBe(true);
  });

  it('does not retry a plain programming error, whatever its type', async () => {
    const inner = scripted([new TypeError('x is not a function'), new RangeError('bad')]);
    const t = withRetry(inner, fakeSleep());
    await expect(t.upload(artifact, {})).rejects.toMatchObject({ code: 'ERR_UPLOAD_TRANSPORT', attempts: 1 });
  });

  it('honours Retry-After when it is longer than the jittered delay', async () => {
    const inner = scripted([http(503, 'SlowDown', { retryAfterMs: 1000 })]);
    const { slept, sleep } = fakeSleep();
    const t = withRetry(inner, { minDelayMs: 100, random: () => 0.5, sleep });
    expect((await t.upload(artifact, {})).attempts).toBe(2);
    expect(slept).toEqual([1000]);
  });

  it('fails at once with ERR_UPLOAD_DEADLINE when Retry-After reaches past the deadline', async () => {
    const slowDown = http(503, 'SlowDown', { retryAfterMs: 600_000 });
    const inner = scripted([slowDown]);
    const { slept, sleep } = fakeSleep();
    const t = withRetry(inner, { deadlineMs: 60_000, sleep });
    const err = await t.upload(artifact, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_DEADLINE', attempts: 1, status: 503, s3Code: 'SlowDown' });
    expect((err as Error).cause).toBe(slowDown);
    expect(slept).toEqual([]);
    expect(inner.calls).toBe(1);
  });

  it('ends an attempt that outlives the deadline with ERR_UPLOAD_DEADLINE', async () => {
    const hanging: TraceTransport = {
      name: 'hanging',
      upload: (_a, { signal }) =>
        new Promise((_resolve, reject) => {
          signal?.addEventListener('abort', () =>
            reject(new UploadError('ERR_UPLOAD_ABORTED', 'aborted', { transport: 'hanging' })),
          );
        }),
    };
    const err = await withRetry(hanging, { deadlineMs: 50 })
      .upload(artifact, {})
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_DEADLINE', attempts: 1, retryable: false });
  });

  it('stops promptly when aborted during the backoff sleep', async () => {
    const inner = scripted([http(500), http(500)]);
    const controller = new AbortController();
    // A real sleep of about a minute: only the abort can end it.
    const t = withRetry(inner, {
      minDelayMs: 60_000,
      maxDelayMs: 60_000,
      random: () => 0.99,
      onRetry: () => setImmediate(() => controller.abort()),
    });
    const err = await t.upload(artifact, { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_ABORTED', attempts: 1 });
    expect(inner.calls).toBe(1);
  });

  it('does not start when the signal is already aborted', async () => {
    const inner = scripted([]);
    const err = await withRetry(inner)
      .upload(artifact, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_ABORTED' });
    expect(inner.calls).toBe(0);
  });

  it('reports an abort mid-attempt as ERR_UPLOAD_ABORTED, not as the transport error', async () => {
    const controller = new AbortController();
    const t: TraceTransport = {
      name: 'x',
      upload: async () => {
        controller.abort();
        throw Object.assign(new Error('socket closed'), { code: 'UND_ERR_SOCKET' });
      },
    };
    await expect(withRetry(t).upload(artifact, { signal: controller.signal })).rejects.toMatchObject({
      code: 'ERR_UPLOAD_ABORTED',
      attempts: 1,
    });
  });

  it('re-wrapping replaces the policy rather than nesting retry loops', async () => {
    const inner = scripted([http(500), http(500), http(500), http(500), http(500), http(500)]);
    const once = withRetry(inner, fakeSleep());
    const twice = withRetry(once, { retries: 1, ...fakeSleep() });
    await expect(twice.upload(artifact, {})).rejects.toMatchObject({ attempts: 2 });
    expect(inner.calls).toBe(2);
    expect(twice.name).toBe('scripted');
  });

  it('calls onRetry before each sleep and ignores its errors', async () => {
    const seen: Array<[number, number, string]> = [];
    const inner = scripted([http(500), http(429)]);
    const t = withRetry(inner, {
      random: () => 0,
      ...fakeSleep(),
      onRetry: ({ attempt, delayMs, error }) => {
        seen.push([attempt, delayMs, String(error.status)]);
        throw new Error('logging broke');
      },
    });
    expect((await t.upload(artifact, {})).attempts).toBe(3);
    expect(seen).toEqual([
      [1, 0, '500'],
      [2, 0, '429'],
    ]);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      retries: 4,
      minDelayMs: 250,
      maxDelayMs: 20_000,
      deadlineMs: 120_000,
    });
  });

  it('rejects a bad policy at construction with a ConfigError naming the field', () => {
    const cases: Array<[RetryPolicy, string]> = [
      [{ retries: -1 }, 'retry.retries'],
      [{ retries: 1.5 }, 'retry.retries'],
      [{ minDelayMs: Number.NaN }, 'retry.minDelayMs'],
      [{ maxDelayMs: -5 }, 'retry.maxDelayMs'],
      [{ deadlineMs: Number.NaN }, 'retry.deadlineMs'],
      [{ sleep: 'soon' as never }, 'retry.sleep'],
      [{ random: 0.5 as never }, 'retry.random'],
      [{ onRetry: true as never }, 'retry.onRetry'],
    ];
    for (const [policy, variable] of cases) {
      const err = (() => {
        try {
          withRetry(scripted([]), policy);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, variable).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ variable });
    }
  });

  it('a deadline longer than a timer can hold does not fire at once', async () => {
    // setTimeout fires a delay above 2^31-1 ms after 1 ms; the deadline must not.
    const slow: TraceTransport = {
      name: 'slow',
      async upload(a, { signal }) {
        await sleepFor(30, undefined, { signal });
        return { key: a.key };
      },
    };
    for (const deadlineMs of [3_000_000_000, Number.POSITIVE_INFINITY]) {
      await expect(withRetry(slow, { deadlineMs }).upload(artifact, {})).resolves.toMatchObject({
        attempts: 1,
      });
    }
  });

  it('keeps a foreign error only as a sanitized cause, whatever prints the error', async () => {
    const url =
      'https://b.s3.amazonaws.com/traces/u1/t1.jsonl.gz?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=5ec12e7';
    class UndiciLikeError extends Error {
      readonly code = 'UND_ERR_SOCKET';
      readonly request = { url, headers: { authorization: 'Bearer sekrit-token' } };
      constructor() {
        super(`other side closed while sending ${url}`, {
          cause: Object.assign(new Error(`connect to ${url}`), { code: 'ECONNRESET', url }),
        });
        this.name = 'UndiciLikeError';
      }
    }
    const err = await withRetry(scripted([new UndiciLikeError(), new UndiciLikeError()]), {
      retries: 1,
      ...fakeSleep(),
    })
      .upload(artifact, {})
      .catch((e: unknown) => e as UploadError);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_NETWORK', attempts: 2 });
    const printed = inspect(err, { depth: 10, showHidden: true });
    for (const secret of ['5ec12e7', 'AKIAEXAMPLE', 'sekrit-token', 'X-Amz-Signature']) {
      expect(printed).not.toContain(secret);
    }
    // What helps debugging survives: class, name, code, the cause chain, the stack frames.
    const cause = (err as UploadError).cause as Error & { code?: string; cause?: Error & { code?: string } };
    expect(cause).toBeInstanceOf(UndiciLikeError);
    expect(cause).toMatchObject({ name: 'UndiciLikeError', code: 'UND_ERR_SOCKET' });
    expect(cause.message).toContain('https://b.s3.amazonaws.com/traces/u1/t1.jsonl.gz?<redacted>');
    expect(cause.cause).toMatchObject({ code: 'ECONNRESET' });
    expect(cause.stack).toMatch(/\n\s+at /);
    // A DOMException (an abort reason) cannot be re-created under its own class: name and message survive.
    expect(safeCause(AbortSignal.abort().reason)).toMatchObject({
      name: 'AbortError',
      message: 'This operation was aborted',
    });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  it.each([
    ['120', 120_000],
    [' 3 ', 3_000],
    ['0', 0],
    ['1.5', 1_500],
    ['Wed, 21 Oct 2015 07:29:00 GMT', 60_000],
    ['Wednesday, 21-Oct-15 07:29:00 GMT', 60_000],
    ['Wed Oct 21 07:29:00 2015', 60_000],
    ['Wed, 21 Oct 2015 07:00:00 GMT', 0],
    ['9'.repeat(400), Number.MAX_SAFE_INTEGER],
  ])('reads %j as %d ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each(['', 'soon', 'soon 2', '-1', '2030-01-01', 'Wed, 21 Oct 2015'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
