/**
 * The CLI reads S3 objects with their metadata: `inspect` shows the trusted attribution next to
 * the header's claims, and `verify` fails when the header names another user or task.
 */
import {
  LOCAL_S3_ACCESS_KEY_ID,
  LOCAL_S3_SECRET_ACCESS_KEY,
  type LocalS3,
  startLocalS3,
} from '@agent-trace/trace-sdk-testing';
import type { S3Client } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { artifactFromBuffer, s3PutObjectTransport, traceKey } from '../src/index.js';
import { createTraceS3Client, createTraceUploadUrl } from '../src/orchestrator/index.js';
import { handBuiltArtifact, runInProcess, sampleEvents } from './cli-support.js';

const BUCKET = 'cli-attribution';
let local: LocalS3;
let s3: S3Client;
let env: Record<string, string>;

beforeAll(async () => {
  local = await startLocalS3();
  s3 = await createTraceS3Client({
    region: local.region,
    endpoint: local.endpoint,
    forcePathStyle: true,
    credentials: local.credentials,
  });
  env = {
    AWS_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_ACCESS_KEY,
    AWS_REGION: local.region,
    AWS_ENDPOINT_URL_S3: local.endpoint,
  };
});
afterAll(async () => {
  s3.destroy();
  await local.close();
});
afterEach(async () => {
  await local.reset();
});

/** Uploads `bytes` for user-1/task-1 through a URL the orchestrator minted for alice's session. */
async function uploadAsRuntime(bytes: Buffer): Promise<string> {
  const minted = await createTraceUploadUrl({
    s3,
    bucket: BUCKET,
    userId: 'user-1',
    taskId: 'task-1',
    contentLength: bytes.byteLength,
    operator: 'alice',
  });
  const response = await request(minted.url, { method: 'PUT', body: bytes, headers: { ...minted.headers } });
  await response.body.dump();
  expect(response.statusCode).toBe(200);
  return `s3://${BUCKET}/${traceKey({ userId: 'user-1', taskId: 'task-1' })}`;
}

describe('trusted vs claimed in the CLI', () => {
  it('verify passes and inspect shows the trusted attribution when the header agrees', async () => {
    const { bytes } = handBuiltArtifact({
      userId: 'user-1',
      taskId: 'task-1',
      events: sampleEvents('task-1', 5),
    });
    const uri = await uploadAsRuntime(bytes);
    const verify = await runInProcess(['verify', uri], { env });
    expect(verify.code).toBe(0);
    const inspect = await runInProcess(['inspect', uri], { env });
    expect(inspect.stdout).toMatch(
      /trusted\s+user user-1, task task-1, operator alice \(from metadata, presigned-url\)/,
    );
    expect(inspect.stdout).toMatch(/claimed\s+user user-1, task task-1 \(header, written by the runtime\)/);
    const json = JSON.parse((await runInProcess(['inspect', '--json', uri], { env })).stdout);
    expect(json.attribution).toMatchObject({
      status: 'attested',
      trusted: { userId: 'user-1', operator: 'alice' },
    });
  });

  it('verify fails when a runtime uploads a header naming another user than its key and metadata', async () => {
    // The runtime holds a valid URL for its own key but writes a header claiming user-2.
    const { bytes } = handBuiltArtifact({
      userId: 'user-2',
      taskId: 'task-1',
      events: sampleEvents('task-1', 5),
    });
    const uri = await uploadAsRuntime(bytes);
    const verify = await runInProcess(['verify', uri], { env });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(
      'attribution: the header claims user "user-2", the trusted user is "user-1"',
    );
    const inspect = await runInProcess(['inspect', uri], { env });
    expect(inspect.stdout).toMatch(/claimed\s+user user-2/);
    expect(inspect.stdout).toMatch(/MISMATCH\s+the header claims user "user-2"/);
  });

  it('inspect shows no trusted attribution for an object the legacy transport wrote', async () => {
    // A runtime with bucket-wide writes chose this key: it names user-1, but nothing vouches for it.
    const key = traceKey({ userId: 'user-1', taskId: 'task-1' });
    const { bytes } = handBuiltArtifact({
      userId: 'user-1',
      taskId: 'task-1',
      events: sampleEvents('task-1', 2),
    });
    await s3PutObjectTransport({
      allowBucketWideWrites: true,
      bucket: BUCKET,
      client: s3,
      retry: false,
    }).upload(artifactFromBuffer(key, bytes), {});
    const uri = `s3://${BUCKET}/${key}`;
    const inspect = await runInProcess(['inspect', uri], { env });
    expect(inspect.stdout).toMatch(/trusted\s+none \(written by the legacy transport: unattributed/);
    expect(inspect.stdout).not.toMatch(/from the key/);
    const json = JSON.parse((await runInProcess(['inspect', '--json', uri], { env })).stdout);
    expect(json.attribution).toMatchObject({ status: 'unattributed', claimed: { userId: 'user-1' } });
    expect(json.attribution.trusted).toBeUndefined();
  });

  it('inspect escapes terminal controls in the claimed attribution', async () => {
    const hostile = '\u001b]0;owned\u0007user-2\u202e';
    const { bytes } = handBuiltArtifact({
      userId: hostile,
      taskId: 'task-1',
      events: sampleEvents('task-1', 1),
    });
    const uri = await uploadAsRuntime(bytes);
    const inspect = await runInProcess(['inspect', uri], { env });
    const claimed = inspect.stdout
      .split('\n')
      .filter((l) => l.startsWith('claimed') || l.startsWith('MISMATCH'));
    expect(claimed.length).toBeGreaterThan(0);
    for (const line of claimed) expect(line).not.toMatch(/[\u001b\u0007\u202e]/);
  });
});
