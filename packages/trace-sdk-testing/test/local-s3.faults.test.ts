import { PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../src/index.js';
import { s3Client, send } from './helpers.js';

const BUCKET = 'faults';
const KEY = 'traces/u1/t1.jsonl.gz';
const BODY = Buffer.alloc(256 * 1024, 0x42);
let s3: LocalS3;
let url: string;

beforeEach(async () => {
  s3 = await startLocalS3();
  url = await getSignedUrl(
    s3Client(s3),
    new PutObjectCommand({ Bucket: BUCKET, Key: KEY, ContentType: 'application/gzip' }),
    { expiresIn: 300, signableHeaders: new Set(['content-type']) },
  );
});
afterEach(async () => {
  await s3.close();
});

const put = (target = url) =>
  send(target, { method: 'PUT', headers: { 'content-type': 'application/gzip' }, body: BODY });

describe('failNext', () => {
  it('answers with the injected status and S3 error, then recovers; a failed PUT stores nothing', async () => {
    s3.faults.failNext(1, { status: 500, code: 'InternalError' });
    const failed = await put();
    expect([failed.status, failed.code]).toEqual([500, 'InternalError']);
    expect(failed.body).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId>/);
    expect(await s3.headObject(BUCKET, KEY)).toBeUndefined();
    expect((await put()).status).toBe(200);
    expect(s3.requests.map((r) => [r.status, r.fault, r.stored])).toEqual([
      [500, 'fail', false],
      [200, undefined, true],
    ]);
  });

  it('adds Retry-After for 503 SlowDown, for n requests', async () => {
    s3.faults.failNext(2, { status: 503, code: 'SlowDown', retryAfterSeconds: 3 });
    for (let i = 0; i < 2; i++) {
      const answer = await put();
      expect([answer.status, answer.code, answer.headers['retry-after']]).toEqual([503, 'SlowDown', '3']);
    }
    expect(s3.faults.pending).toBe(0);
    expect((await put()).status).toBe(200);
  });

  it('applies only to matching requests', async () => {
    s3.faults.failNext(1, {
      status: 500,
      code: 'InternalError',
      match: { method: 'PUT', keyPrefix: 'traces/u2/' },
    });
    expect((await put()).status).toBe(200);
    expect(s3.faults.pending).toBe(1);
  });

  it('refuses nonsense fault options', () => {
    expect(() => s3.faults.failNext(0, { status: 500, code: 'InternalError' })).toThrow(RangeError);
    expect(() => s3.faults.failNext(1, { status: 200, code: 'OK' })).toThrow(RangeError);
    expect(() => s3.faults.resetNext(1, { afterBodyBytes: -1 })).toThrow(RangeError);
  });
});

describe('resetNext', () => {
  it('destroys the connection after K body bytes; nothing is stored', async () => {
    s3.faults.resetNext(1, { afterBodyBytes: 64 * 1024 });
    await expect(put()).rejects.toThrow();
    const reset = s3.requests[0]!;
    expect(reset).toMatchObject({ fault: 'reset', status: undefined, stored: false });
    expect(reset.bytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(reset.bytes).toBeLessThan(BODY.length);
    expect(await s3.headObject(BUCKET, KEY)).toBeUndefined();
    expect((await put()).status).toBe(200);
  });

  it('resets before any byte when afterBodyBytes is 0', async () => {
    s3.faults.resetNext(1);
    await expect(put()).rejects.toThrow();
    expect(await s3.headObject(BUCKET, KEY)).toBeUndefined();
  });
});

describe('delays, hangs and latency', () => {
  it('delayNext holds a request before processing it: a later request overtakes it', async () => {
    s3.faults.delayNext(1, 1000);
    const finished: string[] = [];
    const slow = put().then((a) => finished.push(`slow ${a.status}`));
    await s3.waitForRequest();
    const fast = put().then((a) => finished.push(`fast ${a.status}`));
    await Promise.all([slow, fast]);
    expect(finished).toEqual(['fast 200', 'slow 200']);
    expect(s3.requests.map((r) => r.fault)).toEqual(['delay', undefined]);
  });

  it('hangNext never answers; the client sees its own timeout, and close() ends the connection', async () => {
    s3.faults.hangNext(1);
    const pending = request(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/gzip' },
      body: BODY,
      headersTimeout: 200,
    });
    await expect(pending).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(s3.requests[0]).toMatchObject({ fault: 'hang', status: undefined, bytes: BODY.length });
    expect(await s3.headObject(BUCKET, KEY)).toBeUndefined();
  });

  it('close() does not wait for hung requests', async () => {
    s3.faults.hangNext(1);
    const pending = put().catch((error: unknown) => error);
    await s3.waitForRequest();
    await s3.close();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('latency applies to requests arriving while it is set', async () => {
    s3.faults.latency(1000);
    const finished: string[] = [];
    const slow = put().then(() => finished.push('with latency'));
    await s3.waitForRequest();
    s3.faults.latency(0);
    const fast = put().then(() => finished.push('without'));
    await Promise.all([slow, fast]);
    expect(finished).toEqual(['without', 'with latency']);
    expect(s3.faults.latencyMs).toBe(0);
  });
});

describe('request records', () => {
  it('keep method, key, status and headers but never the signature or Authorization', async () => {
    await put();
    await s3Client(s3).send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'traces/u1/other.jsonl.gz', Body: 'x' }),
    );
    const [presigned, signed] = s3.requests;
    expect(presigned).toMatchObject({
      method: 'PUT',
      operation: 'PutObject',
      bucket: BUCKET,
      key: KEY,
      status: 200,
    });
    expect(presigned?.bytes).toBe(BODY.length);
    expect(presigned?.path).toContain('X-Amz-Expires=300');
    expect(presigned?.path).not.toMatch(/X-Amz-Signature|X-Amz-Credential/i);
    expect(signed?.headers['authorization']).toBeUndefined();
    expect(signed?.headers['x-amz-date']).toBeDefined();
    expect(JSON.stringify(s3.requests)).not.toContain(s3.credentials.accessKeyId);
  });

  it('waitForRequest resolves with the next matching arrival', async () => {
    const next = s3.waitForRequest((r) => r.method === 'PUT');
    await put();
    expect((await next).key).toBe(KEY);
  });

  it('reset() clears objects, faults and records', async () => {
    await put();
    s3.faults.failNext(3, { status: 500, code: 'InternalError' });
    await s3.reset();
    expect([s3.requests.length, s3.faults.pending, (await s3.listObjects(BUCKET)).length]).toEqual([0, 0, 0]);
  });
});
