import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  type LocalLambda,
  type LocalS3,
  startLocalLambda,
  startLocalS3,
} from '@agent-trace/trace-sdk-testing';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  artifactFromBuffer,
  ConfigError,
  type LambdaUploaderOptions,
  lambdaUploaderTransport,
  type RetryPolicy,
  type TraceArtifact,
  traceKey,
  UploadError,
} from '../src/index.js';
import { createUploaderHandler, LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES } from '../src/lambda/index.js';
import { createTraceS3Client, createUploadGrant } from '../src/orchestrator/index.js';
import { inlineRequestBytes } from '../src/protocol/lambda-messages.js';
import {
  type LocalLambdaServer,
  type PutServer,
  startLambdaServer,
  startPutServer,
  TEST_CREDENTIALS,
} from './transport-support.js';

const KEYS = { k1: 'k'.repeat(40) };
const BUCKET = 'trace-bucket';

/**
 * A valid gzip trace for KEY (header naming user-1/task-1, then random filler in a second member)
 * of exactly `n` bytes, or of its smallest size when `n` is smaller. Stored (level 0) members make
 * the size exact: the header line's padding absorbs the difference.
 */
function traceBytes(n: number): Buffer {
  const line = (pad: number) =>
    `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-1', user_id: 'user-1', pad: 'x'.repeat(pad) })}\n`;
  const stored = (data: string | Buffer) => gzipSync(data, { level: 0 });
  const smallest = stored(line(0)).byteLength;
  if (n <= smallest + 1024) return stored(line(Math.max(0, n - smallest)));
  const filler = stored(randomBytes(n - smallest - 1024));
  const body = Buffer.concat([stored(line(n - smallest - filler.byteLength)), filler]);
  if (body.byteLength !== n) throw new Error(`traceBytes built ${body.byteLength} bytes, not ${n}`);
  return body;
}
const FUNCTION = 'trace-uploader';
const fastRetry: RetryPolicy = { sleep: async () => {}, random: () => 0 };

let s3Server: PutServer;
let lambda: LocalLambdaServer;
let s3: S3Client;
let client: LambdaClient;
let handlerOptions: { maxObjectBytes?: number; maxInlineBytes?: number; now?: () => number } = {};

beforeAll(async () => {
  s3Server = await startPutServer();
  s3 = await createTraceS3Client({
    region: 'us-east-1',
    endpoint: s3Server.origin,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
  lambda = await startLambdaServer((event) =>
    createUploaderHandler({ bucket: BUCKET, s3, grantKeys: KEYS, log: false, ...handlerOptions })(event),
  );
  client = new LambdaClient({
    region: 'us-east-1',
    endpoint: lambda.endpoint,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  s3.destroy();
  await lambda.close();
  await s3Server.close();
});
afterEach(() => {
  handlerOptions = {};
  lambda.invocations.length = 0;
  lambda.replies.length = 0;
  s3Server.objects.clear();
  s3Server.replies.length = 0;
});

const grantFor = (userId = 'user-1', taskId = 'task-1', expiresIn = 600) =>
  createUploadGrant({ userId, taskId, expiresIn, key: { id: 'k1', secret: KEYS.k1 }, audience: BUCKET });

const transport = (over: Partial<LambdaUploaderOptions> = {}) =>
  lambdaUploaderTransport({ functionName: FUNCTION, client, grant: grantFor(), retry: fastRetry, ...over });

const KEY = traceKey({ userId: 'user-1', taskId: 'task-1' });
const stored = () => s3Server.objects.get(`/${BUCKET}/${KEY}`);
const actions = () => lambda.invocations.map((e) => (e as { action: string }).action);

const grantsSeen: string[] = [];
const errorsSeen: unknown[] = [];
async function failure(p: Promise<unknown>): Promise<UploadError> {
  const err = await p.then(
    () => {
      throw new Error('expected the upload to fail');
    },
    (e: unknown) => e,
  );
  errorsSeen.push(err);
  expect(err).toBeInstanceOf(UploadError);
  return err as UploadError;
}

describe('lambdaUploaderTransport', () => {
  it('sends a small body inline and the handler stores it at the grant key', async () => {
    const body = traceBytes(20_000);
    const receipt = await transport().upload(artifactFromBuffer(KEY, body), {});
    expect(receipt).toEqual({
      key: KEY,
      uri: `s3://${BUCKET}/${KEY}`,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      attempts: 1,
    });
    expect(actions()).toEqual(['put']);
    expect(stored()?.equals(body)).toBe(true);
  });

  describe('around the 6 MiB synchronous payload limit', () => {
    const grant = grantFor();
    const sha = 'a'.repeat(64);
    // The largest body whose inline request fits exactly.
    let fits = 4 * 1024 * 1024;
    while (inlineRequestBytes(grant, sha, fits + 1) <= LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES) fits++;

    it('inlines the largest body that fits (the envelope size is exact)', async () => {
      expect(inlineRequestBytes(grant, sha, fits)).toBeLessThanOrEqual(LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES);
      const body = traceBytes(fits);
      await transport({ grant }).upload(artifactFromBuffer(KEY, body), {});
      expect(actions()).toEqual(['put']);
      expect(stored()?.equals(body)).toBe(true);
    });

    it('asks for a presigned URL one byte later, and streams the body there', async () => {
      const body = traceBytes(fits + 1);
      const receipt = await transport({ grant }).upload(artifactFromBuffer(KEY, body), {});
      expect(actions()).toEqual(['presign']);
      expect(receipt).toMatchObject({ key: KEY, uri: `s3://${BUCKET}/${KEY}`, attempts: 1 });
      expect(stored()?.equals(body)).toBe(true);
      // The handler signed the checksum in; the PUT carried it.
      expect(s3Server.requests.at(-1)?.headers['x-amz-checksum-sha256']).toBe(
        createHash('sha256').update(body).digest('base64'),
      );
    });
  });

  it('falls back to a presigned URL when Lambda answers 413 to an inline request', async () => {
    const body = traceBytes(5 * 1024 * 1024);
    const receipt = await transport({ payloadLimitBytes: 8 * 1024 * 1024 }).upload(
      artifactFromBuffer(KEY, body),
      {},
    );
    expect(receipt.attempts).toBe(1);
    expect(actions()).toEqual(['presign']);
    expect(stored()?.equals(body)).toBe(true);
  });

  it('refuses locally, invoking nothing, a grant for another user or task', async () => {
    for (const grant of [grantFor('user-2', 'task-1'), grantFor('user-1', 'task-2')]) {
      grantsSeen.push(grant);
      const err = await failure(transport({ grant }).upload(artifactFromBuffer(KEY, traceBytes(10)), {}));
      expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED', s3Code: 'ERR_GRANT_SCOPE', attempts: 1 });
    }
    expect(lambda.invocations).toHaveLength(0);
  });

  it('maps a grant the handler refuses to ERR_UPLOAD_REJECTED without retrying', async () => {
    const forged = createUploadGrant({
      userId: 'user-1',
      taskId: 'task-1',
      expiresIn: 600,
      key: { id: 'k1', secret: 'f'.repeat(40) },
      audience: BUCKET,
    });
    grantsSeen.push(forged);
    const err = await failure(
      transport({ grant: forged }).upload(artifactFromBuffer(KEY, traceBytes(10)), {}),
    );
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_REJECTED',
      s3Code: 'ERR_GRANT_SIGNATURE',
      retryable: false,
      attempts: 1,
    });
    expect(lambda.invocations).toHaveLength(1);
  });

  it('asks a grant provider once more when the handler says the grant expired', async () => {
    handlerOptions = { now: () => Date.now() + 120_000 };
    const grants = [grantFor('user-1', 'task-1', 60), grantFor('user-1', 'task-1', 3600)];
    grantsSeen.push(...grants);
    let asked = 0;
    const receipt = await transport({ grant: async () => grants[asked++] ?? '' }).upload(
      artifactFromBuffer(KEY, traceBytes(10)),
      {},
    );
    expect(asked).toBe(2);
    expect(receipt.attempts).toBe(1);
  });

  it('fails a fixed expired grant with ERR_UPLOAD_REJECTED', async () => {
    handlerOptions = { now: () => Date.now() + 120_000 };
    const grant = grantFor('user-1', 'task-1', 60);
    grantsSeen.push(grant);
    const err = await failure(transport({ grant }).upload(artifactFromBuffer(KEY, traceBytes(10)), {}));
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED', s3Code: 'ERR_GRANT_EXPIRED', attempts: 1 });
  });

  it('retries Lambda throttling (429 TooManyRequestsException) and 5xx', async () => {
    lambda.replies.push(
      { status: 429, errorType: 'TooManyRequestsException', message: 'Rate Exceeded.' },
      { status: 500, errorType: 'ServiceException' },
    );
    const receipt = await transport().upload(artifactFromBuffer(KEY, traceBytes(10)), {});
    expect(receipt.attempts).toBe(3);
    expect(lambda.invocations).toHaveLength(1);
  });

  it('does not retry Lambda 4xx such as a missing function', async () => {
    lambda.replies.push({
      status: 404,
      errorType: 'ResourceNotFoundException',
      message: 'Function not found',
    });
    const err = await failure(transport().upload(artifactFromBuffer(KEY, traceBytes(10)), {}));
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status: 404,
      s3Code: 'ResourceNotFoundException',
      attempts: 1,
    });
  });

  it('keeps the grant out of the error when Lambda echoes the payload back', async () => {
    // Lambda's InvalidRequestContentException quotes the start of the request body: the grant.
    lambda.replies.push({
      status: 400,
      errorType: 'InvalidRequestContentException',
      message: (payload) =>
        `Could not parse request body into json: [Source: (byte[])"${payload.slice(0, 400)}"`,
    });
    const grant = grantFor();
    const err = await failure(transport({ grant }).upload(artifactFromBuffer(KEY, traceBytes(10)), {}));
    expect(err).toMatchObject({
      code: 'ERR_UPLOAD_HTTP',
      status: 400,
      s3Code: 'InvalidRequestContentException',
    });
    const printed = inspect(err, { depth: 10, showHidden: true });
    expect(printed).not.toContain(grant.split('.')[0]);
    expect(printed).not.toContain(grant.split('.')[1]);
  });

  it('retries a grant provider that could not reach the orchestrator', async () => {
    let asked = 0;
    const receipt = await transport({
      grant: async () => {
        asked++;
        if (asked === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return grantFor();
      },
    }).upload(artifactFromBuffer(KEY, traceBytes(10)), {});
    expect(receipt.attempts).toBe(2);
  });

  it("refuses locally an artifact whose key is not its grant's key, whatever its separate ids say", async () => {
    // The handler writes traceKey(grant): a key that differs must never get that far.
    const grant = grantFor('user-2', 'task-2');
    grantsSeen.push(grant);
    const mislabelled: TraceArtifact = {
      ...artifactFromBuffer(KEY, traceBytes(10)),
      userId: 'user-2',
      taskId: 'task-2',
    };
    const err = await failure(transport({ grant }).upload(mislabelled, {}));
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED', s3Code: 'ERR_GRANT_SCOPE', attempts: 1 });
    expect(lambda.invocations).toHaveLength(0);
    expect(s3Server.objects.size).toBe(0);
  });

  it('treats a crashed function (FunctionError) as retryable', async () => {
    handlerOptions = { maxInlineBytes: Number.NaN };
    const err = await failure(
      transport({ retry: { ...fastRetry, retries: 1 } }).upload(artifactFromBuffer(KEY, traceBytes(10)), {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_HTTP', retryable: true, attempts: 2 });
    expect(err.s3Code).toMatch(/^FunctionError:/);
  });

  it('reports a body that does not match its sha256 as ERR_UPLOAD_CHECKSUM, not retried', async () => {
    const body = traceBytes(100);
    const lying: TraceArtifact = {
      ...artifactFromBuffer(KEY, body),
      sha256: 'b'.repeat(64),
      open: () => Readable.from([body]),
    };
    const err = await failure(transport().upload(lying, {}));
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM', attempts: 1 });
    expect(stored()).toBeUndefined();
  });

  it('reports an oversize body as ERR_UPLOAD_TOO_LARGE', async () => {
    handlerOptions = { maxInlineBytes: 1000 };
    const inline = await failure(transport().upload(artifactFromBuffer(KEY, traceBytes(2000)), {}));
    expect(inline).toMatchObject({ code: 'ERR_UPLOAD_TOO_LARGE', attempts: 1 });
    handlerOptions = { maxObjectBytes: 1024 };
    const presigned = await failure(
      transport({ payloadLimitBytes: 1024 }).upload(artifactFromBuffer(KEY, traceBytes(2000)), {}),
    );
    expect(presigned).toMatchObject({ code: 'ERR_UPLOAD_TOO_LARGE', attempts: 1 });
  });

  it('retries an S3 failure the handler reports as retryable', async () => {
    s3Server.replies.push({
      status: 503,
      body: '<Error><Code>SlowDown</Code><Message>slow</Message></Error>',
    });
    const receipt = await transport().upload(artifactFromBuffer(KEY, traceBytes(10)), {});
    expect(receipt.attempts).toBe(2);
  });

  it('builds its own client from region and endpoint, with credentials from the environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    try {
      const t = lambdaUploaderTransport({
        functionName: FUNCTION,
        grant: grantFor(),
        region: 'eu-west-1',
        endpoint: lambda.endpoint,
        retry: false,
      });
      expect((await t.upload(artifactFromBuffer(KEY, traceBytes(10)), {})).key).toBe(KEY);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('bounds each Invoke by invokeTimeoutMs, so one hung Invoke is retried instead of spending the budget', async () => {
    let calls = 0;
    const hangingOnce = await startLambdaServer((event) => {
      calls++;
      if (calls === 1) return new Promise(() => {});
      return createUploaderHandler({ bucket: BUCKET, s3, grantKeys: KEYS, log: false })(event);
    });
    const hangClient = new LambdaClient({
      region: 'us-east-1',
      endpoint: hangingOnce.endpoint,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const started = performance.now();
      const receipt = await transport({ client: hangClient, invokeTimeoutMs: 300 }).upload(
        artifactFromBuffer(KEY, traceBytes(10)),
        {},
      );
      expect(receipt.attempts).toBe(2);
      expect(calls).toBe(2);
      // Far below the 120 s retry deadline a hung Invoke used to spend.
      expect(performance.now() - started).toBeLessThan(20_000);
    } finally {
      hangClient.destroy();
      await hangingOnce.close();
    }
  });

  it('reports a hung Invoke as a retryable ERR_UPLOAD_NETWORK naming the timeout', async () => {
    const hanging = await startLambdaServer(() => new Promise(() => {}));
    const hangClient = new LambdaClient({
      region: 'us-east-1',
      endpoint: hanging.endpoint,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const err = await failure(
        transport({ client: hangClient, invokeTimeoutMs: 200, retry: false }).upload(
          artifactFromBuffer(KEY, randomBytes(10)),
          {},
        ),
      );
      expect(err).toMatchObject({ code: 'ERR_UPLOAD_NETWORK', retryable: true });
      expect(err.message).toContain('200 ms');
    } finally {
      hangClient.destroy();
      await hanging.close();
    }
  });

  it('hands the grant provider the trace and a signal, and stops waiting for it after providerTimeoutMs', async () => {
    const seen: Array<{ key: string; signal: AbortSignal }> = [];
    const err = await failure(
      transport({
        providerTimeoutMs: 100,
        retry: false,
        grant: (request) => {
          seen.push(request);
          return new Promise<string>(() => {});
        },
      }).upload(artifactFromBuffer(KEY, randomBytes(10)), {}),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_NETWORK', retryable: true });
    expect(err.message).toContain('grant provider did not answer within 100 ms');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.key).toBe(KEY);
    // The provider was told to stop too.
    expect(seen[0]?.signal.aborted).toBe(true);
    expect(lambda.invocations).toHaveLength(0);
  });

  it('stops with ERR_UPLOAD_ABORTED when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(
      transport().upload(artifactFromBuffer(KEY, traceBytes(10)), { signal: controller.signal }),
    );
    expect(err.code).toBe('ERR_UPLOAD_ABORTED');
    expect(lambda.invocations).toHaveLength(0);
  });

  it('stops reading a stalled body at once when aborted', async () => {
    const controller = new AbortController();
    const base = artifactFromBuffer(KEY, traceBytes(100));
    const stalling: TraceArtifact = {
      ...base,
      // One chunk, then nothing ever again: only the abort can end the read.
      open: () =>
        new Readable({
          read() {
            if (this.readableLength === 0 && !(this as { sent?: boolean }).sent) {
              (this as { sent?: boolean }).sent = true;
              this.push(randomBytes(10));
              setImmediate(() => controller.abort());
            }
          },
        }),
    };
    const guard = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('still reading')), 2_000).unref(),
    );
    const err = await failure(
      Promise.race([transport().upload(stalling, { signal: controller.signal }), guard]),
    );
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_ABORTED', attempts: 1 });
    expect(lambda.invocations).toHaveLength(0);
  });

  it('fails at construction on a missing function name or a malformed grant, naming the option', () => {
    expect(() => lambdaUploaderTransport({ functionName: '', grant: grantFor() })).toThrow(ConfigError);
    try {
      lambdaUploaderTransport({ functionName: FUNCTION, grant: 'garbage' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_TRACE_CONFIG', variable: 'grant' });
      expect((err as Error).message).not.toContain('garbage');
    }
    expect(() =>
      lambdaUploaderTransport({ functionName: FUNCTION, grant: grantFor(), endpoint: 'http://example.com' }),
    ).toThrow(ConfigError);
    for (const [extra, variable] of [
      [{ payloadLimitBytes: 100 }, 'payloadLimitBytes'],
      [{ headersTimeoutMs: Number.NaN }, 'headersTimeoutMs'],
      [{ retry: { retries: -1 } }, 'retry.retries'],
    ] as const) {
      expect(() => lambdaUploaderTransport({ functionName: FUNCTION, grant: grantFor(), ...extra })).toThrow(
        expect.objectContaining({ code: 'ERR_TRACE_CONFIG', variable }),
      );
    }
  });
});

afterAll(() => {
  expect(errorsSeen.length).toBeGreaterThan(5);
  const all = [...grantsSeen, grantFor()];
  for (const err of errorsSeen) {
    // Everything a logger could print: message, stack, every cause and every property.
    const text = inspect(err, { depth: 10, showHidden: true });
    for (const grant of all) {
      expect(text).not.toContain(grant);
      expect(text).not.toContain(grant.split('.')[1]);
    }
    expect(text).not.toContain('X-Amz-Signature');
  }
});

describe('end to end: local Lambda (Invoke API) → createUploaderHandler → SigV4-verifying local S3', () => {
  let localS3: LocalS3;
  let localLambda: LocalLambda;
  let s3Client: S3Client;
  let lambdaClient: LambdaClient;
  beforeAll(async () => {
    localS3 = await startLocalS3();
    s3Client = await createTraceS3Client({
      region: localS3.region,
      endpoint: localS3.endpoint,
      forcePathStyle: true,
      credentials: localS3.credentials,
      maxAttempts: 1,
    });
    localLambda = await startLocalLambda({
      functionName: FUNCTION,
      handler: createUploaderHandler({ bucket: BUCKET, s3: s3Client, grantKeys: KEYS, log: false }),
    });
    lambdaClient = new LambdaClient({
      region: localLambda.region,
      endpoint: localLambda.endpoint,
      credentials: localLambda.credentials,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    lambdaClient.destroy();
    s3Client.destroy();
    await localLambda.close();
    await localS3.close();
  });
  afterEach(async () => {
    await localS3.reset();
    localLambda.faults.clear();
  });

  const e2e = (over: Partial<LambdaUploaderOptions> = {}) =>
    lambdaUploaderTransport({
      functionName: FUNCTION,
      client: lambdaClient,
      grant: grantFor(),
      retry: fastRetry,
      ...over,
    });

  it('stores a small body inline', async () => {
    const body = traceBytes(30_000);
    const receipt = await e2e().upload(artifactFromBuffer(KEY, body), {});
    expect(receipt).toMatchObject({ key: KEY, uri: `s3://${BUCKET}/${KEY}`, attempts: 1 });
    const object = await localS3.getObject(BUCKET, KEY);
    expect(object?.body.equals(body)).toBe(true);
    expect(object?.contentType).toBe('application/gzip');
    expect(object?.checksums).toMatchObject({ sha256: createHash('sha256').update(body).digest('base64') });
  });

  it('streams a body over the payload limit to a presigned URL with its size and SHA-256 signed', async () => {
    const body = traceBytes(LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES);
    const receipt = await e2e().upload(artifactFromBuffer(KEY, body), {});
    expect(receipt.attempts).toBe(1);
    expect((await localS3.getObject(BUCKET, KEY))?.body.equals(body)).toBe(true);
    const put = localS3.requests.find((r) => r.method === 'PUT');
    expect(put?.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update(body).digest('base64'));
  });

  it("inlines the largest body that fits, and the local Lambda's 6 MiB limit agrees", async () => {
    const grant = grantFor();
    let fits = 4 * 1024 * 1024;
    while (inlineRequestBytes(grant, 'a'.repeat(64), fits + 1) <= LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES) fits++;
    const body = traceBytes(fits);
    await e2e({ grant }).upload(artifactFromBuffer(KEY, body), {});
    // The transport computed the request size exactly.
    expect(localLambda.invocations.at(-1)?.payloadBytes).toBe(
      inlineRequestBytes(grant, 'a'.repeat(64), fits),
    );
    expect(localS3.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect((await localS3.getObject(BUCKET, KEY))?.body.equals(body)).toBe(true);
  });

  it('retries Lambda throttling', async () => {
    localLambda.faults.failNext(1, { status: 429, code: 'TooManyRequestsException' });
    const receipt = await e2e().upload(artifactFromBuffer(KEY, traceBytes(100)), {});
    expect(receipt.attempts).toBe(2);
  });

  it('writes nowhere but the grant key even when the request names another user', async () => {
    // A compromised runtime crafts its own request: the handler derives the key from the grant.
    const body = traceBytes(100);
    const out = await lambdaClient.send(
      new InvokeCommand({
        FunctionName: FUNCTION,
        Payload: Buffer.from(
          JSON.stringify({
            action: 'put',
            grant: grantFor(),
            key: 'traces/victim/task-1.jsonl.gz',
            userId: 'victim',
            sha256: createHash('sha256').update(body).digest('hex'),
            byteLength: body.byteLength,
            body: body.toString('base64'),
          }),
        ),
      }),
    );
    expect(JSON.parse(Buffer.from(out.Payload ?? []).toString())).toMatchObject({ ok: true, key: KEY });
    expect((await localS3.listObjects(BUCKET)).map((o) => o.key)).toEqual([KEY]);
  });
});
