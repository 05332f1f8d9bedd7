import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { artifactFromBuffer, ConfigError, traceKey } from '../src/index.js';
import {
  createUploaderHandler,
  type UploaderHandlerOptions,
  type UploaderLogEntry,
  type UploaderResponse,
} from '../src/lambda/index.js';
import { createTraceS3Client, createUploadGrant } from '../src/orchestrator/index.js';
import { uploadToPresignedTarget } from '../src/upload/transports/http-put.js';
import { type PutServer, s3ErrorXml, startPutServer, TEST_CREDENTIALS } from './transport-support.js';

const KEYS = { k1: 'k'.repeat(40) };
const BUCKET = 'trace-bucket';

let server: PutServer;
let s3: S3Client;
beforeAll(async () => {
  server = await startPutServer();
  s3 = await createTraceS3Client({
    region: 'us-east-1',
    endpoint: server.origin,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  s3.destroy();
  await server.close();
});
afterEach(() => {
  server.objects.clear();
  server.replies.length = 0;
});

const logs: UploaderLogEntry[] = [];
const handler = (over: Partial<UploaderHandlerOptions> = {}) =>
  createUploaderHandler({ bucket: BUCKET, s3, grantKeys: KEYS, log: (e) => logs.push(e), ...over });

const grantFor = (userId: string, taskId: string, expiresIn = 600, key = { id: 'k1', secret: KEYS.k1 }) =>
  createUploadGrant({ userId, taskId, expiresIn, key, audience: BUCKET });

/** A gzip trace whose header names the user and task, followed by `padding` random bytes of events member. */
function traceBody(
  userId: string,
  taskId: string,
  padding = 0,
  header: Record<string, unknown> = {},
): Buffer {
  const line = `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: taskId, user_id: userId, ...header })}\n`;
  return Buffer.concat([gzipSync(line), gzipSync(randomBytes(padding))]);
}

function putRequest(grant: string, body: Buffer, over: Record<string, unknown> = {}) {
  return {
    action: 'put',
    grant,
    sha256: createHash('sha256').update(body).digest('hex'),
    byteLength: body.byteLength,
    body: body.toString('base64'),
    ...over,
  };
}

const refused = (response: UploaderResponse) => {
  expect(response.ok).toBe(false);
  return response as Extract<UploaderResponse, { ok: false }>;
};

describe('createUploaderHandler', () => {
  it('stores an inline body at the grant key with application/gzip and a SHA-256 checksum', async () => {
    const body = traceBody('user-1', 'task-1', 10_000);
    const grant = grantFor('user-1', 'task-1');
    const response = await handler()(putRequest(grant, body));
    const key = traceKey({ userId: 'user-1', taskId: 'task-1' });
    expect(response).toEqual({
      ok: true,
      action: 'put',
      key,
      uri: `s3://${BUCKET}/${key}`,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
    });
    expect(server.objects.get(`/${BUCKET}/${key}`)?.equals(body)).toBe(true);
    const req = server.requests.at(-1);
    expect(req?.headers['content-type']).toBe('application/gzip');
    expect(req?.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update(body).digest('base64'));
  });

  it("ignores a key, user or task named in the request: it writes under the grant's user and task", async () => {
    const body = traceBody('user-1', 'task-2', 100);
    const grant = grantFor('user-1', 'task-2');
    const response = await handler()(
      putRequest(grant, body, {
        key: 'traces/victim/task-2.jsonl.gz',
        userId: 'victim',
        user_id: 'victim',
        taskId: 'other',
        bucket: 'other-bucket',
      }),
    );
    const key = traceKey({ userId: 'user-1', taskId: 'task-2' });
    expect(response).toMatchObject({ ok: true, key });
    expect([...server.objects.keys()]).toEqual([`/${BUCKET}/${key}`]);
  });

  it('refuses a body whose sha256 or length does not match, storing nothing', async () => {
    const body = randomBytes(100);
    const grant = grantFor('user-1', 'task-3');
    const h = handler();
    expect(refused(await h(putRequest(grant, body, { sha256: 'a'.repeat(64) })))).toMatchObject({
      code: 'ERR_UPLOAD_CHECKSUM',
      retryable: false,
    });
    expect(refused(await h(putRequest(grant, body, { byteLength: 99 }))).code).toBe('ERR_UPLOAD_CHECKSUM');
    expect(refused(await h(putRequest(grant, body, { body: `${'!'.repeat(135)}=` }))).code).toBe(
      'ERR_UPLOAD_CHECKSUM',
    );
    expect(server.objects.size).toBe(0);
  });

  it.each([
    [
      'a bad signature',
      () => grantFor('user-1', 't', 600, { id: 'k1', secret: 'x'.repeat(40) }),
      'ERR_GRANT_SIGNATURE',
    ],
    [
      'an unknown key id',
      () => grantFor('user-1', 't', 600, { id: 'k9', secret: 'x'.repeat(40) }),
      'ERR_GRANT_UNKNOWN_KEY',
    ],
    ['a malformed grant', () => 'not-a-grant', 'ERR_GRANT_MALFORMED'],
  ])('refuses %s', async (_what, makeGrant, code) => {
    const response = refused(await handler()(putRequest(makeGrant(), randomBytes(10))));
    expect(response).toMatchObject({ code, retryable: false });
    expect(server.objects.size).toBe(0);
  });

  it('refuses an expired grant', async () => {
    const grant = grantFor('user-1', 't', 60);
    const later = () => Date.now() + 10 * 60_000;
    const response = refused(await handler({ now: later })(putRequest(grant, randomBytes(10))));
    expect(response.code).toBe('ERR_GRANT_EXPIRED');
  });

  it('refuses an inline body over maxInlineBytes', async () => {
    const response = refused(
      await handler({ maxInlineBytes: 1000 })(putRequest(grantFor('u', 't'), randomBytes(1001))),
    );
    expect(response).toMatchObject({ code: 'ERR_UPLOAD_TOO_LARGE', retryable: false });
  });

  it.each([
    ['not an object', 42],
    ['unknown action', { action: 'delete', grant: 'g', sha256: 'a'.repeat(64), byteLength: 1 }],
    ['no grant', { action: 'put', sha256: 'a'.repeat(64), byteLength: 1, body: 'AA==' }],
    ['bad sha256', { action: 'presign', grant: 'g', sha256: 'xyz', byteLength: 1 }],
    ['negative length', { action: 'presign', grant: 'g', sha256: 'a'.repeat(64), byteLength: -1 }],
    ['no body', { action: 'put', grant: 'g', sha256: 'a'.repeat(64), byteLength: 1 }],
    ['not JSON', '{'],
  ])('answers a malformed request (%s) with ERR_UPLOAD_BAD_REQUEST', async (_what, event) => {
    expect(refused(await handler()(event)).code).toBe('ERR_UPLOAD_BAD_REQUEST');
  });

  it('accepts the request as a JSON string too', async () => {
    const body = traceBody('user-1', 'task-json', 10);
    const response = await handler()(JSON.stringify(putRequest(grantFor('user-1', 'task-json'), body)));
    expect(response).toMatchObject({ ok: true, key: traceKey({ userId: 'user-1', taskId: 'task-json' }) });
  });

  it('returns a presigned PUT for the same key with the size and SHA-256 signed in', async () => {
    const body = randomBytes(50_000);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const grant = grantFor('user-1', 'task-big', 3600);
    const response = await handler({ presignExpiresIn: 120 })({
      action: 'presign',
      grant,
      sha256,
      byteLength: body.byteLength,
      key: 'traces/victim/x.jsonl.gz',
    });
    const key = traceKey({ userId: 'user-1', taskId: 'task-big' });
    if (!response.ok || response.action !== 'presign') throw new Error('expected a presign response');
    expect(response.key).toBe(key);
    const url = new URL(response.url);
    expect(decodeURIComponent(url.pathname)).toBe(`/${BUCKET}/${key}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(['content-length', 'content-type', 'x-amz-checksum-sha256']),
    );
    expect(Date.parse(response.expiresAt)).toBeLessThanOrEqual(Date.now() + 120_000);
    await uploadToPresignedTarget({
      artifact: artifactFromBuffer(key, body),
      transport: 'test',
      http: {},
      target: response,
    });
    expect(server.objects.get(`/${BUCKET}/${key}`)?.equals(body)).toBe(true);
  });

  it('never presigns for longer than the grant lives', async () => {
    const grant = grantFor('user-1', 'task-short', 30);
    const response = await handler({ presignExpiresIn: 3600 })({
      action: 'presign',
      grant,
      sha256: 'a'.repeat(64),
      byteLength: 10,
    });
    if (!response.ok || response.action !== 'presign') throw new Error('expected a presign response');
    expect(Number(new URL(response.url).searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(30);
  });

  it('refuses to presign beyond maxObjectBytes', async () => {
    const response = refused(
      await handler({ maxObjectBytes: 1024 })({
        action: 'presign',
        grant: grantFor('u', 't'),
        sha256: 'a'.repeat(64),
        byteLength: 1025,
      }),
    );
    expect(response.code).toBe('ERR_UPLOAD_TOO_LARGE');
  });

  it('reports S3 failures as structured, retryable-or-not responses', async () => {
    server.replies.push({
      status: 503,
      headers: { 'retry-after': '1' },
      body: s3ErrorXml('SlowDown', 'Reduce your rate.'),
    });
    const slow = refused(await handler()(putRequest(grantFor('u', 't'), traceBody('u', 't', 10))));
    expect(slow).toMatchObject({ code: 'ERR_UPLOAD_HTTP', status: 503, s3Code: 'SlowDown', retryable: true });
    server.replies.push({ status: 403, body: s3ErrorXml('AccessDenied', 'Access Denied') });
    const denied = refused(await handler()(putRequest(grantFor('u', 't'), traceBody('u', 't', 10))));
    expect(denied).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status: 403,
      s3Code: 'AccessDenied',
      retryable: false,
    });
    server.replies.push({
      status: 400,
      body: s3ErrorXml('BadDigest', 'The SHA256 you specified did not match.'),
    });
    expect(refused(await handler()(putRequest(grantFor('u', 't'), traceBody('u', 't', 10)))).code).toBe(
      'ERR_UPLOAD_CHECKSUM',
    );
  });

  it('logs one entry per request and never the grant or a URL', async () => {
    logs.length = 0;
    const grant = grantFor('user-log', 'task-log');
    const h = handler();
    await h(putRequest(grant, traceBody('user-log', 'task-log', 10)));
    await h({ action: 'presign', grant, sha256: 'a'.repeat(64), byteLength: 10 });
    await h(putRequest(`${grant}x`, randomBytes(10)));
    expect(logs.map((e) => e.outcome)).toEqual(['stored', 'presigned', 'refused']);
    expect(logs[0]).toMatchObject({
      action: 'put',
      key: traceKey({ userId: 'user-log', taskId: 'task-log' }),
    });
    const text = JSON.stringify(logs);
    expect(text).not.toContain(grant);
    expect(text).not.toContain(grant.split('.')[1]);
    expect(text).not.toContain('X-Amz-Signature');
  });

  it('logs JSON lines to stdout by default, without the grant', async () => {
    const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const grant = grantFor('user-1', 'task-stdout');
      await createUploaderHandler({ bucket: BUCKET, s3, grantKeys: KEYS })(
        putRequest(grant, traceBody('user-1', 'task-stdout', 10)),
      );
      expect(spy).toHaveBeenCalledTimes(1);
      const line = String(spy.mock.calls[0]?.[0]);
      expect(JSON.parse(line)).toMatchObject({ msg: 'agent-trace uploader', outcome: 'stored' });
      expect(line).not.toContain(grant);
    } finally {
      spy.mockRestore();
    }
  });

  it('fails at creation on a missing bucket, weak keys or bad limits', () => {
    expect(() => createUploaderHandler({ bucket: '', grantKeys: KEYS })).toThrow(ConfigError);
    expect(() => createUploaderHandler({ bucket: BUCKET, grantKeys: {} })).toThrow(/grantKeys/);
    expect(() => createUploaderHandler({ bucket: BUCKET, grantKeys: { k1: 'short' } })).toThrow(
      /at least 32 bytes/,
    );
    expect(() => createUploaderHandler({ bucket: BUCKET, grantKeys: KEYS, presignExpiresIn: 0 })).toThrow(
      ConfigError,
    );
    expect(() => createUploaderHandler({ bucket: BUCKET, grantKeys: KEYS, maxInlineBytes: 1.5 })).toThrow(
      ConfigError,
    );
    for (const [extra, variable] of [
      // A negative skew would cut every grant short; a huge one would let expired grants in.
      [{ clockSkewMs: -1 }, 'clockSkewMs'],
      [{ clockSkewMs: 86_400_000 }, 'clockSkewMs'],
      [{ clockSkewMs: Number.NaN }, 'clockSkewMs'],
      [{ log: 'stdout' }, 'log'],
      [{ now: 0 }, 'now'],
    ] as const) {
      expect(() => createUploaderHandler({ bucket: BUCKET, grantKeys: KEYS, ...(extra as object) })).toThrow(
        expect.objectContaining({ code: 'ERR_TRACE_CONFIG', variable }),
      );
    }
  });
});
