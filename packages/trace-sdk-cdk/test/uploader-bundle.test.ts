/**
 * The prebuilt uploader bundle (dist/assets/uploader/index.mjs, what the Lambda asset ships),
 * run as Lambda would run it, in its own process, against a SigV4-verifying local S3 and a local
 * Secrets Manager: it reads the grant keys at cold start, stores a granted trace at the grant's
 * key, picks up a rotated key on a warm instance, and refuses forged grants.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createUploadGrant } from '@agent-trace/trace-sdk/orchestrator';
import { type LocalS3, startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledLambdaDir } from '../src/assets.js';
import { FakeSecretsManager } from './fake-secrets-manager.js';

const BUCKET = 'traces-bundle-test';
const K0 = randomBytes(32).toString('base64url');
const K1 = randomBytes(32).toString('base64url');
const RUNNER = fileURLToPath(new URL('./fixtures/lambda-runner.ts', import.meta.url));

let s3: LocalS3;
let sm: FakeSecretsManager;
let closeSm: () => Promise<void>;
let lambda: ChildProcess;
let nextId = 0;

function invoke(event: unknown): Promise<Record<string, unknown>> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    const onMessage = (m: { id?: number; response?: Record<string, unknown>; error?: string }) => {
      if (m.id !== id) return;
      lambda.off('message', onMessage);
      if (m.error !== undefined) reject(new Error(m.error));
      else resolve(m.response!);
    };
    lambda.on('message', onMessage);
    lambda.send({ id, event });
  });
}

/** A trace body the uploader accepts: gzip, first line a header naming the grant's trace, then padding. */
function traceBody(userId: string, taskId: string, padBytes = 0): Buffer {
  const header = JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: taskId, user_id: userId });
  const pad = JSON.stringify({ event: 'E', task_id: taskId, pad: randomBytes(padBytes).toString('hex') });
  return gzipSync(`${header}\n${pad}\n`);
}

function putRequest(grant: string, body: Buffer) {
  return {
    action: 'put',
    grant,
    sha256: createHash('sha256').update(body).digest('hex'),
    byteLength: body.byteLength,
    body: body.toString('base64'),
  };
}

const grantFor = (userId: string, taskId: string, key: { id: string; secret: string }) =>
  // The uploader's audience is its bucket (createUploaderHandler's default).
  createUploadGrant({ userId, taskId, expiresIn: 600, key, audience: BUCKET });

beforeAll(async () => {
  s3 = await startLocalS3();
  await s3.createBucket(BUCKET);
  sm = new FakeSecretsManager(JSON.stringify({ current: 'k0', k0: K0 }));
  const served = await sm.listen();
  closeSm = served.close;
  const { accessKeyId, secretAccessKey } = s3.credentials;
  lambda = fork(RUNNER, [`${bundledLambdaDir('uploader')}index.mjs`], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: served.endpoint,
      TRACE_ARTIFACTS_BUCKET_NAME: BUCKET,
      TRACE_GRANT_KEYS_SECRET_ARN: sm.arn,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    lambda.once('message', () => resolve());
    lambda.once('exit', (code) => reject(new Error(`the function process exited with ${code}`)));
  });
});

afterAll(async () => {
  lambda?.kill();
  await closeSm?.();
  await s3?.close();
});

describe('the bundled uploader function', () => {
  it('reads the grant keys at cold start and stores a granted trace at the grant’s key', async () => {
    const body = traceBody('alice', 'task-1', 2048);
    const response = await invoke(putRequest(grantFor('alice', 'task-1', { id: 'k0', secret: K0 }), body));
    expect(response).toMatchObject({ ok: true, action: 'put', key: 'traces/alice/task-1.jsonl.gz' });
    const stored = await s3.getObject(BUCKET, 'traces/alice/task-1.jsonl.gz');
    expect(stored?.body.equals(body)).toBe(true);
    expect(stored?.contentType).toBe('application/gzip');
    expect(sm.calls).toEqual(['GetSecretValue']);
  });

  it('accepts a grant signed with a rotated-in key on the same warm instance', async () => {
    sm.setCurrent(JSON.stringify({ current: 'k1', k1: K1, k0: K0 }));
    await new Promise((r) => setTimeout(r, 1_100)); // past the refetch rate limit
    const response = await invoke(
      putRequest(grantFor('alice', 'task-2', { id: 'k1', secret: K1 }), traceBody('alice', 'task-2', 100)),
    );
    expect(response).toMatchObject({ ok: true, key: 'traces/alice/task-2.jsonl.gz' });
    expect(sm.calls).toEqual(['GetSecretValue', 'GetSecretValue']);
  });

  it('refuses a forged grant and stores nothing', async () => {
    const forged = grantFor('bob', 'task-3', { id: 'k1', secret: randomBytes(32).toString('base64url') });
    const response = await invoke(putRequest(forged, traceBody('bob', 'task-3', 100)));
    expect(response).toMatchObject({ ok: false, code: 'ERR_GRANT_SIGNATURE', retryable: false });
    expect(await s3.getObject(BUCKET, 'traces/bob/task-3.jsonl.gz')).toBeUndefined();
  });

  it('answers presign with a URL for the grant’s key only', async () => {
    const body = traceBody('carol', 'task-4', 4096);
    const { body: _inline, ...request } = putRequest(
      grantFor('carol', 'task-4', { id: 'k1', secret: K1 }),
      body,
    );
    const response = await invoke({ ...request, action: 'presign' });
    expect(response).toMatchObject({ ok: true, action: 'presign', key: 'traces/carol/task-4.jsonl.gz' });
    const put = await fetch(response.url as string, {
      method: 'PUT',
      headers: response.headers as Record<string, string>,
      body,
    });
    expect(put.status).toBe(200);
    expect((await s3.getObject(BUCKET, 'traces/carol/task-4.jsonl.gz'))?.body.equals(body)).toBe(true);
  });
});
