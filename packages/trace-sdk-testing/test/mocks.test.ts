import { artifactFromBuffer, presignedPutTransport, traceKey, UploadError } from '@agent-trace/trace-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockPresignedPut, mockPresignedPut, nockPresignedPut } from '../src/index.js';

const KEY = traceKey({ userId: 'user-1', taskId: '01JD4Q9Z6X' });
const BODY = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
const fastRetry = { minDelayMs: 1, maxDelayMs: 5 };

describe('mockPresignedPut (undici MockAgent)', () => {
  let mock: MockPresignedPut | undefined;
  afterEach(async () => {
    await mock?.close();
  });

  it('serves presignedPutTransport through its dispatcher and records the PUT', async () => {
    mock = mockPresignedPut({ key: KEY });
    const transport = presignedPutTransport({ url: mock.url, dispatcher: mock.dispatcher, retry: fastRetry });
    const receipt = await transport.upload(artifactFromBuffer(KEY, BODY), {});
    expect(receipt.key).toBe(KEY);
    expect(mock.requests).toHaveLength(1);
    const [put] = mock.requests;
    expect(put?.body.equals(BODY)).toBe(true);
    expect(put?.headers['content-type']).toBe('application/gzip');
    expect(put?.headers['content-encoding']).toBeUndefined();
    expect(put?.path.startsWith(`/${KEY}?`)).toBe(true);
    expect(put?.path).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
  });

  it('answers scripted S3 errors first, so retries can be unit-tested', async () => {
    mock = mockPresignedPut({
      key: KEY,
      answers: [
        { status: 503, code: 'SlowDown', retryAfterSeconds: 0 },
        { status: 500, code: 'InternalError' },
      ],
    });
    const transport = presignedPutTransport({ url: mock.url, dispatcher: mock.dispatcher, retry: fastRetry });
    const receipt = await transport.upload(artifactFromBuffer(KEY, BODY), {});
    expect(mock.requests.map((r) => r.status)).toEqual([503, 500, 200]);
    expect(receipt.attempts).toBe(3);
  });

  it('lets a provider mint fresh URLs, e.g. after an expired answer', async () => {
    mock = mockPresignedPut({
      key: KEY,
      answers: [{ status: 403, code: 'AccessDenied', message: 'Request has expired' }],
    });
    let minted = 0;
    const m = mock;
    const transport = presignedPutTransport({
      url: () => {
        minted += 1;
        return m.mintUrl();
      },
      dispatcher: mock.dispatcher,
      retry: fastRetry,
    });
    await transport.upload(artifactFromBuffer(KEY, BODY), {});
    expect(minted).toBe(2);
    expect(mock.requests.map((r) => r.status)).toEqual([403, 200]);
  });

  it('fails anything that is not a PUT to the mocked key', async () => {
    mock = mockPresignedPut({ key: KEY });
    const other = traceKey({ userId: 'user-2', taskId: '01JD4Q9Z6X' });
    const transport = presignedPutTransport({
      url: mock.url.replace('user-1', 'user-2'),
      dispatcher: mock.dispatcher,
      retry: false,
    });
    await expect(transport.upload(artifactFromBuffer(other, BODY), {})).rejects.toBeInstanceOf(UploadError);
    expect(mock.requests).toEqual([]);
  });
});

describe('nockPresignedPut', () => {
  it('intercepts fetch PUTs with scripted answers and records them', async () => {
    const origin = 'https://bucket.s3.us-east-1.amazonaws.com';
    const mock = await nockPresignedPut(origin, KEY, { answers: [{ status: 500, code: 'InternalError' }] });
    try {
      const first = await fetch(mock.url, {
        method: 'PUT',
        body: BODY,
        headers: { 'content-type': 'application/gzip' },
      });
      expect(first.status).toBe(500);
      expect(await first.text()).toContain('<Code>InternalError</Code>');
      const second = await fetch(mock.url, {
        method: 'PUT',
        body: BODY,
        headers: { 'content-type': 'application/gzip' },
      });
      expect(second.status).toBe(200);
      expect(second.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
      expect(mock.requests.map((r) => r.status)).toEqual([500, 200]);
      expect(mock.requests[1]?.body.equals(BODY)).toBe(true);
      expect(mock.requests[1]?.headers['content-type']).toBe('application/gzip');
    } finally {
      mock.done();
    }
  });
});
