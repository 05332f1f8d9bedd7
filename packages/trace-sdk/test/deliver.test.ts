import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  artifactFromBuffer,
  createTraceRecorder,
  SpoolError,
  type TraceTransport,
  UploadError,
  withRetry,
} from '../src/index.js';
import { type ArtifactStore, deliver } from '../src/upload/deliver.js';
import { failingTransport, memoryTransport, tempDir } from './recorder-support.js';

const SIGNATURE = 'f00dfacecafe0123456789abcdef';
const PRESIGNED = `https://b.s3.amazonaws.com/traces/u/t.jsonl.gz?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Security-Token=tok3n&X-Amz-Signature=${SIGNATURE}`;
const GRANT = 'eyJ2IjoxLCJ1IjoidSJ9abcdefgh.c2lnbmF0dXJlLXNpZ25hdHVyZQabcd';

const spans = new InMemorySpanExporter();
let spoolDir: string;
let cleanup: () => Promise<void>;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});
beforeEach(async () => {
  ({ dir: spoolDir, cleanup } = await tempDir());
  spans.reset();
});
afterEach(async () => {
  await cleanup();
});

const artifact = () => artifactFromBuffer('traces/u/t.jsonl.gz', Buffer.from('body'));
const noSleep = { retries: 2, sleep: async () => {} };

describe('one classification for a custom transport’s plain error', () => {
  it.each([
    ['a TypeError', new TypeError('x is not a function')],
    ['a string', 'it broke'],
    ['an object', { message: 'weird' }],
  ])('means the same bare, inside withRetry, and through finish(): %s', async (_name, thrown) => {
    const bare = await deliver(failingTransport(thrown), artifact());
    const retried = await deliver(withRetry(failingTransport(thrown), noSleep), artifact());
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: failingTransport(thrown),
      spoolDir,
    });
    const finished = await rec.finish();
    for (const outcome of [bare, retried, finished]) {
      expect(outcome).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_UPLOAD_TRANSPORT', retryable: false },
      });
    }
    expect(retried.attempts).toBe(1);
  });

  it('classifies a connection reset as a retryable network error everywhere', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const bare = await deliver(failingTransport(reset), artifact());
    const retried = await deliver(withRetry(failingTransport(reset), noSleep), artifact());
    expect(bare.status === 'failed' && bare.error).toMatchObject({
      code: 'ERR_UPLOAD_NETWORK',
      retryable: true,
    });
    expect(retried).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'ERR_UPLOAD_NETWORK' } });
  });

  it('reads a raw AWS SDK error as the built-in transports do: a 503 SlowDown is retried everywhere', async () => {
    const slowDown = () =>
      Object.assign(new Error('Please reduce your request rate.'), {
        name: 'SlowDown',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
      });
    const bare = await deliver(failingTransport(slowDown()), artifact());
    const retried = await deliver(withRetry(failingTransport(slowDown()), noSleep), artifact());
    const finished = await createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: failingTransport(slowDown()),
      spoolDir,
    }).finish();
    for (const outcome of [bare, retried, finished]) {
      expect(outcome).toMatchObject({
        status: 'failed',
        error: { code: 'ERR_UPLOAD_HTTP', status: 503, s3Code: 'SlowDown', retryable: true },
      });
    }
    expect(retried.attempts).toBe(3);
    const denied = Object.assign(new Error('Access Denied'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    const refused = await deliver(withRetry(failingTransport(denied), noSleep), artifact());
    expect(refused).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'ERR_UPLOAD_HTTP', status: 403, retryable: false },
    });
  });
});

describe('secrets never pass the delivery boundary', () => {
  const leaky = () =>
    failingTransport(new Error(`PUT ${PRESIGNED} failed for grant ${GRANT} (key AKIAIOSFODNN7EXAMPLE)`));

  it('keeps presigned URLs, grants and keys out of the span, the result and the sidecar', async () => {
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport: leaky(), spoolDir });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result.status).toBe('failed');
    const [span] = spans.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    const sidecars = (await readdir(spoolDir)).filter((n) => n.endsWith('.json'));
    const surfaces = [
      JSON.stringify(span?.status),
      JSON.stringify(span?.events),
      JSON.stringify(span?.attributes),
      result.error?.message ?? '',
      inspect(result.error, { depth: 10 }),
      ...(await Promise.all(sidecars.map((n) => readFile(join(spoolDir, n), 'utf8')))),
    ];
    expect(sidecars).toHaveLength(1);
    for (const text of surfaces) {
      expect(text).not.toContain(SIGNATURE);
      expect(text).not.toContain('tok3n');
      expect(text).not.toContain(GRANT);
      expect(text).not.toContain('AKIAIOSFODNN7EXAMPLE');
    }
    expect(span?.status.message).toContain('https://b.s3.amazonaws.com/traces/u/t.jsonl.gz?<redacted>');
    expect(span?.attributes['agent_trace.error_code']).toBe('ERR_UPLOAD_TRANSPORT');
  });

  it('sanitizes an UploadError a custom transport built around a raw URL', async () => {
    const own = new UploadError('ERR_UPLOAD_HTTP', `server said 403 for ${PRESIGNED}`, { status: 403 });
    const outcome = await deliver(failingTransport(own), artifact());
    expect(outcome.status === 'failed' && outcome.error).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status: 403,
    });
    expect(outcome.status === 'failed' && outcome.error.message).not.toContain(SIGNATURE);
    // The transport's own object is left as it was.
    expect(own.message).toContain(SIGNATURE);
  });

  it('sanitizes the cause and s3Code of a custom UploadError whose message is clean', async () => {
    const own = new UploadError('ERR_UPLOAD_HTTP', 'HTTP 403', {
      status: 403,
      s3Code: `AccessDenied for ${PRESIGNED}`,
      cause: new UploadError('ERR_UPLOAD_HTTP', 'inner', {
        cause: new Error(`PUT ${PRESIGNED} grant ${GRANT}`),
      }),
    });
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport: failingTransport(own), spoolDir });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result).toMatchObject({ status: 'failed', error: { code: 'ERR_UPLOAD_HTTP', status: 403 } });
    const [span] = spans.getFinishedSpans();
    for (const text of [inspect(result.error, { depth: 10 }), JSON.stringify(span?.events)]) {
      expect(text).not.toContain(SIGNATURE);
      expect(text).not.toContain('tok3n');
      expect(text).not.toContain(GRANT);
    }
    expect(result.error?.cause).toBeInstanceOf(UploadError);
    expect(own.s3Code).toContain(SIGNATURE);
  });

  it('keeps a presigned URL a custom transport returns as its receipt uri out of the result', async () => {
    const transport: TraceTransport = {
      name: 'custom',
      upload: async (a) => {
        for await (const _ of a.open());
        return { key: a.key, uri: PRESIGNED };
      },
    };
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result).toMatchObject({
      status: 'uploaded',
      uri: 'https://b.s3.amazonaws.com/traces/u/t.jsonl.gz?<redacted>',
    });
  });

  it('passes the SDK’s own errors through as they are', async () => {
    const own = new UploadError(
      'ERR_UPLOAD_HTTP',
      'PUT https://b.s3.amazonaws.com/k?<redacted> answered 503',
      {
        status: 503,
      },
    );
    const outcome = await deliver(failingTransport(own), artifact());
    expect(outcome.status === 'failed' && outcome.error).toBe(own);
  });
});

describe('time bounds', () => {
  it.each([0, -1, -250_000, Number.NaN])(
    'treats timeoutMs %s as "no time left": nothing is sent, the artifact is spooled',
    async (timeoutMs) => {
      const transport = memoryTransport();
      const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir });
      rec.record({ event: 'E' });
      const result = await rec.finish({ timeoutMs });
      expect(result).toMatchObject({ status: 'failed', attempts: 0, error: { code: 'ERR_UPLOAD_DEADLINE' } });
      expect(result.spooledPath).toBeDefined();
      expect(transport.uploads).toHaveLength(0);
    },
  );

  it('settles when a transport never answers and ignores its signal', async () => {
    const never: TraceTransport = { name: 'never', upload: () => new Promise(() => {}) };
    const outcome = await deliver(never, artifact(), { timeoutMs: 30 });
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'ERR_UPLOAD_DEADLINE' } });
  });

  it('reports the caller’s abort as ERR_UPLOAD_ABORTED, not a deadline', async () => {
    const never: TraceTransport = { name: 'never', upload: () => new Promise(() => {}) };
    const controller = new AbortController();
    const pending = deliver(never, artifact(), { signal: controller.signal, timeoutMs: 60_000 });
    controller.abort();
    expect(await pending).toMatchObject({ status: 'failed', error: { code: 'ERR_UPLOAD_ABORTED' } });
  });

  it('builds one abort error whichever layer sees the abort first (boundary, retry policy, transport)', async () => {
    const ignoring: TraceTransport = { name: 'slow', upload: () => new Promise(() => {}) };
    const honouring = failingTransport(new DOMException('This operation was aborted', 'AbortError'), 'slow');
    const outcomes = [];
    for (const transport of [ignoring, withRetry(ignoring, noSleep), honouring]) {
      const controller = new AbortController();
      controller.abort();
      outcomes.push(await deliver(transport, artifact(), { signal: controller.signal }));
    }
    const late = new AbortController();
    const pending = deliver(withRetry(ignoring, noSleep), artifact(), { signal: late.signal });
    late.abort();
    outcomes.push(await pending);
    for (const outcome of outcomes) {
      expect(outcome.status === 'failed' && outcome.error).toMatchObject({
        code: 'ERR_UPLOAD_ABORTED',
        message: 'slow: upload aborted',
        transport: 'slow',
        retryable: false,
      });
    }
  });
});

describe('the injected store', () => {
  it('is handed the classified error and its location names a failure to keep', async () => {
    const seen: string[] = [];
    const store: ArtifactStore = {
      location: '/nowhere',
      keep: async (_a, failure) => {
        seen.push(failure.error.code);
        throw new SpoolError('disk full');
      },
    };
    const original = new UploadError('ERR_UPLOAD_HTTP', 'HTTP 500', { status: 500 });
    const outcome = await deliver(failingTransport(original), artifact(), { store });
    expect(seen).toEqual(['ERR_UPLOAD_HTTP']);
    expect(outcome.status === 'failed' && outcome.error.message).toBe(
      'HTTP 500; keeping the artifact in /nowhere failed too (disk full), so this trace is lost',
    );
    // A new error: the transport's is not rewritten in place.
    expect(original.message).toBe('HTTP 500');
  });

  it('is not called when the upload succeeds', async () => {
    const store: ArtifactStore = {
      keep: async () => {
        throw new Error('must not be called');
      },
    };
    const outcome = await deliver(memoryTransport(), artifact(), { store });
    expect(outcome).toMatchObject({ status: 'uploaded', attempts: 1 });
  });

  it('keeps the artifact in the spool directory when the transport fails', async () => {
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: failingTransport(new UploadError('ERR_UPLOAD_HTTP', 'HTTP 503', { status: 503 })),
      spoolDir,
    });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result.status).toBe('failed');
    if (result.status !== 'failed') return;
    // The union narrows: error is defined on a failed result.
    expect(result.error.code).toBe('ERR_UPLOAD_HTTP');
    await writeFile(join(spoolDir, 'marker'), '');
    expect((await readdir(spoolDir)).some((n) => n.endsWith('.jsonl.gz'))).toBe(true);
  });
});

describe('a bucket-wide (legacy) transport', () => {
  it('is named as such in the result and on the span, however quiet the process warnings are', async () => {
    const inner = memoryTransport('s3-put-object');
    const legacy: TraceTransport = {
      name: inner.name,
      bucketWide: true,
      upload: (a, o) => inner.upload(a, o),
    };
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: withRetry(legacy, noSleep),
      spoolDir,
    });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result).toMatchObject({ status: 'uploaded', legacy: true, transport: 's3-put-object' });
    expect(spans.getFinishedSpans()[0]?.attributes['agent_trace.legacy']).toBe(true);
  });

  it('is not claimed for a key-scoped transport', async () => {
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport: memoryTransport(), spoolDir });
    const result = await rec.finish();
    expect(result.legacy).toBeUndefined();
    expect(spans.getFinishedSpans()[0]?.attributes['agent_trace.legacy']).toBeUndefined();
  });
});
