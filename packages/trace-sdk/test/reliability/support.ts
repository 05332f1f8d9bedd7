/**
 * The world the reliability suites run in: a SigV4-verifying local S3 and a local Lambda running the
 * real uploader handler, an orchestrator that mints presigned URLs and grants (and remembers every
 * one, so the suites can prove none of them leaks), each built-in transport wired to them with
 * fast retries, and the checks every fault case ends with.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LOCAL_S3_CREDENTIALS,
  type LocalLambda,
  type LocalS3,
  type LocalS3Credentials,
  startLocalLambda,
  startLocalS3,
} from '@agent-trace/trace-sdk-testing';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { expect, vi } from 'vitest';
import {
  createTraceRecorder,
  type FinishResult,
  lambdaUploaderTransport,
  presignedPutTransport,
  type RetryEvent,
  type RetryPolicy,
  readTrace,
  s3PutObjectTransport,
  type TraceRecorder,
  type TraceTransport,
  traceKey,
  userPrefix,
} from '../../src/index.js';
import { createUploaderHandler } from '../../src/lambda/index.js';
import {
  createTraceS3Client,
  createTraceUploadUrl,
  createUploadGrant,
} from '../../src/orchestrator/index.js';

/** The bucket every reliability test writes to. */
export const BUCKET = 'reliability-traces';

/** Retries fast enough for a unit suite: five attempts, a few ms apart, bounded at 15 s. */
export const FAST_RETRY = { retries: 4, minDelayMs: 5, maxDelayMs: 40, deadlineMs: 15_000 } as const;

/** Per-request timeout when a case wants the transport itself to bound a hung server. */
export const REQUEST_TIMEOUT_MS = 1500;

const GRANT_KEY = { id: 'reliability-1', secret: randomBytes(32) };

/** Temporary credentials the local S3 knows but considers expired (400 ExpiredToken). */
const EXPIRED_CREDENTIALS: LocalS3Credentials = {
  accessKeyId: 'ASIALOCALEXPIRED0001',
  secretAccessKey: randomBytes(30).toString('base64'),
  sessionToken: randomBytes(48).toString('base64'),
  expiresAt: new Date(Date.now() - 60_000),
};

/** A trace's owner and task, and its key. */
export interface Ids {
  readonly userId: string;
  readonly taskId: string;
  readonly key: string;
}

let idCounter = 0;

/** Fresh ids shaped like production ones (a UUID-ish user, a ULID-ish task). */
export function freshIds(label = 'user'): Ids {
  idCounter++;
  const userId = `${label}-${randomBytes(4).toString('hex')}-${idCounter}`;
  const taskId = `01J${randomBytes(8).toString('hex').toUpperCase()}`;
  return { userId, taskId, key: traceKey({ userId, taskId }) };
}

/** Lowercase hex SHA-256. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A clock offset the local servers add to their idea of now (to expire URLs and grants on demand). */
export interface Skew {
  ms: number;
}

/** Everything a reliability test talks to. Start one per file with {@link startWorld}. */
export interface World {
  readonly s3: LocalS3;
  readonly lambda: LocalLambda;
  /** Offset of the local S3's clock: a large one makes every presigned URL expired. */
  readonly s3Skew: Skew;
  /** Offset of the uploader handler's clock: a large one makes every grant expired. */
  readonly grantSkew: Skew;
  /** Called with every request the uploader Lambda's handler receives (set per test, cleared by `heal`). */
  onInvoke: ((request: unknown) => void) | undefined;
  /** Every presigned URL and grant minted so far: none may ever appear in a log or an error. */
  readonly secrets: Set<string>;
  /** An http endpoint on 127.0.0.1 with nothing listening. */
  readonly deadEndpoint: string;
  /** Mints a presigned PUT URL for exactly `ids.key` (the orchestrator's job). */
  mintUrl(ids: Ids, opts?: { endpoint?: string; expiresIn?: number }): Promise<string>;
  /** Mints an upload grant for `ids` (the orchestrator's job). */
  mintGrant(ids: Pick<Ids, 'userId' | 'taskId'>, expiresIn?: number): string;
  /** The stored body at `key`, or undefined. */
  stored(key: string): Promise<Buffer | undefined>;
  /** Requests that committed an object at `key`. */
  storedWrites(key: string): number;
  /** Every key stored under `prefix`. */
  keys(prefix?: string): Promise<string[]>;
  /** A LambdaClient for `endpoint` (default: the local Lambda), without SDK retries. */
  lambdaClient(opts?: { endpoint?: string; requestTimeoutMs?: number }): LambdaClient;
  /** An S3Client for the local S3 (or `endpoint`) with `credentials`, without SDK retries. */
  s3Client(opts?: {
    endpoint?: string;
    requestTimeoutMs?: number;
    credentials?: LocalS3Credentials;
  }): Promise<S3Client>;
  /** Clears faults and clock skews between tests. */
  heal(): void;
  close(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago and has nothing listening now. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Starts the local S3 and the local uploader Lambda in front of it. */
export async function startWorld(): Promise<World> {
  const s3Skew: Skew = { ms: 0 };
  const grantSkew: Skew = { ms: 0 };
  const secrets = new Set<string>();
  const s3 = await startLocalS3({
    credentials: [{ ...LOCAL_S3_CREDENTIALS }, EXPIRED_CREDENTIALS],
    now: () => Date.now() + s3Skew.ms,
  });
  await s3.createBucket(BUCKET);
  const clients: Array<{ destroy(): void }> = [];

  const s3Client = async (
    opts: { endpoint?: string; requestTimeoutMs?: number; credentials?: LocalS3Credentials } = {},
  ): Promise<S3Client> => {
    const client = await createTraceS3Client({
      endpoint: opts.endpoint ?? s3.endpoint,
      region: s3.region,
      credentials: opts.credentials ?? { ...LOCAL_S3_CREDENTIALS },
      forcePathStyle: true,
      maxAttempts: 1,
      ...(opts.requestTimeoutMs === undefined
        ? {}
        : { requestHandler: { requestTimeout: opts.requestTimeoutMs, throwOnRequestTimeout: true } }),
    });
    clients.push(client);
    return client;
  };

  const orchestrator = await s3Client();
  const uploader = createUploaderHandler({
    bucket: BUCKET,
    s3: await s3Client(),
    grantKeys: { [GRANT_KEY.id]: GRANT_KEY.secret },
    now: () => Date.now() + grantSkew.ms,
  });
  const lambda = await startLocalLambda({
    handler: (event) => {
      world.onInvoke?.(event);
      return uploader(event);
    },
  });
  const deadEndpoint = `http://127.0.0.1:${await deadPort()}`;
  const minters = new Map<string, S3Client>();

  const world: World = {
    s3,
    lambda,
    s3Skew,
    grantSkew,
    onInvoke: undefined,
    secrets,
    deadEndpoint,
    async mintUrl(ids, opts = {}) {
      let client = orchestrator;
      if (opts.endpoint !== undefined) {
        client = minters.get(opts.endpoint) ?? (await s3Client({ endpoint: opts.endpoint }));
        minters.set(opts.endpoint, client);
      }
      const { url } = await createTraceUploadUrl({
        s3: client,
        bucket: BUCKET,
        userId: ids.userId,
        taskId: ids.taskId,
        expiresIn: opts.expiresIn ?? 600,
        // A bare URL minted before the trace exists: no size to sign, no way to pass headers.
        allowUnboundedSize: true,
        metadataIn: 'query',
      });
      secrets.add(url);
      const signature = new URL(url).searchParams.get('X-Amz-Signature');
      if (signature !== null) secrets.add(signature);
      return url;
    },
    mintGrant(ids, expiresIn = 600) {
      const grant = createUploadGrant({
        userId: ids.userId,
        taskId: ids.taskId,
        expiresIn,
        key: GRANT_KEY,
        audience: BUCKET,
      });
      secrets.add(grant);
      // The HMAC part alone is the credential; the claims part is not secret.
      secrets.add(grant.slice(grant.indexOf('.') + 1));
      return grant;
    },
    stored: async (key) => (await s3.getObject(BUCKET, key))?.body,
    storedWrites: (key) => s3.requests.filter((r) => r.stored && r.key === key).length,
    keys: async (prefix) => (await s3.listObjects(BUCKET, prefix)).map((o) => o.key),
    lambdaClient(opts = {}) {
      const client = new LambdaClient({
        endpoint: opts.endpoint ?? lambda.endpoint,
        region: lambda.region,
        credentials: lambda.credentials,
        maxAttempts: 1,
        ...(opts.requestTimeoutMs === undefined
          ? {}
          : { requestHandler: { requestTimeout: opts.requestTimeoutMs, throwOnRequestTimeout: true } }),
      });
      clients.push(client);
      return client;
    },
    s3Client,
    heal() {
      s3.faults.clear();
      lambda.faults.clear();
      s3Skew.ms = 0;
      grantSkew.ms = 0;
      world.onInvoke = undefined;
    },
    async close() {
      for (const c of clients) c.destroy();
      await lambda.close();
      await s3.close();
    },
  };
  return world;
}

/** Where an upload goes, and what a transport should be built with. */
export interface BuildOptions {
  readonly retry: RetryPolicy;
  /** Point the transport at a port with nothing listening. */
  readonly dead?: boolean | undefined;
  /** Bound each request by {@link REQUEST_TIMEOUT_MS} (default: the transport's own, long, timeouts). */
  readonly requestTimeouts?: boolean | undefined;
  /**
   * `provider`: URLs and grants come from a function asked again on expiry. `fixed`: one string,
   * minted now (or, for the legacy transport, credentials that expire).
   */
  readonly credential?: 'provider' | 'fixed' | undefined;
  /** Called each time a provider is asked (to count refreshes, or to heal an expired clock). */
  readonly onMint?: ((count: number) => void) | undefined;
}

/** A built-in transport wired to the world, with the place its network faults are injected. */
export interface Harness {
  readonly name: string;
  /** Whether the S3 or the Lambda sees this transport's requests first. */
  readonly faultsAt: 's3' | 'lambda';
  build(world: World, ids: Ids, opts: BuildOptions): Promise<TraceTransport>;
}

/** A provider that mints on every call and reports the call count. */
function counting<T>(
  mint: () => Promise<T> | T,
  onMint: ((count: number) => void) | undefined,
): () => Promise<T> {
  let count = 0;
  return async () => {
    count++;
    onMint?.(count);
    return mint();
  };
}

/** presignedPutTransport: the runtime PUTs to a URL minted for exactly its key. */
export const presignedPut: Harness = {
  name: 'presigned-put',
  faultsAt: 's3',
  async build(world, ids, opts) {
    const endpoint = opts.dead ? world.deadEndpoint : undefined;
    const mint = () => world.mintUrl(ids, endpoint === undefined ? {} : { endpoint });
    const url = opts.credential === 'fixed' ? await mint() : counting(mint, opts.onMint);
    return presignedPutTransport({
      url,
      retry: opts.retry,
      ...(opts.requestTimeouts
        ? { headersTimeoutMs: REQUEST_TIMEOUT_MS, bodyTimeoutMs: REQUEST_TIMEOUT_MS }
        : {}),
    });
  },
};

function lambdaHarness(name: string, inline: boolean): Harness {
  return {
    name,
    faultsAt: inline ? 'lambda' : 's3',
    async build(world, ids, opts) {
      const client = world.lambdaClient({
        ...(opts.dead ? { endpoint: world.deadEndpoint } : {}),
        ...(opts.requestTimeouts ? { requestTimeoutMs: REQUEST_TIMEOUT_MS } : {}),
      });
      const mint = () => world.mintGrant(ids);
      const grant = opts.credential === 'fixed' ? mint() : counting(mint, opts.onMint);
      return lambdaUploaderTransport({
        functionName: world.lambda.functionName,
        client,
        grant,
        retry: opts.retry,
        // 1024 (the smallest allowed) sends every body through the presigned-PUT path.
        ...(inline ? {} : { payloadLimitBytes: 1024 }),
        ...(opts.requestTimeouts
          ? { headersTimeoutMs: REQUEST_TIMEOUT_MS, bodyTimeoutMs: REQUEST_TIMEOUT_MS }
          : {}),
      });
    },
  };
}

/** lambdaUploaderTransport with the body inline in the Invoke payload. */
export const lambdaInline = lambdaHarness('lambda (inline)', true);
/** lambdaUploaderTransport asking the Lambda for a presigned PUT (bodies over the payload limit). */
export const lambdaPresign = lambdaHarness('lambda (presigned PUT)', false);

/** s3PutObjectTransport: the legacy PutObject with the runtime's own credentials. */
export const s3PutObject: Harness = {
  name: 's3-put-object',
  faultsAt: 's3',
  async build(world, _ids, opts) {
    // `fixed`: temporary credentials that have expired and that nothing refreshes (400 ExpiredToken).
    const credentials: LocalS3Credentials =
      opts.credential === 'fixed'
        ? {
            accessKeyId: EXPIRED_CREDENTIALS.accessKeyId,
            secretAccessKey: EXPIRED_CREDENTIALS.secretAccessKey,
            sessionToken: EXPIRED_CREDENTIALS.sessionToken,
          }
        : { ...LOCAL_S3_CREDENTIALS };
    const client = await world.s3Client({
      ...(opts.dead ? { endpoint: world.deadEndpoint } : {}),
      ...(opts.requestTimeouts ? { requestTimeoutMs: REQUEST_TIMEOUT_MS } : {}),
      credentials,
    });
    return s3PutObjectTransport({ allowBucketWideWrites: true, client, bucket: BUCKET, retry: opts.retry });
  },
};

/** Every network transport the fault suite runs against. */
export const NETWORK_HARNESSES: readonly Harness[] = [presignedPut, lambdaInline, lambdaPresign, s3PutObject];

/** mulberry32: a small deterministic generator, so bodies are the same from run to run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `chars` hex characters from `next` (compresses about 2:1, so bodies stay large). */
export function hex(next: () => number, chars: number): string {
  let s = '';
  while (s.length < chars)
    s += Math.floor(next() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, chars);
}

/** Events recorded by every fault case: ~170 KB of JSONL, ~90 KB gzipped. */
export const CASE_EVENTS = 400;

/** Records {@link CASE_EVENTS} turns and tool events into `rec`. */
export function recordWorkload(rec: TraceRecorder, seed = 1): void {
  const next = rng(seed);
  for (let i = 0; i < CASE_EVENTS; i++) {
    if (i % 4 === 3)
      rec.recordPolicyDecision({ toolName: 'bash', allowed: next() > 0.2, reason: hex(next, 24) });
    else {
      rec.recordTurn({
        turn: i,
        model: 'claude-test',
        text: `turn ${i}: ${hex(next, 300)}`,
        toolCalls: [{ id: `toolu_${i}`, name: 'read_file', input: { path: `src/${hex(next, 12)}.ts` } }],
      });
    }
  }
}

/** A recorder for `ids` with the workload recorded, spooling to `spoolDir`. */
export function recordedTrace(ids: Ids, transport: TraceTransport, spoolDir: string): TraceRecorder {
  const rec = createTraceRecorder({ userId: ids.userId, taskId: ids.taskId, transport, spoolDir });
  recordWorkload(rec);
  return rec;
}

/** Collects every line of a trace. */
export async function readAll(
  source: Uint8Array | string,
  requireHeader = true,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  for await (const line of readTrace(source, { requireHeader })) lines.push(line);
  return lines;
}

/**
 * The one good ending: exactly one object at `ids.key`, byte-identical to what the recorder sealed
 * (sha256), written by exactly one request, readable with the header's counts, and nothing else
 * under the user's prefix.
 */
export async function expectOneIntactObject(world: World, ids: Ids, result: FinishResult): Promise<void> {
  const body = await world.stored(ids.key);
  expect(body, `an object at ${ids.key}`).toBeDefined();
  expect(sha256(body!)).toBe(result.sha256);
  expect(body!.byteLength).toBe(result.bytes);
  expect(world.storedWrites(ids.key)).toBe(1);
  expect(await world.keys(userPrefix(ids.userId))).toEqual([ids.key]);
  const lines = await readAll(body!);
  expect(lines[0]).toMatchObject({ event: 'TRAJECTORY_ARTIFACT_HEADER', accumulated_events: result.events });
  expect(lines.length - 1).toBe(result.events);
}

/** Every text an error exposes: message, stack and those of its causes. */
export function errorTexts(err: unknown): string[] {
  const texts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (current instanceof Error) {
      texts.push(current.message, current.stack ?? '');
      current = current.cause;
    } else {
      texts.push(String(current));
      break;
    }
  }
  return texts;
}

/** Markers of a presigned URL's credential parts. */
export const SIGNED_URL_MARKERS = ['X-Amz-Signature', 'X-Amz-Credential'] as const;

/** Asserts `texts` contain no presigned-URL credential part and none of `secrets` (URLs, grants, signatures). */
export function expectNoSecrets(texts: readonly string[], secrets: Iterable<string>, where: string): void {
  const all = [...secrets];
  for (const text of texts) {
    for (const marker of SIGNED_URL_MARKERS) {
      expect(
        text.toLowerCase().includes(marker.toLowerCase()),
        `${where} mentions ${marker}: ${text.slice(0, 300)}`,
      ).toBe(false);
    }
    for (const secret of all) {
      expect(text.includes(secret), `${where} contains a URL or grant: ${text.slice(0, 300)}`).toBe(false);
    }
  }
}

/** Collects the retry events a policy reports, with the policy to pass to a transport. */
export function observedRetry(base: RetryPolicy = FAST_RETRY): { policy: RetryPolicy; events: RetryEvent[] } {
  const events: RetryEvent[] = [];
  return { policy: { ...base, onRetry: (e) => events.push(e) }, events };
}

/** A temp directory, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Console lines and process warnings, captured (and kept off the test output) until `restore`. */
export interface LogCapture {
  /** What was logged since the last call. */
  drain(): string[];
  restore(): void;
}

/** Captures every console line and process warning, so a suite can prove no secret is ever logged. */
export function captureLogs(): LogCapture {
  const captured: string[] = [];
  const onWarning = (w: Error) => captured.push(`${w.name}: ${w.message}`);
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      captured.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : String(a))).join(' '));
    }),
  );
  process.on('warning', onWarning);
  return {
    drain: () => captured.splice(0),
    restore() {
      process.off('warning', onWarning);
      for (const spy of spies) spy.mockRestore();
    },
  };
}
