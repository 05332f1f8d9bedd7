import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { type LocalS3, startLocalS3 } from '@agent-trace/trace-sdk-testing';
import type { S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { MockAgent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  artifactFromBuffer,
  artifactFromFile,
  ConfigError,
  isValidId,
  presignedPutTransport,
  type RetryPolicy,
  traceKey,
  UploadError,
} from '../src/index.js';
import { createTraceS3Client, createTraceUploadUrl } from '../src/orchestrator/index.js';
import { urlObjectLocation } from '../src/protocol/presigned-url.js';
import { type PutServer, presignedLikeUrl, s3ErrorXml, startPutServer } from './transport-support.js';

const KEY = 'traces/user-1/01JD4Q9Z6XTASK.jsonl.gz';
const SIGNATURE = 'ab12'.repeat(16);
const body = randomBytes(64 * 1024);
const artifact = artifactFromBuffer(KEY, body);
/** Fast, deterministic retries: no real sleeping. */
const fastRetry: RetryPolicy = { sleep: async () => {}, random: () => 0 };

/** Every error any test saw: none may leak a signature. */
const seenErrors: unknown[] = [];
async function failure(p: Promise<unknown>): Promise<UploadError> {
  const err = await p.then(
    () => {
      throw new Error('expected the upload to fail');
    },
    (e: unknown) => e,
  );
  seenErrors.push(err);
  expect(err).toBeInstanceOf(UploadError);
  return err as UploadError;
}

let server: PutServer;
beforeEach(async () => {
  server = await startPutServer();
});
afterEach(async () => {
  await server.close();
});

const urlFor = (key = KEY, opts: Parameters<typeof presignedLikeUrl>[3] = {}) =>
  presignedLikeUrl(server.origin, 'trace-bucket', key, { signature: SIGNATURE, ...opts });

describe('presignedPutTransport', () => {
  it('PUTs the exact bytes to the exact key with a known length, application/gzip and no Content-Encoding', async () => {
    const t = presignedPutTransport({ url: urlFor(), retry: fastRetry });
    const receipt = await t.upload(artifact, {});
    expect(receipt).toEqual({
      key: KEY,
      uri: `s3://trace-bucket/${KEY}`,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      attempts: 1,
    });
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req?.method).toBe('PUT');
    expect(req?.headers['content-type']).toBe('application/gzip');
    expect(req?.headers['content-length']).toBe(String(body.byteLength));
    expect(req?.headers['transfer-encoding']).toBeUndefined();
    expect(req?.headers['content-encoding']).toBeUndefined();
    // Unsigned x-amz-* headers are refused by S3 on presigned URLs, so none is sent.
    expect(Object.keys(req?.headers ?? {}).filter((h) => h.startsWith('x-amz-'))).toEqual([]);
    expect(server.objects.get(`/trace-bucket/${KEY}`)?.equals(body)).toBe(true);
  });

  it('streams a file artifact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presigned-put-'));
    try {
      const path = join(dir, 'body.gz');
      const big = randomBytes(3 * 1024 * 1024 + 17);
      await writeFile(path, big);
      const receipt = await presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(
        await artifactFromFile(KEY, path),
        {},
      );
      expect(receipt.attempts).toBe(1);
      expect(server.objects.get(`/trace-bucket/${KEY}`)?.equals(big)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('retries a 500 and succeeds on the second attempt', async () => {
    server.replies.push({
      status: 500,
      body: s3ErrorXml('InternalError', 'We encountered an internal error.'),
    });
    const receipt = await presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {});
    expect(receipt.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(server.objects.size).toBe(1);
  });

  it('honours Retry-After on 503 SlowDown', async () => {
    server.replies.push({
      status: 503,
      headers: { 'retry-after': '2' },
      body: s3ErrorXml('SlowDown', 'Please reduce your request rate.'),
    });
    const slept: number[] = [];
    const t = presignedPutTransport({
      url: urlFor(),
      retry: { random: () => 0, sleep: async (ms) => void slept.push(ms) },
    });
    expect((await t.upload(artifact, {})).attempts).toBe(2);
    expect(slept).toEqual([2000]);
  });

  it('retries a connection reset in the middle of the body and lands the whole object', async () => {
    server.replies.push({ reset: 16 * 1024 });
    const receipt = await presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {});
    expect(receipt.attempts).toBe(2);
    expect(server.objects.get(`/trace-bucket/${KEY}`)?.equals(body)).toBe(true);
  });

  it.each([
    [400, 'InvalidArgument', 'Invalid argument.'],
    [
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    ],
    [403, 'AccessDenied', 'Access Denied'],
  ])('does not retry %i %s and reports the S3 code', async (status, code, message) => {
    server.replies.push({ status, body: s3ErrorXml(code, message) });
    const err = await failure(
      presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {}),
    );
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status,
      s3Code: code,
      retryable: false,
      attempts: 1,
    });
    expect(err.message).toContain(message);
    expect(server.requests).toHaveLength(1);
  });

  it('asks the provider for a fresh URL once when S3 says the URL has expired', async () => {
    server.replies.push({ status: 403, body: s3ErrorXml('AccessDenied', 'Request has expired') });
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        return urlFor();
      },
      retry: fastRetry,
    });
    const receipt = await t.upload(artifact, {});
    expect(minted).toBe(2);
    expect(receipt.attempts).toBe(1);
    expect(server.requests).toHaveLength(2);
  });

  it('sends a URL that the local clock calls expired: S3, not this host, decides (clock skew)', async () => {
    const stale = urlFor(KEY, { signedAt: new Date(Date.now() - 3_600_000), expiresIn: 900 });
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        return stale;
      },
      retry: fastRetry,
    });
    await expect(t.upload(artifact, {})).resolves.toMatchObject({ attempts: 1 });
    expect(minted).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it('treats 400 AccessDenied "Request has expired" as an expired URL and asks the provider again', async () => {
    server.replies.push({ status: 400, body: s3ErrorXml('AccessDenied', 'Request has expired') });
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        return urlFor();
      },
      retry: fastRetry,
    });
    await expect(t.upload(artifact, {})).resolves.toMatchObject({ attempts: 1 });
    expect(minted).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it('refreshes at most once: a provider that keeps returning expired URLs ends in ERR_UPLOAD_URL_EXPIRED', async () => {
    server.replies.push(
      { status: 403, body: s3ErrorXml('AccessDenied', 'Request has expired') },
      { status: 403, body: s3ErrorXml('AccessDenied', 'Request has expired') },
    );
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        return urlFor();
      },
      retry: fastRetry,
    });
    const err = await failure(t.upload(artifact, {}));
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_URL_EXPIRED',
      status: 403,
      s3Code: 'AccessDenied',
      attempts: 1,
    });
    expect(minted).toBe(2);
  });

  it('treats ExpiredToken (the signing session ended) as an expired URL', async () => {
    server.replies.push({ status: 400, body: s3ErrorXml('ExpiredToken', 'The provided token has expired.') });
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        return urlFor();
      },
      retry: fastRetry,
    });
    expect((await t.upload(artifact, {})).attempts).toBe(1);
    expect(minted).toBe(2);
  });

  it('sends a fixed URL the local clock calls expired, and fails with ERR_UPLOAD_URL_EXPIRED when S3 agrees', async () => {
    const stale = urlFor(KEY, { signedAt: new Date(Date.now() - 3_600_000), expiresIn: 60 });
    server.replies.push({ status: 403, body: s3ErrorXml('AccessDenied', 'Request has expired') });
    const err = await failure(presignedPutTransport({ url: stale, retry: fastRetry }).upload(artifact, {}));
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_URL_EXPIRED', attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('fails a fixed URL that S3 reports expired with ERR_UPLOAD_URL_EXPIRED, not retried', async () => {
    server.replies.push({ status: 403, body: s3ErrorXml('AccessDenied', 'Request has expired') });
    const err = await failure(
      presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_URL_EXPIRED', status: 403, attempts: 1 });
    expect(server.requests).toHaveLength(1);
  });

  it('reuses the minted URL across retries instead of minting one per attempt', async () => {
    server.replies.push({ status: 500 }, { status: 503 });
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        return urlFor();
      },
      retry: fastRetry,
    });
    expect((await t.upload(artifact, {})).attempts).toBe(3);
    expect(minted).toBe(1);
  });

  it.each([
    ['another user', 'traces/user-2/01JD4Q9Z6XTASK.jsonl.gz'],
    ['another task', 'traces/user-1/OTHER.jsonl.gz'],
  ])('refuses a URL minted for %s before sending any byte', async (_what, otherKey) => {
    const err = await failure(
      presignedPutTransport({ url: urlFor(otherKey), retry: fastRetry }).upload(artifact, {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED', retryable: false, attempts: 1 });
    expect(err.message).toContain(KEY);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a URL that nests the key below extra path segments', async () => {
    const nested = `${server.origin}/trace-bucket/x/${KEY}?X-Amz-Signature=${SIGNATURE}`;
    const err = await failure(presignedPutTransport({ url: nested, retry: fastRetry }).upload(artifact, {}));
    expect(err.code).toBe('ERR_UPLOAD_REJECTED');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a body whose stream is not byteLength long as ERR_UPLOAD_CHECKSUM, without retrying', async () => {
    for (const byteLength of [body.byteLength + 1, body.byteLength - 1]) {
      const lying = { ...artifact, byteLength, open: artifact.open };
      const err = await failure(presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(lying, {}));
      expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM', retryable: false, attempts: 1 });
    }
    expect(server.objects.size).toBe(0);
  });

  it('retries a URL provider that could not reach the orchestrator', async () => {
    let asked = 0;
    const t = presignedPutTransport({
      url: async () => {
        asked++;
        if (asked === 1)
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
        return urlFor();
      },
      retry: fastRetry,
    });
    await expect(t.upload(artifact, {})).resolves.toMatchObject({ attempts: 2 });
    expect(asked).toBe(2);
  });

  it('validates its HTTP options at construction, naming the option', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ headersTimeoutMs: 0 }, 'headersTimeoutMs'],
      [{ bodyTimeoutMs: -1 }, 'bodyTimeoutMs'],
      [{ bodyTimeoutMs: '60s' }, 'bodyTimeoutMs'],
      [{ verifyEtag: 'yes' }, 'verifyEtag'],
      [{ dispatcher: {} }, 'dispatcher'],
      [{ retry: { deadlineMs: -1 } }, 'retry.deadlineMs'],
    ];
    for (const [extra, variable] of cases) {
      expect(() => presignedPutTransport({ url: urlFor(), ...extra }), variable).toThrow(ConfigError);
      try {
        presignedPutTransport({ url: urlFor(), ...extra });
      } catch (err) {
        expect(err).toMatchObject({ variable });
      }
    }
  });

  it('aborts mid-upload promptly with ERR_UPLOAD_ABORTED', async () => {
    server.replies.push({ hang: true });
    const controller = new AbortController();
    const arrived = server.nextRequest();
    const pending = presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {
      signal: controller.signal,
    });
    await arrived;
    controller.abort();
    const err = await failure(pending);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_ABORTED', attempts: 1 });
  });

  it('ends a hanging server with ERR_UPLOAD_DEADLINE', async () => {
    server.replies.push({ hang: true });
    const err = await failure(
      presignedPutTransport({ url: urlFor(), retry: { ...fastRetry, deadlineMs: 300 } }).upload(artifact, {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_DEADLINE', attempts: 1 });
  });

  it('turns a provider failure into a typed error', async () => {
    const t = presignedPutTransport({
      url: async () => {
        throw new Error(`orchestrator down; last URL ${urlFor()}`);
      },
      retry: fastRetry,
    });
    const err = await failure(t.upload(artifact, {}));
    expect(err.code).toBe('ERR_UPLOAD_REJECTED');
    expect(err.message).toContain('orchestrator down');
  });

  it('keeps signatures out of messages even when the server echoes the URL', async () => {
    const url = urlFor();
    server.replies.push({
      status: 400,
      body: s3ErrorXml('InvalidRequest', `Bad request for ${url.replace(/&/g, '&amp;')}`),
    });
    const err = await failure(presignedPutTransport({ url, retry: fastRetry }).upload(artifact, {}));
    expect(err.message).toContain('Bad request for');
  });

  it('refuses at construction a fixed URL that is not https (http only on loopback)', () => {
    const build = (url: string) => () => presignedPutTransport({ url });
    expect(build(`http://example.com/b/${KEY}?X-Amz-Signature=${SIGNATURE}`)).toThrow(ConfigError);
    expect(build('not a url')).toThrow(/url is not a valid URL/);
    expect(build(`ftp://example.com/b/${KEY}`)).toThrow(ConfigError);
    try {
      build(`http://example.com/b/${KEY}?X-Amz-Signature=${SIGNATURE}`)();
    } catch (err) {
      seenErrors.push(err);
      expect(err).toMatchObject({ variable: 'url' });
    }
    expect(build(`https://example.com/b/${KEY}`)).not.toThrow();
    expect(build(`http://localhost:9000/b/${KEY}`)).not.toThrow();
    expect(build(`http://[::1]:9000/b/${KEY}`)).not.toThrow();
  });

  it("hands the URL provider a signal that fires with the caller's abort, and stops waiting at once", async () => {
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const t = presignedPutTransport({
      url: ({ signal }) => {
        signals.push(signal);
        setImmediate(() => controller.abort());
        return new Promise<string>(() => {});
      },
      retry: fastRetry,
    });
    const err = await failure(t.upload(artifact, { signal: controller.signal }));
    expect(err.code).toBe('ERR_UPLOAD_ABORTED');
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('bounds a URL provider that never answers by providerTimeoutMs, then retries it', async () => {
    let asked = 0;
    const t = presignedPutTransport({
      url: async () => {
        asked++;
        if (asked === 1) return new Promise<string>(() => {});
        return urlFor();
      },
      providerTimeoutMs: 50,
      retry: fastRetry,
    });
    await expect(t.upload(artifact, {})).resolves.toMatchObject({ attempts: 2 });
    expect(asked).toBe(2);
  });

  it('verifies the ETag against the MD5 of the bytes sent by default', async () => {
    server.replies.push({ status: 200, headers: { etag: '"00000000000000000000000000000000"' } });
    const err = await failure(
      presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM', retryable: false, attempts: 1 });
    // SSE-KMS ETags are not MD5s: no false alarm.
    server.replies.push({
      status: 200,
      headers: { etag: '"00000000000000000000000000000000"', 'x-amz-server-side-encryption': 'aws:kms' },
    });
    await expect(
      presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {}),
    ).resolves.toMatchObject({ attempts: 1 });
    await expect(
      presignedPutTransport({ url: urlFor(), verifyEtag: true, retry: fastRetry }).upload(artifact, {}),
    ).resolves.toMatchObject({ attempts: 1 });
  });

  it('does not report a 200 without an ETag (a proxy that stored nothing) as uploaded, unless verifyEtag: false', async () => {
    server.replies.push({ status: 200 });
    const err = await failure(
      presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM', status: 200, retryable: false, attempts: 1 });
    expect(err.message).toContain('without an ETag');
    server.replies.push({ status: 200 });
    await expect(
      presignedPutTransport({ url: urlFor(), verifyEtag: false, retry: fastRetry }).upload(artifact, {}),
    ).resolves.toMatchObject({ attempts: 1 });
  });

  it("with the SHA-256 signed in, trusts S3's own check: its echo confirms the write, a different echo fails", async () => {
    const sha = Buffer.from(artifact.sha256, 'hex').toString('base64');
    const signed = async () => ({ url: urlFor(), headers: { 'x-amz-checksum-sha256': sha } });
    // Confirmed by the echoed checksum alone (no ETag, and no MD5 of the body was needed).
    server.replies.push({ status: 200, headers: { 'x-amz-checksum-sha256': sha } });
    await expect(
      presignedPutTransport({ url: signed, retry: fastRetry }).upload(artifact, {}),
    ).resolves.toMatchObject({
      attempts: 1,
    });
    // An ETag that is no MD5 of the body is not held against it: S3 already checked every byte.
    server.replies.push({
      status: 200,
      headers: { etag: '"00000000000000000000000000000000"', 'x-amz-checksum-sha256': sha },
    });
    await expect(
      presignedPutTransport({ url: signed, retry: fastRetry }).upload(artifact, {}),
    ).resolves.toBeDefined();
    server.replies.push({ status: 200, headers: { etag: '"e"', 'x-amz-checksum-sha256': 'AAAA' } });
    const err = await failure(presignedPutTransport({ url: signed, retry: fastRetry }).upload(artifact, {}));
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM', retryable: false });
    // Neither an ETag nor an echo: still not confirmed.
    server.replies.push({ status: 200 });
    const silent = await failure(
      presignedPutTransport({ url: signed, retry: fastRetry }).upload(artifact, {}),
    );
    expect(silent).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM' });
  });

  it("learns the clock skew from S3's Date header and reports it in the receipt", async () => {
    const serverNow = new Date(Date.now() - 2 * 3_600_000);
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    server.replies.push({ status: 200, headers: { etag, date: serverNow.toUTCString() } });
    const receipt = await presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {});
    // This host is two hours ahead of the server: the skew is about -2 h (Date has 1 s resolution).
    expect(receipt.clockSkewMs).toBeGreaterThan(-2 * 3_600_000 - 5000);
    expect(receipt.clockSkewMs).toBeLessThan(-2 * 3_600_000 + 5000);
    // No skew worth reporting: no field.
    const plain = await presignedPutTransport({ url: urlFor(), retry: fastRetry }).upload(artifact, {});
    expect(plain.clockSkewMs).toBeUndefined();
  });
});

describe('presignedPutTransport with an undici MockAgent', () => {
  it('derives the bucket of a virtual-hosted URL and sends through the given dispatcher', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const origin = 'https://trace-bucket.s3.eu-west-1.amazonaws.com';
    agent
      .get(origin)
      .intercept({ path: (p) => p.startsWith(`/${KEY}?`), method: 'PUT' })
      .reply(200, '', { headers: { etag: '"abc"' } });
    try {
      const t = presignedPutTransport({
        url: `${origin}/${KEY}?X-Amz-Signature=${SIGNATURE}`,
        dispatcher: agent,
        retry: false,
      });
      const receipt = await t.upload(artifact, {});
      expect(receipt).toEqual({ key: KEY, uri: `s3://trace-bucket/${KEY}`, etag: '"abc"' });
      agent.assertNoPendingInterceptors();
    } finally {
      await agent.close();
    }
  });

  it('keeps the signature out of the cause when undici itself names the request path', async () => {
    // MockAgent's "not matched" error quotes the path with its query: the X-Amz-* credentials.
    const agent = new MockAgent();
    agent.disableNetConnect();
    const origin = 'https://trace-bucket.s3.eu-west-1.amazonaws.com';
    try {
      const url = `${origin}/${KEY}?X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=${SIGNATURE}`;
      const err = await failure(
        presignedPutTransport({ url, dispatcher: agent, retry: false }).upload(artifact, {}),
      );
      expect((err.cause as { code?: string }).code).toBe('UND_MOCK_ERR_MOCK_NOT_MATCHED');
      const printed = inspect(err, { depth: 10, showHidden: true });
      expect(printed).not.toContain(SIGNATURE);
      expect(printed).not.toContain('AKIAEXAMPLE');
    } finally {
      await agent.close();
    }
  });

  it('refuses a virtual-hosted URL that puts the key below another prefix, sending nothing', async () => {
    // S3 would store this as the key `other/traces/...`: outside traces/<user>/ altogether.
    const agent = new MockAgent();
    agent.disableNetConnect();
    try {
      const url = `https://trace-bucket.s3.eu-west-1.amazonaws.com/other/${KEY}?X-Amz-Signature=${SIGNATURE}`;
      const err = await failure(
        presignedPutTransport({ url, dispatcher: agent, retry: false }).upload(artifact, {}),
      );
      expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED', retryable: false });
      expect(err.cause).toBeUndefined();
    } finally {
      await agent.close();
    }
  });

  it('with retry: false makes exactly one attempt', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const origin = 'https://s3.us-east-1.amazonaws.com';
    agent
      .get(origin)
      .intercept({ path: (p) => p.startsWith(`/trace-bucket/${KEY}`), method: 'PUT' })
      .reply(503, s3ErrorXml('SlowDown', 'Please reduce your request rate.'));
    try {
      const t = presignedPutTransport({
        url: `${origin}/trace-bucket/${KEY}?X-Amz-Signature=x`,
        dispatcher: agent,
        retry: false,
      });
      const err = await failure(t.upload(artifact, {}));
      expect(err).toMatchObject({
        code: 'ERR_UPLOAD_HTTP',
        status: 503,
        s3Code: 'SlowDown',
        retryable: true,
      });
      expect(err.attempts).toBeUndefined();
    } finally {
      await agent.close();
    }
  });
});

afterAll(() => {
  expect(seenErrors.length).toBeGreaterThan(10);
  for (const err of seenErrors) {
    // Everything a logger could print: message, stack, every cause and every property.
    const text = inspect(err, { depth: 10, showHidden: true });
    expect(text).not.toContain('X-Amz-Signature');
    expect(text).not.toContain(SIGNATURE);
    expect(text).not.toContain('X-Amz-Credential');
  }
});

describe('end to end: the orchestrator mints, the agent uploads, the SigV4-verifying local S3 stores', () => {
  const BUCKET = 'traces-e2e';
  let s3: LocalS3;
  let client: S3Client;
  // The local S3's clock runs this far ahead: how a URL expires without waiting.
  let serverClockAheadMs = 0;
  beforeAll(async () => {
    s3 = await startLocalS3({ now: () => Date.now() + serverClockAheadMs });
    client = await createTraceS3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
    });
  });
  afterAll(async () => {
    client.destroy();
    await s3.close();
  });
  afterEach(async () => {
    serverClockAheadMs = 0;
    await s3.reset();
  });

  // A bare URL, as a fixed TRACE_UPLOAD_URL would be: no size to sign, attribution in the query.
  const mint = async (taskId = '01JD4Q9Z6XTASK', expiresIn = 300) =>
    (
      await createTraceUploadUrl({
        s3: client,
        bucket: BUCKET,
        userId: 'user-1',
        taskId,
        expiresIn,
        allowUnboundedSize: true,
        metadataIn: 'query',
      })
    ).url;
  const stored = () => s3.getObject(BUCKET, KEY);

  it('stores the exact bytes at the exact key as application/gzip without Content-Encoding', async () => {
    const receipt = await presignedPutTransport({ url: () => mint(), retry: fastRetry }).upload(artifact, {});
    expect(receipt).toMatchObject({ key: KEY, uri: `s3://${BUCKET}/${KEY}`, attempts: 1 });
    const object = await stored();
    expect(object?.body.equals(body)).toBe(true);
    expect(object?.contentType).toBe('application/gzip');
    expect(object?.contentEncoding).toBeUndefined();
    expect(receipt.etag).toBe(object?.etag);
  });

  it('tells the URL provider which trace it mints for, so one transport serves several traces', async () => {
    const asked: string[] = [];
    const transport = presignedPutTransport({
      url: async ({ key, userId, taskId, byteLength, sha256 }) => {
        asked.push(key);
        return createTraceUploadUrl({
          s3: client,
          bucket: BUCKET,
          userId,
          taskId,
          expiresIn: 300,
          contentLength: byteLength,
          sha256,
        });
      },
      retry: fastRetry,
    });
    const other = artifactFromBuffer('traces/user-1/01JD4Q9Z6XOTHER.jsonl.gz', body);
    await transport.upload(artifact, {});
    await transport.upload(other, {});
    expect(asked).toEqual([KEY, other.key]);
    expect((await s3.getObject(BUCKET, other.key))?.body.equals(body)).toBe(true);
  });

  it('retries 500 and 503 SlowDown (Retry-After honoured) and a reset mid-body, landing one object', async () => {
    s3.faults
      .failNext(1, { status: 500, code: 'InternalError' })
      .failNext(1, { status: 503, code: 'SlowDown', retryAfterSeconds: 1 })
      .resetNext(1, { afterBodyBytes: 1024 });
    const slept: number[] = [];
    const t = presignedPutTransport({
      url: () => mint(),
      retry: { random: () => 0, sleep: async (ms) => void slept.push(ms) },
    });
    expect((await t.upload(artifact, {})).attempts).toBe(4);
    expect(slept).toEqual([0, 1000, 0]);
    expect((await stored())?.body.equals(body)).toBe(true);
    expect(await s3.listObjects(BUCKET)).toHaveLength(1);
  });

  it('does not retry the 403 S3 answers to a tampered URL', async () => {
    const tampered = async () => (await mint()).replace('X-Amz-Expires=300', 'X-Amz-Expires=3000');
    const err = await failure(
      presignedPutTransport({ url: tampered, retry: fastRetry }).upload(artifact, {}),
    );
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status: 403,
      s3Code: 'SignatureDoesNotMatch',
      attempts: 1,
    });
    // The usual cause with a URL minted by hand (boto3): says what the signature must cover.
    expect(err.message).toContain('Content-Type application/gzip as a signed header');
    expect(await s3.listObjects(BUCKET)).toEqual([]);
  });

  it('refreshes a URL S3 reports expired through the provider, once', async () => {
    serverClockAheadMs = 10 * 60_000;
    let minted = 0;
    const t = presignedPutTransport({
      url: async () => {
        minted++;
        if (minted === 2) serverClockAheadMs = 0; // the orchestrator's fresh URL is valid again
        return mint();
      },
      retry: fastRetry,
    });
    expect((await t.upload(artifact, {})).attempts).toBe(1);
    expect(minted).toBe(2);
    expect((await stored())?.body.equals(body)).toBe(true);
  });

  it('fails a fixed URL S3 reports expired with ERR_UPLOAD_URL_EXPIRED', async () => {
    const url = await mint();
    serverClockAheadMs = 10 * 60_000;
    const err = await failure(presignedPutTransport({ url, retry: fastRetry }).upload(artifact, {}));
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_URL_EXPIRED',
      status: 403,
      s3Code: 'AccessDenied',
      attempts: 1,
    });
    expect(await s3.listObjects(BUCKET)).toEqual([]);
  });

  it("refuses a real URL for another user's key before sending anything", async () => {
    const foreign = (
      await createTraceUploadUrl({
        s3: client,
        bucket: BUCKET,
        userId: 'user-2',
        taskId: '01JD4Q9Z6XTASK',
        allowUnboundedSize: true,
      })
    ).url;
    const err = await failure(presignedPutTransport({ url: foreign, retry: fastRetry }).upload(artifact, {}));
    expect(err.code).toBe('ERR_UPLOAD_REJECTED');
    expect(s3.requests).toHaveLength(0);
  });

  it('lands 20 parallel uploads intact', async () => {
    const artifacts = Array.from({ length: 20 }, (_, i) =>
      artifactFromBuffer(`traces/user-1/task-${i}.jsonl.gz`, randomBytes(10_000 + i)),
    );
    await Promise.all(
      artifacts.map((a) =>
        presignedPutTransport({ url: () => mint(a.taskId), retry: fastRetry }).upload(a, {}),
      ),
    );
    for (const a of artifacts) {
      const object = await s3.getObject(BUCKET, a.key);
      expect(
        createHash('sha256')
          .update(object?.body ?? Buffer.alloc(0))
          .digest('hex'),
      ).toBe(a.sha256);
    }
  });
});

describe('which object a presigned URL names', () => {
  const id = fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }).filter(isValidId);
  const encode = (key: string) => key.split('/').map(encodeURIComponent).join('/');

  it('accepts a path-style or virtual-hosted URL for exactly its own key, for any valid ids', () => {
    fc.assert(
      fc.property(id, id, id, (userId, taskId, otherTask) => {
        const key = traceKey({ userId, taskId });
        const pathStyle = new URL(
          `https://s3.eu-west-1.amazonaws.com/my-bucket/${encode(key)}?X-Amz-Signature=x`,
        );
        const hosted = new URL(`https://my.bucket.s3.eu-west-1.amazonaws.com/${encode(key)}`);
        expect(urlObjectLocation(pathStyle, key)).toEqual({ bucket: 'my-bucket' });
        expect(urlObjectLocation(hosted, key)).toEqual({ bucket: 'my.bucket' });
        if (otherTask !== taskId) {
          expect(urlObjectLocation(pathStyle, traceKey({ userId, taskId: otherTask }))).toBeUndefined();
        }
      }),
    );
  });

  const key = 'traces/user-1/task-1.jsonl.gz';
  const at = (url: string) => urlObjectLocation(new URL(url), key);

  it('knows the addressing style of AWS hosts and of IP endpoints', () => {
    // Virtual-hosted: the path is the key, nothing else.
    expect(at(`https://b.s3.amazonaws.com/${key}`)).toEqual({ bucket: 'b' });
    expect(at(`https://b.s3.us-east-1.amazonaws.com/x/${key}`)).toBeUndefined();
    expect(at(`https://b.s3-us-west-2.amazonaws.com/traces/${key}`)).toBeUndefined();
    expect(
      at(`https://b--usw2-az1--x-s3.s3express-usw2-az1.us-west-2.amazonaws.com/x/${key}`),
    ).toBeUndefined();
    // Path-style AWS hosts and IP literals: without a bucket segment, the bucket would be "traces".
    expect(at(`https://s3.us-east-1.amazonaws.com/b/${key}`)).toEqual({ bucket: 'b' });
    expect(at(`https://s3.us-east-1.amazonaws.com/${key}`)).toBeUndefined();
    expect(at(`https://s3.amazonaws.com/${key}`)).toBeUndefined();
    expect(at(`http://127.0.0.1:9000/${key}`)).toBeUndefined();
    expect(at(`http://[::1]:9000/${key}`)).toBeUndefined();
    expect(at(`http://127.0.0.1:9000/b/${key}`)).toEqual({ bucket: 'b' });
    // A custom endpoint may be either.
    expect(at(`https://minio.internal/b/${key}`)).toEqual({ bucket: 'b' });
    expect(at(`https://b.minio.internal/${key}`)).toEqual({});
  });

  it('compares the path as S3 decodes it, so encodings and dot segments cannot smuggle a key', () => {
    const base = 'https://s3.us-east-1.amazonaws.com';
    // Encoded slashes are slashes to S3: an extra segment, refused.
    expect(at(`${base}/b%2Fx/${key}`)).toBeUndefined();
    expect(at(`${base}/b/traces%2Fuser-1%2Ftask-1.jsonl.gz`)).toEqual({ bucket: 'b' });
    // Double encoding decodes once, to a different key.
    expect(at(`${base}/b/traces%252Fuser-1%252Ftask-1.jsonl.gz`)).toBeUndefined();
    // Dot segments (plain or encoded) are resolved by the URL parser before anything is sent.
    expect(at(`${base}/b/traces/user-2/../user-1/task-1.jsonl.gz`)).toEqual({ bucket: 'b' });
    expect(at(`${base}/b/traces/user-1/%2e%2e/user-2/task-1.jsonl.gz`)).toBeUndefined();
    expect(at(`${base}/b/${key}%00`)).toBeUndefined();
    expect(at(`${base}/b/traces/user-1/task-1.jsonl.gz%`)).toBeUndefined();
  });
});
