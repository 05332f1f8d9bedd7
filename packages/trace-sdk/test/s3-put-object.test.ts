import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { type LocalS3, startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  artifactFromBuffer,
  ConfigError,
  type RetryPolicy,
  S3_PUT_OBJECT_WARNING_CODE,
  type S3PutObjectOptions,
  s3PutObjectTransport,
  type TraceArtifact,
  UploadError,
} from '../src/index.js';
import { type PutServer, s3ErrorXml, startPutServer, TEST_CREDENTIALS } from './transport-support.js';

// Every warning the process emits while this file runs: the deprecation must appear exactly once.
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
process.on('warning', onWarning);

const BUCKET = 'trace-bucket';
const KEY = 'traces/user-1/task-1.jsonl.gz';
const fastRetry: RetryPolicy = { sleep: async () => {}, random: () => 0 };
// The SDK warns on the console about streamed bodies it cannot retry; the transport retries them.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let server: PutServer;
let client: S3Client;
beforeAll(async () => {
  server = await startPutServer();
  client = new S3Client({
    region: 'us-east-1',
    endpoint: server.origin,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
    logger: quiet,
  });
});
afterAll(async () => {
  client.destroy();
  await server.close();
  process.off('warning', onWarning);
});
afterEach(() => {
  server.objects.clear();
  server.replies.length = 0;
  server.requests.length = 0;
});

const transport = (over: Partial<S3PutObjectOptions> = {}) =>
  s3PutObjectTransport({ allowBucketWideWrites: true, client, bucket: BUCKET, retry: fastRetry, ...over });
const stored = () => server.objects.get(`/${BUCKET}/${KEY}`);

async function failure(p: Promise<unknown>): Promise<UploadError> {
  const err = await p.then(
    () => {
      throw new Error('expected the upload to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UploadError);
  return err as UploadError;
}

describe('s3PutObjectTransport (legacy)', () => {
  it('emits one DeprecationWarning per process, pointing to the migration guide', async () => {
    transport();
    transport();
    s3PutObjectTransport({ allowBucketWideWrites: true, bucket: BUCKET, region: 'us-east-1' });
    await new Promise((resolve) => setImmediate(resolve));
    const ours = warnings.filter((w) => (w as { code?: string }).code === S3_PUT_OBJECT_WARNING_CODE);
    expect(ours).toHaveLength(1);
    expect(ours[0]?.name).toBe('DeprecationWarning');
    expect(ours[0]?.message).toContain('docs/migration.md');
  });

  it('stores a small body with one PutObject: exact bytes, application/gzip, SHA-256 checksum', async () => {
    const body = randomBytes(100_000);
    const receipt = await transport().upload(artifactFromBuffer(KEY, body), {});
    expect(receipt).toEqual({
      key: KEY,
      uri: `s3://${BUCKET}/${KEY}`,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      attempts: 1,
    });
    expect(stored()?.equals(body)).toBe(true);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0];
    expect(req?.headers['content-type']).toBe('application/gzip');
    expect(req?.headers['content-encoding']).toBeUndefined();
    expect(req?.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update(body).digest('base64'));
  });

  it('uses a multipart upload above the threshold', async () => {
    const body = randomBytes(11 * 1024 * 1024 + 5);
    const t = transport({ multipartThresholdBytes: 6 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 });
    const receipt = await t.upload(artifactFromBuffer(KEY, body), {});
    expect(receipt).toMatchObject({ key: KEY, uri: `s3://${BUCKET}/${KEY}`, attempts: 1 });
    expect(stored()?.equals(body)).toBe(true);
    expect(server.multipartTypes.get(`/${BUCKET}/${KEY}`)).toBe('application/gzip');
    const parts = server.requests.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    expect(parts).toHaveLength(3);
    expect(server.openUploads()).toBe(0);
  });

  it('retries a 500 in its own policy (the client makes one attempt)', async () => {
    server.replies.push({
      status: 500,
      body: s3ErrorXml('InternalError', 'We encountered an internal error.'),
    });
    const body = randomBytes(1000);
    const receipt = await transport().upload(artifactFromBuffer(KEY, body), {});
    expect(receipt.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(stored()?.equals(body)).toBe(true);
  });

  it('retries 503 SlowDown, honouring Retry-After', async () => {
    server.replies.push({
      status: 503,
      headers: { 'retry-after': '3' },
      body: s3ErrorXml('SlowDown', 'Please reduce your request rate.'),
    });
    const slept: number[] = [];
    const receipt = await transport({
      retry: { random: () => 0, sleep: async (ms) => void slept.push(ms) },
    }).upload(artifactFromBuffer(KEY, randomBytes(10)), {});
    expect(receipt.attempts).toBe(2);
    expect(slept).toEqual([3000]);
  });

  it('retries a connection reset mid-body', async () => {
    server.replies.push({ reset: 1000 });
    const body = randomBytes(200_000);
    expect((await transport().upload(artifactFromBuffer(KEY, body), {})).attempts).toBe(2);
    expect(stored()?.equals(body)).toBe(true);
  });

  it('does not retry 403 AccessDenied and reports status and code', async () => {
    server.replies.push({ status: 403, body: s3ErrorXml('AccessDenied', 'Access Denied') });
    const err = await failure(transport().upload(artifactFromBuffer(KEY, randomBytes(10)), {}));
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status: 403,
      s3Code: 'AccessDenied',
      retryable: false,
      attempts: 1,
      transport: 's3-put-object',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('reports a body S3 finds not matching its checksum as ERR_UPLOAD_CHECKSUM', async () => {
    const body = randomBytes(500);
    const lying: TraceArtifact = {
      ...artifactFromBuffer(KEY, body),
      sha256: 'c'.repeat(64),
      open: () => Readable.from([body]),
    };
    const err = await failure(transport().upload(lying, {}));
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM', status: 400, s3Code: 'BadDigest', attempts: 1 });
    expect(stored()).toBeUndefined();
  });

  it('stops with ERR_UPLOAD_ABORTED when aborted mid-upload', async () => {
    server.replies.push({ hang: true });
    const controller = new AbortController();
    const arrived = server.nextRequest();
    const pending = transport().upload(artifactFromBuffer(KEY, randomBytes(10)), {
      signal: controller.signal,
    });
    await arrived;
    controller.abort();
    const err = await failure(pending);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_ABORTED', attempts: 1 });
  });

  it('builds its own path-style client from region and endpoint', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    try {
      const body = randomBytes(10);
      const t = s3PutObjectTransport({
        allowBucketWideWrites: true,
        bucket: BUCKET,
        region: 'eu-west-1',
        endpoint: server.origin,
        retry: false,
      });
      await t.upload(artifactFromBuffer(KEY, body), {});
      expect(stored()?.equals(body)).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('says which option or variable to set when no region is found anywhere, and sends nothing', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    // No shared config file to find a profile's region in either.
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/agent-trace-test/config');
    vi.stubEnv('AWS_SDK_LOAD_CONFIG', undefined);
    try {
      const t = s3PutObjectTransport({
        allowBucketWideWrites: true,
        bucket: BUCKET,
        endpoint: server.origin,
        retry: false,
      });
      const err = await failure(t.upload(artifactFromBuffer(KEY, randomBytes(10)), {}));
      expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED', retryable: false });
      expect(err.message).toMatch(/no AWS region: pass `region` .*AWS_REGION/);
      expect(server.requests).toHaveLength(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('fails at construction on a missing bucket or a part size below S3 minimum', () => {
    expect(() => s3PutObjectTransport({ allowBucketWideWrites: true, bucket: '' })).toThrow(ConfigError);
    expect(() =>
      s3PutObjectTransport({ allowBucketWideWrites: true, bucket: BUCKET, partSizeBytes: 1024 }),
    ).toThrow(/partSizeBytes/);
    expect(() =>
      s3PutObjectTransport({ allowBucketWideWrites: true, bucket: BUCKET, endpoint: 'http://10.0.0.1:9000' }),
    ).toThrow(/endpoint/);
    for (const [extra, variable] of [
      // Above S3's 5 GiB single-PUT limit: every body in between would fail at S3.
      [{ multipartThresholdBytes: 6 * 1024 ** 3 }, 'multipartThresholdBytes'],
      [{ partSizeBytes: 6 * 1024 ** 3 }, 'partSizeBytes'],
      [{ queueSize: 0 }, 'queueSize'],
      [{ forcePathStyle: 'yes' }, 'forcePathStyle'],
      [{ retry: { minDelayMs: -1 } }, 'retry.minDelayMs'],
    ] as const) {
      expect(() =>
        s3PutObjectTransport({ allowBucketWideWrites: true, bucket: BUCKET, ...(extra as object) }),
      ).toThrow(expect.objectContaining({ code: 'ERR_TRACE_CONFIG', variable }));
    }
  });
});

describe('end to end against the SigV4-verifying local S3', () => {
  const E2E_BUCKET = 'traces-legacy';
  let localS3: LocalS3;
  let e2eClient: S3Client;
  beforeAll(async () => {
    localS3 = await startLocalS3();
    e2eClient = new S3Client({
      region: localS3.region,
      endpoint: localS3.endpoint,
      forcePathStyle: true,
      credentials: localS3.credentials,
      maxAttempts: 1,
      logger: quiet,
    });
  });
  afterAll(async () => {
    e2eClient.destroy();
    await localS3.close();
  });
  afterEach(async () => {
    await localS3.reset();
  });

  const e2e = (over: Partial<S3PutObjectOptions> = {}) =>
    s3PutObjectTransport({
      allowBucketWideWrites: true,
      client: e2eClient,
      bucket: E2E_BUCKET,
      retry: fastRetry,
      ...over,
    });

  it('stores a small body with one signed PutObject carrying its SHA-256', async () => {
    const body = randomBytes(50_000);
    const receipt = await e2e().upload(artifactFromBuffer(KEY, body), {});
    expect(receipt).toMatchObject({ key: KEY, uri: `s3://${E2E_BUCKET}/${KEY}`, attempts: 1 });
    const object = await localS3.getObject(E2E_BUCKET, KEY);
    expect(object?.body.equals(body)).toBe(true);
    expect(object?.contentType).toBe('application/gzip');
    expect(object?.contentEncoding).toBeUndefined();
    expect(object?.checksums).toMatchObject({ sha256: createHash('sha256').update(body).digest('base64') });
  });

  it('stores a large body through a multipart upload', async () => {
    const body = randomBytes(12 * 1024 * 1024);
    const t = e2e({ multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 });
    expect((await t.upload(artifactFromBuffer(KEY, body), {})).attempts).toBe(1);
    const object = await localS3.getObject(E2E_BUCKET, KEY);
    expect(object?.body.equals(body)).toBe(true);
    expect(object?.partsCount).toBe(3);
    expect(object?.contentType).toBe('application/gzip');
  });

  it('retries 503 SlowDown and a reset, then stores one object', async () => {
    localS3.faults.failNext(1, { status: 503, code: 'SlowDown' }).resetNext(1, { afterBodyBytes: 100 });
    const body = randomBytes(20_000);
    expect((await e2e().upload(artifactFromBuffer(KEY, body), {})).attempts).toBe(3);
    expect((await localS3.getObject(E2E_BUCKET, KEY))?.body.equals(body)).toBe(true);
    expect(await localS3.listObjects(E2E_BUCKET)).toHaveLength(1);
  });

  it('does not retry the 403 for unknown credentials', async () => {
    const stranger = new S3Client({
      region: localS3.region,
      endpoint: localS3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x'.repeat(40) },
      maxAttempts: 1,
      logger: quiet,
    });
    try {
      const err = await failure(
        e2e({ client: stranger }).upload(artifactFromBuffer(KEY, randomBytes(10)), {}),
      );
      expect(err).toMatchObject({ status: 403, s3Code: 'InvalidAccessKeyId', attempts: 1 });
    } finally {
      stranger.destroy();
    }
  });
});
