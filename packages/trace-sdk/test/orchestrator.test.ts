import { createHash, randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactFromBuffer, ConfigError, presignedPutTransport, traceKey } from '../src/index.js';
import { createTraceS3Client, createTraceUploadUrl } from '../src/orchestrator/index.js';
import { uploadToPresignedTarget } from '../src/upload/transports/http-put.js';
import { type PutServer, startPutServer, TEST_CREDENTIALS } from './transport-support.js';

let server: PutServer;
let s3: S3Client;
beforeAll(async () => {
  server = await startPutServer();
  s3 = await createTraceS3Client({
    region: 'us-east-1',
    endpoint: server.origin,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
  });
});
afterAll(async () => {
  s3.destroy();
  await server.close();
});

const params = (url: string) => new URL(url).searchParams;

describe('createTraceUploadUrl', () => {
  it('mints a URL for exactly traceKey({ userId, taskId }) with Content-Type signed and no SDK body checksum', async () => {
    const before = Date.now();
    const minted = await createTraceUploadUrl({
      s3,
      bucket: 'trace-bucket',
      userId: 'u 1+',
      taskId: 't1',
      expiresIn: 600,
      contentLength: 100,
    });
    expect(minted.key).toBe(traceKey({ userId: 'u 1+', taskId: 't1' }));
    const url = new URL(minted.url);
    expect(decodeURIComponent(url.pathname)).toBe(`/trace-bucket/${minted.key}`);
    const q = params(minted.url);
    expect(q.get('X-Amz-SignedHeaders')?.split(';')).toContain('content-type');
    expect(q.get('X-Amz-Expires')).toBe('600');
    expect([...q.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
    expect(minted.headers).toEqual({
      'content-type': 'application/gzip',
      // The attribution is signed as headers the runtime must send; ids are percent-encoded where
      // a header cannot carry them as they are.
      'x-amz-meta-agent-trace-user-id': 'u%201+',
      'x-amz-meta-agent-trace-task-id': 't1',
      'x-amz-meta-agent-trace-attribution': 'presigned-url',
    });
    const expiresAt = minted.expiresAt.getTime();
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it('the URL it mints takes an upload through presignedPutTransport', async () => {
    const minted = await createTraceUploadUrl({
      s3,
      bucket: 'trace-bucket',
      userId: 'u1',
      taskId: 't2',
      expiresIn: 60,
      contentLength: 1000,
    });
    const body = randomBytes(1000);
    const receipt = await presignedPutTransport({ url: async () => minted, retry: false }).upload(
      artifactFromBuffer(minted.key, body),
      {},
    );
    expect(receipt.uri).toBe(`s3://trace-bucket/${minted.key}`);
    expect(server.objects.get(`/trace-bucket/${minted.key}`)?.equals(body)).toBe(true);
  });

  it('signs the length and the SHA-256 when they are known, and returns the header to send', async () => {
    const body = randomBytes(2048);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const minted = await createTraceUploadUrl({
      s3,
      bucket: 'trace-bucket',
      userId: 'u1',
      taskId: 't3',
      expiresIn: 60,
      contentLength: body.byteLength,
      sha256,
    });
    const signed = params(minted.url).get('X-Amz-SignedHeaders')?.split(';') ?? [];
    expect(signed).toEqual(
      expect.arrayContaining(['content-length', 'content-type', 'x-amz-checksum-sha256']),
    );
    expect(minted.headers['x-amz-checksum-sha256']).toBe(Buffer.from(sha256, 'hex').toString('base64'));
    const artifact = artifactFromBuffer(minted.key, body);
    await uploadToPresignedTarget({ artifact, transport: 'test', http: {}, target: minted });
    const req = server.requests.at(-1);
    expect(req?.headers['x-amz-checksum-sha256']).toBe(minted.headers['x-amz-checksum-sha256']);
    expect(server.objects.get(`/trace-bucket/${minted.key}`)?.equals(body)).toBe(true);
  });

  it('refuses a client that would sign an empty-body CRC32 into the URL', async () => {
    const plain = new S3Client({ region: 'us-east-1', credentials: TEST_CREDENTIALS });
    try {
      const err = await createTraceUploadUrl({
        s3: plain,
        bucket: 'b',
        userId: 'u',
        taskId: 't',
        contentLength: 1,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ variable: 'requestChecksumCalculation' });
      expect(err.message).toContain('WHEN_REQUIRED');
    } finally {
      plain.destroy();
    }
  });

  it('validates ids, bucket, expiry and the announced size and hash', async () => {
    const base = { s3, bucket: 'b', userId: 'u', taskId: 't' };
    await expect(createTraceUploadUrl({ ...base, userId: '../x' })).rejects.toThrow(/Invalid userId/);
    await expect(createTraceUploadUrl({ ...base, bucket: '' })).rejects.toMatchObject({ variable: 'bucket' });
    await expect(createTraceUploadUrl({ ...base, expiresIn: 0 })).rejects.toMatchObject({
      variable: 'expiresIn',
    });
    await expect(createTraceUploadUrl({ ...base, expiresIn: 604_801 })).rejects.toMatchObject({
      variable: 'expiresIn',
    });
    await expect(createTraceUploadUrl({ ...base, contentLength: -1 })).rejects.toMatchObject({
      variable: 'contentLength',
    });
    await expect(createTraceUploadUrl({ ...base, sha256: 'ABC' })).rejects.toMatchObject({
      variable: 'sha256',
    });
  });

  it('createTraceS3Client forces WHEN_REQUIRED whatever the caller passes', async () => {
    const client = await createTraceS3Client({
      region: 'eu-west-1',
      credentials: TEST_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_SUPPORTED',
    });
    try {
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      const minted = await createTraceUploadUrl({
        s3: client,
        bucket: 'my-bucket',
        userId: 'u',
        taskId: 't',
        contentLength: 1,
      });
      expect(new URL(minted.url).hostname).toBe('my-bucket.s3.eu-west-1.amazonaws.com');
    } finally {
      client.destroy();
    }
  });
});
