/**
 * The commands that move traces: `presign`, `upload` (every transport), `cat s3://` and
 * `spool flush`, against the SigV4-verifying local S3 from @agent-trace/trace-sdk-testing, with
 * artifacts recorded by the real recorder.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  LOCAL_S3_ACCESS_KEY_ID,
  LOCAL_S3_SECRET_ACCESS_KEY,
  type LocalS3,
  startLocalLambda,
  startLocalS3,
} from '@agent-trace/trace-sdk-testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UploadError } from '../src/errors.js';
import { traceKey } from '../src/key.js';
import { createUploaderHandler } from '../src/lambda/handler.js';
import { createUploadGrant } from '../src/protocol/grant.js';
import { createTraceS3Client } from '../src/protocol/presign.js';
import { createTraceRecorder } from '../src/record/recorder.js';
import type { TraceTransport } from '../src/upload/types.js';
import { runInProcess, tempDir } from './cli-support.js';

const BUCKET = 'trace-artifacts';
const USER = '3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41';
const TASK = '01JD4Q9Z6XKQ2V8N5R3T7W1Y0M';
const KEY = traceKey({ userId: USER, taskId: TASK });

let s3: LocalS3;
let env: Record<string, string>;
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  s3 = await startLocalS3();
  env = {
    AWS_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_ACCESS_KEY,
    AWS_REGION: s3.region,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
  };
});
afterAll(async () => {
  await s3.close();
});
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  cleanup();
  vi.unstubAllEnvs();
  await s3.reset();
});

/** A transport that is always down, so `finish` keeps the artifact in the spool. */
const downTransport: TraceTransport = {
  name: 'down',
  upload: async () => {
    throw new UploadError('ERR_UPLOAD_NETWORK', 'the endpoint is down', {
      retryable: false,
      transport: 'down',
    });
  },
};

/** Records a small real trace and returns the artifact file the file transport wrote. */
async function recordArtifact(
  userId = USER,
  taskId = TASK,
  turns = 20,
): Promise<{ path: string; bytes: Buffer }> {
  const out = join(dir, 'recorded');
  const { fileTransport } = await import('../src/upload/transports/file.js');
  const rec = createTraceRecorder({
    userId,
    taskId,
    transport: fileTransport({ dir: out }),
    spoolDir: join(dir, 'rec-spool'),
  });
  for (let turn = 1; turn <= turns; turn++) {
    rec.recordTurn({
      turn,
      model: 'claude-sonnet',
      text: `Listing the repository, step ${turn}`,
      toolCalls: [{ name: 'ls', input: { path: '.' } }],
    });
    rec.recordPolicyDecision({
      toolName: 'bash',
      allowed: turn % 2 === 0,
      reason: 'network egress',
      durationMs: 3,
    });
  }
  const result = await rec.finish();
  expect(result.status).toBe('uploaded');
  const path = join(out, traceKey({ userId, taskId }));
  return { path, bytes: readFileSync(path) };
}

async function presign(userId = USER, taskId = TASK): Promise<string> {
  const run = await runInProcess(['presign', '--bucket', BUCKET, '--user', userId, '--task', taskId], {
    env,
  });
  expect(run.code).toBe(0);
  return run.stdout.trim();
}

describe('presign', () => {
  it('prints only the URL on stdout and a secret warning naming the key on stderr', async () => {
    const run = await runInProcess(
      ['presign', '--bucket', BUCKET, '--user', USER, '--task', TASK, '--expires', '120'],
      { env },
    );
    expect(run.code).toBe(0);
    const url = new URL(run.stdout.trim());
    expect(run.stdout).toBe(`${url.href}\n`);
    expect(decodeURIComponent(url.pathname)).toBe(`/${BUCKET}/${KEY}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toContain('content-type');
    expect(run.stderr).toContain(`write ${KEY} until`);
    expect(run.stderr).toContain('secret');
    expect(run.stderr).not.toContain('X-Amz-Signature');
  });

  it('exits 2 on invalid ids and a bad --expires', async () => {
    const bad = await runInProcess(['presign', '--bucket', BUCKET, '--user', 'a/b', '--task', TASK], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/\(ERR_TRACE_KEY\)\n$/);
    const expires = await runInProcess(
      ['presign', '--bucket', BUCKET, '--user', USER, '--task', TASK, '--expires', '1h'],
      { env },
    );
    expect(expires.code).toBe(2);
    expect(expires.stderr).toBe('agent-trace: --expires expects a whole number of seconds (ERR_USAGE)\n');
  });
});

describe('upload', () => {
  it('uploads a recorded artifact through a presigned URL minted by presign', async () => {
    const { path, bytes } = await recordArtifact();
    const url = await presign();
    const run = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'presigned-put',
      '--url',
      url,
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const receipt = JSON.parse(run.stdout);
    expect(receipt).toMatchObject({ key: KEY, transport: 'presigned-put', bytes: bytes.length, attempts: 1 });
    expect(run.stdout).not.toContain('X-Amz-Signature');
    const stored = await s3.getObject(BUCKET, KEY);
    expect(stored?.body.equals(bytes)).toBe(true);
    expect(stored?.contentType).toBe('application/gzip');
    expect(stored?.contentEncoding).toBeUndefined();
  });

  it('takes the transport from the environment, as an agent does', async () => {
    const { path, bytes } = await recordArtifact();
    const url = await presign();
    const run = await runInProcess(['upload', path, '--user', USER, '--task', TASK], {
      env: { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: url },
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^uploaded ${KEY} to s3://${BUCKET}/${KEY} via presigned-put .*1 attempt\\)\\n`),
    );
    expect((await s3.getObject(BUCKET, KEY))?.body.equals(bytes)).toBe(true);
  });

  it('retries through 503 SlowDown and stores exactly one object', async () => {
    const { path, bytes } = await recordArtifact();
    const url = await presign();
    s3.faults.failNext(2, { status: 503, code: 'SlowDown', match: { method: 'PUT' } });
    const run = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'presigned-put',
      '--url',
      url,
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).attempts).toBe(3);
    expect(await s3.listObjects(BUCKET)).toHaveLength(1);
    expect((await s3.getObject(BUCKET, KEY))?.body.equals(bytes)).toBe(true);
  });

  it('fails with exit 1 when the URL is for another key, and never prints the URL query', async () => {
    const { path } = await recordArtifact();
    const foreign = await presign('someone-else', TASK);
    const run = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'presigned-put',
      '--url',
      foreign,
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^agent-trace: .+ \(ERR_UPLOAD_[A-Z_]+\)\n$/);
    const query = new URL(foreign).search.slice(1);
    expect(run.stderr).not.toContain(query);
    expect(run.stderr).not.toContain(new URL(foreign).searchParams.get('X-Amz-Signature')!);
    expect(await s3.listObjects(BUCKET)).toEqual([]);
  });

  it('uploads with the legacy s3-put-object transport', async () => {
    const { path, bytes } = await recordArtifact();
    // The transport's default S3 client reads credentials from the process environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_S3_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_S3_SECRET_ACCESS_KEY);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const run = await runInProcess([
        'upload',
        path,
        '--user',
        USER,
        '--task',
        TASK,
        '--transport',
        's3-put-object',
        '--allow-bucket-wide-put',
        '--bucket',
        BUCKET,
        '--endpoint',
        s3.endpoint,
        '--region',
        s3.region,
      ]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      // The receipt says the upload used the bucket-wide grant.
      expect(run.stdout).toContain('legacy: the runtime used a bucket-wide s3:PutObject grant');
    } finally {
      process.off('warning', onWarning);
    }
    expect((await s3.getObject(BUCKET, KEY))?.body.equals(bytes)).toBe(true);
    // The legacy transport warns once per process, pointing to the migration guide.
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toContain('AGENT_TRACE_S3_PUT_OBJECT');
  });

  it('uploads through the uploader Lambda with a grant, and refuses a grant for another task', async () => {
    const { path, bytes } = await recordArtifact();
    const secret = 'grant-secret-for-tests-0123456789abcdef';
    const handlerS3 = await createTraceS3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: s3.credentials,
      forcePathStyle: true,
    });
    const lambda = await startLocalLambda({
      handler: createUploaderHandler({
        bucket: BUCKET,
        s3: handlerS3,
        grantKeys: { k1: secret },
        log: false,
      }),
    });
    // The transport's default Lambda client reads credentials from the process environment.
    vi.stubEnv('AWS_ACCESS_KEY_ID', lambda.credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', lambda.credentials.secretAccessKey);
    try {
      const grantFor = (taskId: string) =>
        createUploadGrant({
          userId: USER,
          taskId,
          expiresIn: 600,
          key: { id: 'k1', secret },
          audience: BUCKET,
        });
      const viaLambda = (grant: string) =>
        runInProcess(
          [
            'upload',
            path,
            '--user',
            USER,
            '--task',
            TASK,
            '--transport',
            'lambda',
            '--function',
            lambda.functionName,
          ],
          {
            env: {
              TRACE_UPLOAD_GRANT: grant,
              AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
              AWS_REGION: lambda.region,
            },
          },
        );

      const foreignGrant = grantFor('another-task');
      const refused = await viaLambda(foreignGrant);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/\(ERR_UPLOAD_REJECTED\)\n$/);
      expect(refused.stderr).not.toContain(foreignGrant);
      expect(await s3.listObjects(BUCKET)).toEqual([]);

      const run = await viaLambda(grantFor(TASK));
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`uploaded ${KEY}`);
      expect((await s3.getObject(BUCKET, KEY))?.body.equals(bytes)).toBe(true);
    } finally {
      await lambda.close();
      handlerS3.destroy();
    }
  });

  it('uploads with the file transport and shows a progress bar for large files on a terminal', async () => {
    const big = join(dir, 'big.bin');
    writeFileSync(big, randomBytes(5 * 1024 * 1024));
    const out = join(dir, 'out');
    const onTty = await runInProcess(
      ['upload', big, '--user', USER, '--task', TASK, '--transport', 'file', '--dir', out, '--force'],
      { tty: true },
    );
    expect(onTty.code).toBe(0);
    expect(onTty.stderr).toMatch(/\ruploading \[#+\] 100% 5\.0 MiB\/5\.0 MiB/);
    expect(onTty.stderr.endsWith('\n')).toBe(true);
    expect(readFileSync(join(out, KEY)).equals(readFileSync(big))).toBe(true);

    const piped = await runInProcess(
      ['upload', big, '--user', USER, '--task', TASK, '--transport', 'file', '--dir', out, '--force'],
      { tty: false },
    );
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    const forced = await runInProcess([
      'upload',
      big,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'file',
      '--dir',
      out,
      '--force',
      '--progress',
    ]);
    expect(forced.stderr).toContain('100%');
  });

  it('refuses a file whose header names another task unless --force', async () => {
    const { path } = await recordArtifact(USER, 'other-task');
    const out = join(dir, 'out');
    const run = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'file',
      '--dir',
      out,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('records task "other-task", not "01JD4Q9Z6XKQ2V8N5R3T7W1Y0M"');
    expect(existsSync(join(out, KEY))).toBe(false);
    const forced = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'file',
      '--dir',
      out,
      '--force',
    ]);
    expect(forced.code).toBe(0);
  });

  it('exits 2 naming the variable and the flag when the transport is not configured', async () => {
    const { path } = await recordArtifact();
    const none = await runInProcess(['upload', path, '--user', USER, '--task', TASK]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^agent-trace: TRACE_TRANSPORT is required.* \(or pass --transport\) \(ERR_TRACE_CONFIG\)\n$/,
    );
    const noUrl = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'presigned-put',
    ]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain(
      'TRACE_UPLOAD_URL is required when TRACE_TRANSPORT=presigned-put (or pass --url)',
    );
    const badKind = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'carrier-pigeon',
    ]);
    expect(badKind.code).toBe(2);
  });
});

describe('cat s3://', () => {
  it('reads an object through --endpoint or AWS_ENDPOINT_URL_S3', async () => {
    const { path } = await recordArtifact();
    const url = await presign();
    const upload = await runInProcess([
      'upload',
      path,
      '--user',
      USER,
      '--task',
      TASK,
      '--transport',
      'presigned-put',
      '--url',
      url,
    ]);
    expect(upload.code).toBe(0);
    const local = await runInProcess(['cat', path]);

    const viaEnv = await runInProcess(['cat', `s3://${BUCKET}/${KEY}`], { env });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toBe(local.stdout);
    expect(viaEnv.stdout.split('\n')[0]).toContain('"event":"TRAJECTORY_ARTIFACT_HEADER"');

    const { AWS_ENDPOINT_URL_S3: _endpoint, ...credentialsOnly } = env;
    const viaFlag = await runInProcess(
      ['cat', '--events-only', `s3://${BUCKET}/${KEY}`, '--endpoint', s3.endpoint],
      {
        env: credentialsOnly,
      },
    );
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.stdout.split('\n').filter(Boolean)).toHaveLength(40);
  });

  it('exits 3 with the S3 error code for a missing object', async () => {
    await s3.createBucket(BUCKET);
    const run = await runInProcess(['cat', `s3://${BUCKET}/traces/nobody/none.jsonl.gz`], { env });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/\(NoSuchKey\)\n$/);
  });
});

describe('spool flush', () => {
  it('moves a spooled artifact into the local S3 and empties the spool', async () => {
    const spoolDir = join(dir, 'spool');
    const rec = createTraceRecorder({ userId: USER, taskId: TASK, transport: downTransport, spoolDir });
    rec.recordTurn({ turn: 1, model: 'claude-sonnet', text: 'hello' });
    const failed = await rec.finish();
    expect(failed.status).toBe('failed');
    expect(failed.spooledPath).toBeDefined();
    const spooledBytes = readFileSync(failed.spooledPath!);

    const listed = await runInProcess(['spool', 'list', '--spool-dir', spoolDir]);
    expect(listed.stdout).toContain(`1 spooled artifact\n  ${KEY}`);

    const url = await presign();
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      spoolDir,
      '--transport',
      'presigned-put',
      '--url',
      url,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${spoolDir}: uploaded 1, failed 0, skipped 0\n  uploaded ${KEY} (2 attempts)\n`);
    expect((await s3.getObject(BUCKET, KEY))?.body.equals(spooledBytes)).toBe(true);
    expect(readdirSync(spoolDir).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('exits 1 and keeps the artifact when the upload fails', async () => {
    const spoolDir = join(dir, 'spool');
    const rec = createTraceRecorder({ userId: USER, taskId: TASK, transport: downTransport, spoolDir });
    rec.recordTurn({ turn: 1, model: 'claude-sonnet', text: 'hello' });
    const failed = await rec.finish();
    const foreign = await presign('someone-else', TASK);
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      spoolDir,
      '--transport',
      'presigned-put',
      '--url',
      foreign,
      '--json',
    ]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.uploaded).toEqual([]);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0].key).toBe(KEY);
    expect(run.stdout).not.toContain(new URL(foreign).searchParams.get('X-Amz-Signature')!);
    expect(run.stderr).toContain('(ERR_SPOOL_FLUSH)');
    expect(existsSync(failed.spooledPath!)).toBe(true);
    expect(await s3.listObjects(BUCKET)).toEqual([]);
  });

  it('reports an empty spool as success', async () => {
    mkdirSync(join(dir, 'empty'));
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      join(dir, 'empty'),
      '--transport',
      'file',
      '--dir',
      join(dir, 'out'),
      '--user',
      USER,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('uploaded 0, failed 0, skipped 0');
  });

  it('refuses a transport that can write any key without an explicit --user scope', async () => {
    mkdirSync(join(dir, 'empty'));
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      join(dir, 'empty'),
      '--transport',
      'file',
      '--dir',
      join(dir, 'out'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--transport file can write any key');
  });

  it('delivers only the --user scope through a file transport; a planted entry for another user stays', async () => {
    const spoolDir = join(dir, 'spool');
    for (const userId of [USER, 'victim-user']) {
      const rec = createTraceRecorder({ userId, taskId: TASK, transport: downTransport, spoolDir });
      rec.recordTurn({ turn: 1, model: 'claude-sonnet', text: `for ${userId}` });
      expect((await rec.finish()).status).toBe('failed');
    }
    const out = join(dir, 'out');
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      spoolDir,
      '--transport',
      'file',
      '--dir',
      out,
      '--user',
      USER,
      '--json',
    ]);
    const report = JSON.parse(run.stdout);
    expect(report.uploaded.map((u: { key: string }) => u.key)).toEqual([KEY]);
    expect(report.skipped).toEqual([
      expect.objectContaining({ reason: 'out-of-scope', key: `traces/victim-user/${TASK}.jsonl.gz` }),
    ]);
    expect(existsSync(join(out, 'traces', 'victim-user'))).toBe(false);
  });
});
