/**
 * Trusted attribution end to end: the orchestrator signs it into presigned URLs, the uploader
 * Lambda writes it from the grant, the legacy transport marks its objects unattributed, and a
 * runtime cannot upload with it missing or altered. Against the SigV4-verifying local S3.
 */
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type LocalS3, startLocalS3 } from '@agent-trace/trace-sdk-testing';
import type { S3Client } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AttributionError,
  artifactFromBuffer,
  presignedPutTransport,
  s3PutObjectTransport,
  traceKey,
  type UploadUrlRequest,
} from '../src/index.js';
import { createUploaderHandler, type UploaderResponse } from '../src/lambda/index.js';
import {
  ATTRIBUTION_METADATA,
  createTraceS3Client,
  createTraceUploadUrl,
  createUploadGrant,
  DEFAULT_MAX_TRACE_OBJECT_BYTES,
  readAttributionMetadata,
} from '../src/orchestrator/index.js';

const BUCKET = 'trace-bucket';
const GRANT_KEY = { id: 'k1', secret: 'g'.repeat(40) };

let local: LocalS3;
let s3: S3Client;
beforeAll(async () => {
  local = await startLocalS3();
  s3 = await createTraceS3Client({
    region: local.region,
    endpoint: local.endpoint,
    forcePathStyle: true,
    credentials: local.credentials,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  s3.destroy();
  await local.close();
});
afterEach(async () => {
  await local.reset();
});

/** A gzip trace whose header names the user and task, then an events member. */
function traceBody(userId: string, taskId: string, header: Record<string, unknown> = {}): Buffer {
  const line = `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: taskId, user_id: userId, ...header })}\n`;
  const event = `${JSON.stringify({ event: 'TRAJECTORY_TURN', task_id: taskId, seq: 0, ts: 1 })}\n`;
  return Buffer.concat([gzipSync(line), gzipSync(event)]);
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

async function put(url: string, body: Buffer, headers: Record<string, string>) {
  const response = await request(url, { method: 'PUT', body, headers });
  const text = await response.body.text();
  return { status: response.statusCode, text };
}

describe('presigned URLs sign the attribution', () => {
  const userId = 'user-1';
  const taskId = 'task-attr';
  const key = traceKey({ userId, taskId });
  const body = traceBody(userId, taskId);
  const mint = () =>
    createTraceUploadUrl({
      s3,
      bucket: BUCKET,
      userId,
      taskId,
      contentLength: body.byteLength,
      sha256: sha256(body),
      operator: 'alice@example.com',
      sessionId: 'sess-1',
    });

  it('signs Content-Length, the checksum and x-amz-meta-agent-trace-* as headers', async () => {
    const minted = await mint();
    const signed = new URL(minted.url).searchParams.get('X-Amz-SignedHeaders')?.split(';');
    expect(signed).toEqual(
      expect.arrayContaining([
        'content-length',
        'content-type',
        'x-amz-checksum-sha256',
        'x-amz-meta-agent-trace-user-id',
        'x-amz-meta-agent-trace-task-id',
        'x-amz-meta-agent-trace-operator',
        'x-amz-meta-agent-trace-session-id',
        'x-amz-meta-agent-trace-attribution',
      ]),
    );
    expect(minted.headers).toMatchObject({
      'x-amz-meta-agent-trace-user-id': userId,
      'x-amz-meta-agent-trace-task-id': taskId,
      'x-amz-meta-agent-trace-operator': 'alice@example.com',
      'x-amz-meta-agent-trace-session-id': 'sess-1',
      'x-amz-meta-agent-trace-attribution': 'presigned-url',
    });
  });

  it('stores the object with the signed attribution when the runtime sends the headers', async () => {
    const minted = await mint();
    expect((await put(minted.url, body, { ...minted.headers })).status).toBe(200);
    const stored = await local.headObject(BUCKET, key);
    expect(readAttributionMetadata(stored?.metadata)).toEqual({
      source: 'presigned-url',
      userId,
      taskId,
      operator: 'alice@example.com',
      sessionId: 'sess-1',
    });
  });

  it('refuses a PUT that drops or alters an attribution header, storing nothing', async () => {
    const minted = await mint();
    const { 'x-amz-meta-agent-trace-operator': _dropped, ...missing } = minted.headers;
    expect((await put(minted.url, body, missing)).status).toBe(403);
    const altered = { ...minted.headers, 'x-amz-meta-agent-trace-operator': 'mallory' };
    expect((await put(minted.url, body, altered)).status).toBe(403);
    const otherUser = { ...minted.headers, 'x-amz-meta-agent-trace-user-id': 'user-2' };
    expect((await put(minted.url, body, otherUser)).status).toBe(403);
    // An extra, unsigned claim is refused too: x-amz-* headers must all be signed.
    const extra = { ...minted.headers, 'x-amz-meta-agent-trace-claims': 'admin' };
    expect((await put(minted.url, body, extra)).status).toBe(403);
    expect(await local.headObject(BUCKET, key)).toBeUndefined();
  });

  it('refuses a body of another length or hash than the one signed', async () => {
    const minted = await mint();
    const longer = Buffer.concat([body, gzipSync('x\n')]);
    expect((await put(minted.url, longer, { ...minted.headers })).status).toBeGreaterThanOrEqual(400);
    const same = Buffer.from(body);
    same.writeUInt8(same.readUInt8(same.length - 1) ^ 0xff, same.length - 1);
    expect((await put(minted.url, same, { ...minted.headers })).status).toBeGreaterThanOrEqual(400);
    expect(await local.headObject(BUCKET, key)).toBeUndefined();
  });

  it('presignedPutTransport tells the provider the sealed length and hash, and sends the returned headers', async () => {
    const seen: UploadUrlRequest[] = [];
    const transport = presignedPutTransport({
      retry: false,
      url: async (req) => {
        seen.push(req);
        return createTraceUploadUrl({
          s3,
          bucket: BUCKET,
          userId: req.userId,
          taskId: req.taskId,
          contentLength: req.byteLength,
          sha256: req.sha256,
          operator: 'alice@example.com',
        });
      },
    });
    await transport.upload(artifactFromBuffer(key, body), {});
    expect(seen).toEqual([
      {
        key,
        userId,
        taskId,
        byteLength: body.byteLength,
        sha256: sha256(body),
        signal: expect.any(AbortSignal),
      },
    ]);
    const stored = await local.headObject(BUCKET, key);
    expect(stored?.metadata).toMatchObject({
      [ATTRIBUTION_METADATA.operator]: 'alice@example.com',
      [ATTRIBUTION_METADATA.source]: 'presigned-url',
    });
  });

  it('requires a size bound unless explicitly unbounded, and caps it', async () => {
    const base = { s3, bucket: BUCKET, userId, taskId };
    await expect(createTraceUploadUrl(base)).rejects.toMatchObject({
      code: 'ERR_TRACE_CONFIG',
      variable: 'contentLength',
    });
    await expect(
      createTraceUploadUrl({ ...base, contentLength: DEFAULT_MAX_TRACE_OBJECT_BYTES + 1 }),
    ).rejects.toMatchObject({ code: 'ERR_UPLOAD_TOO_LARGE' });
    await expect(
      createTraceUploadUrl({ ...base, contentLength: 2000, maxBytes: 1000 }),
    ).rejects.toMatchObject({
      code: 'ERR_UPLOAD_TOO_LARGE',
    });
    const unbounded = await createTraceUploadUrl({ ...base, allowUnboundedSize: true });
    expect(new URL(unbounded.url).searchParams.get('X-Amz-SignedHeaders')).not.toContain('content-length');
  });

  it('can carry the attribution in the signed query string for a bare URL', async () => {
    const minted = await createTraceUploadUrl({
      s3,
      bucket: BUCKET,
      userId,
      taskId,
      allowUnboundedSize: true,
      operator: 'alice@example.com',
      metadataIn: 'query',
    });
    const url = new URL(minted.url);
    expect(url.searchParams.get('x-amz-meta-agent-trace-operator')).toBe('alice@example.com');
    expect(Object.keys(minted.headers).some((h) => h.startsWith('x-amz-meta-'))).toBe(false);
    url.searchParams.set('x-amz-meta-agent-trace-operator', 'mallory');
    expect((await put(url.toString(), body, { 'content-type': 'application/gzip' })).status).toBe(403);
  });

  it('fails closed when the attribution cannot be bound', async () => {
    const base = { s3, bucket: BUCKET, userId, taskId, contentLength: 10 };
    await expect(createTraceUploadUrl({ ...base, operator: 'alice smith' })).rejects.toBeInstanceOf(
      AttributionError,
    );
    await expect(createTraceUploadUrl({ ...base, operator: 'aws:root' })).rejects.toMatchObject({
      code: 'ERR_ATTRIBUTION',
      reason: 'invalid_operator',
    });
    // CloudTrail binding requested, but this client's credentials carry no SourceIdentity.
    await expect(
      createTraceUploadUrl({ ...base, operator: 'alice', requireSourceIdentity: true }),
    ).rejects.toMatchObject({ code: 'ERR_ATTRIBUTION', reason: 'source_identity_unbound' });
    // Asked for with a string (say, from an environment variable): refused, never minted unbound.
    await expect(
      createTraceUploadUrl({
        ...base,
        operator: 'alice',
        requireSourceIdentity: 'true' as unknown as boolean,
      }),
    ).rejects.toMatchObject({ code: 'ERR_TRACE_CONFIG', variable: 'requireSourceIdentity' });
  });

  it('percent-encodes ids a header cannot carry, and reads them back', async () => {
    // The widest valid ids (256 bytes of 4-byte characters) plus every claim still fit S3's 2 KB.
    const wide = '\u{1F600}'.repeat(64);
    const body = traceBody(wide, wide);
    const minted = await createTraceUploadUrl({
      s3,
      bucket: BUCKET,
      userId: wide,
      taskId: wide,
      contentLength: body.byteLength,
      operator: 'o'.repeat(64),
      sessionId: 's'.repeat(256),
    });
    expect(minted.headers['x-amz-meta-agent-trace-user-id']).toMatch(/^(%F0%9F%98%80){64}$/);
    expect((await put(minted.url, body, { ...minted.headers })).status).toBe(200);
    const stored = await local.headObject(BUCKET, traceKey({ userId: wide, taskId: wide }));
    expect(readAttributionMetadata(stored?.metadata)).toMatchObject({ userId: wide, taskId: wide });
  });
});

describe('the uploader Lambda', () => {
  const handler = (over: Partial<Parameters<typeof createUploaderHandler>[0]> = {}) =>
    createUploaderHandler({ bucket: BUCKET, s3, grantKeys: { k1: GRANT_KEY.secret }, log: false, ...over });
  const grant = (userId: string, taskId: string, over: Record<string, unknown> = {}) =>
    createUploadGrant({ userId, taskId, expiresIn: 600, key: GRANT_KEY, audience: BUCKET, ...over });
  const putRequest = (token: string, body: Buffer) => ({
    action: 'put',
    grant: token,
    sha256: sha256(body),
    byteLength: body.byteLength,
    body: body.toString('base64'),
  });
  const refusal = (r: UploaderResponse) => {
    expect(r.ok).toBe(false);
    return r as Extract<UploaderResponse, { ok: false }>;
  };

  it('writes the attribution from the grant, never from the request or body', async () => {
    const body = traceBody('user-1', 'task-l', { attribution: { operator: 'mallory' } });
    const token = grant('user-1', 'task-l', { operator: 'alice', sessionId: 'sess-9' });
    const response = await handler()({ ...putRequest(token, body), operator: 'mallory' });
    expect(response).toMatchObject({ ok: true });
    const stored = await local.headObject(BUCKET, traceKey({ userId: 'user-1', taskId: 'task-l' }));
    expect(readAttributionMetadata(stored?.metadata)).toEqual({
      source: 'uploader-lambda',
      userId: 'user-1',
      taskId: 'task-l',
      operator: 'alice',
      sessionId: 'sess-9',
    });
  });

  it.each([
    ['an HTML page', Buffer.from('<html><body>hello</body></html>')],
    ['gzip that is not a trace', gzipSync('{"event":"TRAJECTORY_TURN","task_id":"task-x"}\n')],
    ['gzip of something that is not JSON', gzipSync('not json\n')],
    ['a header naming another user', traceBody('user-2', 'task-x')],
    ['a header naming another task', traceBody('user-1', 'task-y')],
    ['a header without a newline (an endless first line)', gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20))],
    ['gzip magic followed by garbage', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), randomBytes(200)])],
  ])('refuses %s with a typed 400 and stores nothing', async (_what, body) => {
    const response = refusal(await handler()(putRequest(grant('user-1', 'task-x'), body)));
    expect(response).toMatchObject({ code: 'ERR_UPLOAD_NOT_A_TRACE', status: 400, retryable: false });
    expect(await local.listObjects(BUCKET)).toEqual([]);
  });

  it('accepts a header without user_id (the Python agent writes none) when the task matches', async () => {
    const line = `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-py', accumulated_events: 0 })}\n`;
    const response = await handler()(putRequest(grant('user-1', 'task-py'), gzipSync(line)));
    expect(response).toMatchObject({ ok: true });
  });

  it('refuses a grant minted for another bucket or deployment', async () => {
    const body = traceBody('user-1', 'task-aud');
    const foreign = createUploadGrant({
      userId: 'user-1',
      taskId: 'task-aud',
      expiresIn: 600,
      key: GRANT_KEY,
      audience: 'staging-bucket',
    });
    expect(refusal(await handler()(putRequest(foreign, body))).code).toBe('ERR_GRANT_SCOPE');
    // A deployment id works when the handler is configured for it.
    const deployment = createUploadGrant({
      userId: 'user-1',
      taskId: 'task-aud',
      expiresIn: 600,
      key: GRANT_KEY,
      audience: 'deploy-prod-eu',
    });
    expect(await handler({ grantAudience: 'deploy-prod-eu' })(putRequest(deployment, body))).toMatchObject({
      ok: true,
    });
  });

  it('presigns the exact length, hash and attribution, and refuses sizes above its default bound', async () => {
    const body = traceBody('user-1', 'task-pre');
    const token = grant('user-1', 'task-pre', { operator: 'alice' });
    const response = await handler()({
      action: 'presign',
      grant: token,
      sha256: sha256(body),
      byteLength: body.byteLength,
    });
    if (!response.ok || response.action !== 'presign') throw new Error('expected a presign response');
    const signed = new URL(response.url).searchParams.get('X-Amz-SignedHeaders') ?? '';
    for (const h of ['content-length', 'x-amz-checksum-sha256', 'x-amz-meta-agent-trace-operator']) {
      expect(signed.split(';')).toContain(h);
    }
    const { 'x-amz-meta-agent-trace-operator': _op, ...dropped } = response.headers;
    expect((await put(response.url, body, dropped)).status).toBe(403);
    expect((await put(response.url, body, { ...response.headers })).status).toBe(200);
    const stored = await local.headObject(BUCKET, traceKey({ userId: 'user-1', taskId: 'task-pre' }));
    expect(readAttributionMetadata(stored?.metadata)).toMatchObject({
      source: 'presigned-url',
      operator: 'alice',
    });

    const tooBig = await handler()({
      action: 'presign',
      grant: token,
      sha256: sha256(body),
      byteLength: DEFAULT_MAX_TRACE_OBJECT_BYTES + 1,
    });
    expect(refusal(tooBig).code).toBe('ERR_UPLOAD_TOO_LARGE');
  });
});

describe('the legacy transport', () => {
  it.each([
    ['a single PutObject', 1024 * 1024],
    ['a multipart upload', 0],
  ])('marks its objects unattributed (%s)', async (_how, multipartThresholdBytes) => {
    const key = traceKey({ userId: 'user-1', taskId: `task-legacy-${multipartThresholdBytes}` });
    const transport = s3PutObjectTransport({
      allowBucketWideWrites: true,
      bucket: BUCKET,
      client: s3,
      multipartThresholdBytes,
      retry: false,
    });
    await transport.upload(artifactFromBuffer(key, traceBody('user-1', 'task-legacy')), {});
    const stored = await local.headObject(BUCKET, key);
    expect(stored?.metadata).toEqual({ [ATTRIBUTION_METADATA.source]: 'unattributed' });
    expect(readAttributionMetadata(stored?.metadata)).toEqual({ source: 'unattributed' });
  });
});
