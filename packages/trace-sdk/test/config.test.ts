import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  artifactFromBuffer,
  ConfigError,
  type TransportConfig,
  transportFromConfig,
  transportFromEnv,
} from '../src/index.js';
import { createUploaderHandler } from '../src/lambda/index.js';
import { createTraceS3Client, createUploadGrant } from '../src/orchestrator/index.js';
import {
  type LocalLambdaServer,
  type PutServer,
  presignedLikeUrl,
  startLambdaServer,
  startPutServer,
  TEST_CREDENTIALS,
} from './transport-support.js';

const KEY = 'traces/user-1/task-1.jsonl.gz';
/** A trace body for KEY: the uploader Lambda stores only gzip whose header names the grant's task. */
const traceBody = (padding: number) =>
  Buffer.concat([
    gzipSync(
      `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-1', user_id: 'user-1' })}\n`,
    ),
    gzipSync(randomBytes(padding)),
  ]);
const SECRET = 's'.repeat(40);
const grant = () =>
  createUploadGrant({
    userId: 'user-1',
    taskId: 'task-1',
    expiresIn: 600,
    key: { id: 'k1', secret: SECRET },
    audience: 'trace-bucket',
  });

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('transportFromEnv: bad configurations fail at construction, naming the variable', () => {
  const signed = `https://bucket.s3.amazonaws.com/${KEY}?X-Amz-Signature=${'e'.repeat(64)}&X-Amz-Credential=AKID`;
  it.each([
    ['TRACE_TRANSPORT', {}],
    ['TRACE_TRANSPORT', { TRACE_TRANSPORT: 'carrier-pigeon' }],
    ['TRACE_UPLOAD_URL', { TRACE_TRANSPORT: 'presigned-put' }],
    ['TRACE_UPLOAD_URL', { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: '  ' }],
    [
      'TRACE_UPLOAD_URL',
      { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: signed.replace('https:', 'http:') },
    ],
    [
      'TRACE_UPLOAD_URL',
      { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: 'bucket/key?X-Amz-Signature=1' },
    ],
    ['TRACE_UPLOADER_FUNCTION', { TRACE_TRANSPORT: 'lambda', TRACE_UPLOAD_GRANT: 'x.y' }],
    ['TRACE_UPLOAD_GRANT', { TRACE_TRANSPORT: 'lambda', TRACE_UPLOADER_FUNCTION: 'fn' }],
    [
      'TRACE_UPLOAD_GRANT',
      { TRACE_TRANSPORT: 'lambda', TRACE_UPLOADER_FUNCTION: 'fn', TRACE_UPLOAD_GRANT: 'secret-ish' },
    ],
    [
      'AWS_ENDPOINT_URL_LAMBDA',
      {
        TRACE_TRANSPORT: 'lambda',
        TRACE_UPLOADER_FUNCTION: 'fn',
        TRACE_UPLOAD_GRANT: grant(),
        AWS_ENDPOINT_URL_LAMBDA: 'http://lambda.example.com',
      },
    ],
    ['AWS_REGION', { TRACE_TRANSPORT: 'lambda', TRACE_UPLOADER_FUNCTION: 'fn', TRACE_UPLOAD_GRANT: grant() }],
    [
      'AWS_ENDPOINT_URL_LAMBDA',
      {
        TRACE_TRANSPORT: 'lambda',
        TRACE_UPLOADER_FUNCTION: 'fn',
        TRACE_UPLOAD_GRANT: grant(),
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_LAMBDA: 'localhost:4566',
      },
    ],
    [
      'TRACE_ALLOW_BUCKET_WIDE_PUT',
      { TRACE_TRANSPORT: 's3-put-object', TRACE_ARTIFACTS_BUCKET_NAME: 'bucket' },
    ],
    [
      'TRACE_ALLOW_BUCKET_WIDE_PUT',
      {
        TRACE_TRANSPORT: 's3-put-object',
        TRACE_ARTIFACTS_BUCKET_NAME: 'bucket',
        TRACE_ALLOW_BUCKET_WIDE_PUT: 'yes',
        AWS_REGION: 'us-east-1',
      },
    ],
    ['TRACE_ARTIFACTS_BUCKET_NAME', { TRACE_TRANSPORT: 's3-put-object', TRACE_ALLOW_BUCKET_WIDE_PUT: '1' }],
    [
      'TRACE_ARTIFACTS_BUCKET_NAME',
      {
        TRACE_TRANSPORT: 's3-put-object',
        TRACE_ALLOW_BUCKET_WIDE_PUT: '1',
        TRACE_ARTIFACTS_BUCKET_NAME: 'Secret_Bucket_Name',
      },
    ],
    [
      'AWS_ENDPOINT_URL',
      {
        TRACE_TRANSPORT: 's3-put-object',
        TRACE_ALLOW_BUCKET_WIDE_PUT: '1',
        TRACE_ARTIFACTS_BUCKET_NAME: 'bucket',
        AWS_ENDPOINT_URL: 'nope',
      },
    ],
    [
      'AWS_REGION',
      {
        TRACE_TRANSPORT: 's3-put-object',
        TRACE_ALLOW_BUCKET_WIDE_PUT: '1',
        TRACE_ARTIFACTS_BUCKET_NAME: 'bucket',
      },
    ],
    ['TRACE_DIR', { TRACE_TRANSPORT: 'file' }],
  ])('%s', (variable, env) => {
    const err = configError(() => transportFromEnv(env as Record<string, string>));
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(variable);
    // Never echo a URL's query or a grant.
    expect(err.message).not.toContain('X-Amz-Signature');
    expect(err.message).not.toContain('e'.repeat(64));
    expect(err.message).not.toContain('secret-ish');
    expect(err.message).not.toContain('Secret_Bucket_Name');
    expect(err.message).not.toContain(grant().split('.')[1]);
  });

  it('says what an endpoint without a scheme lacks', () => {
    const err = configError(() =>
      transportFromEnv({
        TRACE_TRANSPORT: 'lambda',
        TRACE_UPLOADER_FUNCTION: 'fn',
        TRACE_UPLOAD_GRANT: grant(),
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_LAMBDA: 'localhost:4566',
      }),
    );
    expect(err.message).toBe(
      'AWS_ENDPOINT_URL_LAMBDA must be an absolute URL with a scheme, e.g. http://localhost:4566 (got no "http://" or "https://")',
    );
  });

  it('s3PutObjectTransport refuses to build without the explicit bucket-wide opt-in', () => {
    const err = configError(() =>
      transportFromConfig({ transport: 's3-put-object', bucket: 'bucket' } as unknown as TransportConfig),
    );
    expect(err.variable).toBe('allowBucketWideWrites');
    expect(err.message).toContain('TRACE_ALLOW_BUCKET_WIDE_PUT=1');
  });

  it('transportFromConfig rejects an unknown transport', () => {
    const err = configError(() => transportFromConfig({ transport: 'ftp' } as unknown as TransportConfig));
    expect(err.variable).toBe('transport');
  });
});

describe('an agent switches among all four transports by environment alone', () => {
  let s3Server: PutServer;
  let lambda: LocalLambdaServer;
  let s3: S3Client;
  let dir: string;
  beforeAll(async () => {
    s3Server = await startPutServer();
    s3 = await createTraceS3Client({
      region: 'us-east-1',
      endpoint: s3Server.origin,
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    lambda = await startLambdaServer(
      createUploaderHandler({ bucket: 'trace-bucket', s3, grantKeys: { k1: SECRET }, log: false }),
    );
    dir = await mkdtemp(join(tmpdir(), 'config-env-'));
  });
  afterAll(async () => {
    s3.destroy();
    await lambda.close();
    await s3Server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const credentials = {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  };

  it('presigned-put, lambda, s3-put-object and file each store the same artifact', async () => {
    const envs: Record<string, Record<string, string>> = {
      'presigned-put': {
        TRACE_TRANSPORT: 'presigned-put',
        TRACE_UPLOAD_URL: presignedLikeUrl(s3Server.origin, 'trace-bucket', KEY),
      },
      lambda: {
        TRACE_TRANSPORT: 'lambda',
        TRACE_UPLOADER_FUNCTION: 'trace-uploader',
        TRACE_UPLOAD_GRANT: grant(),
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
      },
      's3-put-object': {
        TRACE_TRANSPORT: 's3-put-object',
        TRACE_ALLOW_BUCKET_WIDE_PUT: '1',
        TRACE_ARTIFACTS_BUCKET_NAME: 'trace-bucket',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: s3Server.origin,
      },
      file: { TRACE_TRANSPORT: 'file', TRACE_DIR: dir },
    };
    const savedEnv = { ...process.env };
    Object.assign(process.env, credentials);
    try {
      for (const [kind, env] of Object.entries(envs)) {
        const body = traceBody(1000);
        s3Server.objects.clear();
        const transport = transportFromEnv(env, { retry: false });
        expect(transport.name).toBe(kind);
        const receipt = await transport.upload(artifactFromBuffer(KEY, body), {});
        expect(receipt.key).toBe(KEY);
        if (kind === 'file') {
          expect((await readFile(join(dir, ...KEY.split('/')))).equals(body)).toBe(true);
        } else {
          expect(receipt.uri).toBe(`s3://trace-bucket/${KEY}`);
          expect(s3Server.objects.get(`/trace-bucket/${KEY}`)?.equals(body)).toBe(true);
        }
      }
    } finally {
      for (const name of Object.keys(credentials)) if (!(name in savedEnv)) delete process.env[name];
    }
  });

  it('transportFromConfig builds the same transports from objects', async () => {
    const client = new LambdaClient({
      region: 'us-east-1',
      endpoint: lambda.endpoint,
      credentials: TEST_CREDENTIALS,
    });
    try {
      const t = transportFromConfig({
        transport: 'lambda',
        functionName: 'trace-uploader',
        client,
        grant: grant(),
      });
      const body = traceBody(10);
      await t.upload(artifactFromBuffer(KEY, body), {});
      expect(s3Server.objects.get(`/trace-bucket/${KEY}`)?.equals(body)).toBe(true);
      expect(transportFromConfig({ transport: 'file', dir }).name).toBe('file');
    } finally {
      client.destroy();
    }
  });
});

describe('transportFromEnv: variables of another transport', () => {
  it('warns once, naming the ignored variables and never their values', () => {
    const warnings: string[] = [];
    const onWarning = (message: string) => warnings.push(message);
    const env = {
      TRACE_TRANSPORT: 'file',
      TRACE_DIR: '/tmp/agent-trace-config-test',
      TRACE_UPLOAD_URL: 'https://bucket.s3.amazonaws.com/k?X-Amz-Signature=abc',
      TRACE_UPLOAD_GRANT: 'grant-value',
    };
    transportFromEnv(env, { onWarning });
    transportFromEnv(env, { onWarning });
    expect(warnings).toEqual([
      'TRACE_TRANSPORT=file ignores TRACE_UPLOAD_URL, TRACE_UPLOAD_GRANT, which are set; unset them or choose the transport they configure',
    ]);
  });
});
