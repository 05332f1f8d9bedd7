/**
 * HTTP mocks of one presigned S3 PUT, for unit tests of code that uses the transports without any
 * server: {@link mockPresignedPut} on undici's `MockAgent` (pass its `dispatcher` to
 * `presignedPutTransport`), and {@link nockPresignedPut} on nock (for code that uses `node:http` or
 * the global `fetch`). Both answer scripted S3 errors first, then 200 with the MD5 ETag, and
 * record every request. Neither verifies signatures: use `startLocalS3` for that.
 *
 * nock is imported only when {@link nockPresignedPut} is called: importing nock patches
 * `node:http` and `fetch` for the whole process, which must not happen to every user of this
 * package (it would sit under the AWS SDK's requests to the local S3, for one).
 *
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import type nock from 'nock';
import { MockAgent } from 'undici';
import { errorDocument } from './local-s3/xml.js';

/** A scripted answer: an S3 error (status, code, message) or a success. */
export interface MockS3Answer {
  readonly status: number;
  /** S3 error code for the XML body, e.g. `SlowDown`. Omit for a success status. */
  readonly code?: string | undefined;
  readonly message?: string | undefined;
  /** Adds a `Retry-After` header (seconds). */
  readonly retryAfterSeconds?: number | undefined;
}

/** A PUT the mock received. */
export interface MockPutRequest {
  /** Path and query, with `X-Amz-Signature` and `X-Amz-Credential` removed. */
  readonly path: string;
  /** Request headers, lowercased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The whole body. */
  readonly body: Buffer;
  /** Status the mock answered. */
  readonly status: number;
}

/** Options shared by the mocks. */
export interface MockPresignedPutOptions {
  /** The object key the URL is for, e.g. `traceKey({ userId, taskId })`. */
  readonly key: string;
  /**
   * Origin of the URL. Default `https://trace-artifacts.s3.us-east-1.amazonaws.com`
   * (virtual-hosted, so the path is the key).
   */
  readonly origin?: string | undefined;
  /** For path-style origins: the bucket, making the path `/<bucket>/<key>`. */
  readonly bucket?: string | undefined;
  /** Lifetime written into the URL (`X-Amz-Expires`), seconds. Default 900. */
  readonly expiresInSeconds?: number | undefined;
  /** Answers for the first PUTs, in order; every later PUT succeeds. */
  readonly answers?: readonly MockS3Answer[] | undefined;
}

/** A mocked presigned PUT on undici's MockAgent. */
export interface MockPresignedPut {
  /** A presigned-looking URL for the key (fresh `X-Amz-Date`, fake signature). */
  readonly url: string;
  /** The MockAgent: pass it as `dispatcher`. Every other request fails (net connect disabled). */
  readonly dispatcher: MockAgent;
  /** PUTs received so far, in order. */
  readonly requests: readonly MockPutRequest[];
  /** A new URL for the same key, for code that takes a URL provider: `url: mock.mintUrl`. */
  mintUrl(): Promise<string>;
  /** Closes the MockAgent. */
  close(): Promise<void>;
}

function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function objectPath(options: MockPresignedPutOptions): string {
  const key = options.key.split('/').map(encodeURIComponent).join('/');
  return options.bucket === undefined ? `/${key}` : `/${encodeURIComponent(options.bucket)}/${key}`;
}

function presignedLookingUrl(origin: string, path: string, expiresInSeconds: number): string {
  const now = new Date();
  const day = amzDate(now).slice(0, 8);
  const query = new URLSearchParams({
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `MOCKACCESSKEYID00000/${day}/us-east-1/s3/aws4_request`,
    'X-Amz-Date': amzDate(now),
    'X-Amz-Expires': String(expiresInSeconds),
    'X-Amz-SignedHeaders': 'content-type;host',
    'X-Amz-Signature': randomBytes(32).toString('hex'),
  });
  return `${origin}${path}?${query.toString()}`;
}

function publicPath(path: string): string {
  const [pathname, query = ''] = path.split('?');
  const kept = query
    .split('&')
    .filter((pair) => pair !== '' && !/^x-amz-(signature|credential|security-token)=/i.test(pair));
  return kept.length > 0 ? `${pathname}?${kept.join('&')}` : (pathname ?? '');
}

/** The scripted answer for the n-th PUT, as status, body and headers. */
function answerFor(
  answers: readonly MockS3Answer[],
  index: number,
  body: Buffer,
): { status: number; body: string; headers: Record<string, string> } {
  const scripted = answers[index];
  if (scripted === undefined || (scripted.status >= 200 && scripted.status < 300)) {
    return {
      status: scripted?.status ?? 200,
      body: '',
      headers: { etag: `"${createHash('md5').update(body).digest('hex')}"` },
    };
  }
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const headers: Record<string, string> = {
    'content-type': 'application/xml',
    'x-amz-request-id': requestId,
  };
  if (scripted.retryAfterSeconds !== undefined) headers['retry-after'] = String(scripted.retryAfterSeconds);
  return {
    status: scripted.status,
    body: errorDocument(
      scripted.code ?? 'InternalError',
      scripted.message ?? scripted.code ?? 'Error',
      requestId,
    ),
    headers,
  };
}

async function collect(body: unknown): Promise<Buffer> {
  if (body === null || body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  const iterable = body as AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;
  if (Symbol.asyncIterator in (iterable as object)) {
    for await (const chunk of iterable as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
  } else {
    for (const chunk of iterable as Iterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function lowerHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === null || headers === undefined) return out;
  const entries: [string, unknown][] = Array.isArray(headers)
    ? Array.from({ length: headers.length / 2 }, (_, i) => [String(headers[2 * i]), headers[2 * i + 1]])
    : Object.entries(headers as Record<string, unknown>);
  for (const [name, value] of entries)
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
}

/**
 * Mocks one presigned PUT with undici's `MockAgent`, for unit tests of code that uploads through
 * `presignedPutTransport` (or anything else that takes an undici `dispatcher`).
 *
 * @example
 * const mock = mockPresignedPut({ key, answers: [{ status: 503, code: 'SlowDown', retryAfterSeconds: 0 }] });
 * const transport = presignedPutTransport({ url: mock.url, dispatcher: mock.dispatcher });
 * await transport.upload(artifact, {});
 * expect(mock.requests.map((r) => r.status)).toEqual([503, 200]);
 */
export function mockPresignedPut(options: MockPresignedPutOptions): MockPresignedPut {
  const origin = options.origin ?? 'https://trace-artifacts.s3.us-east-1.amazonaws.com';
  const path = objectPath(options);
  const expiresIn = options.expiresInSeconds ?? 900;
  const answers = options.answers ?? [];
  const requests: MockPutRequest[] = [];
  const agent = new MockAgent();
  agent.disableNetConnect();
  agent
    .get(origin)
    .intercept({ path: (p: string) => p.split('?')[0] === path, method: 'PUT' })
    .reply(async (opts) => {
      const body = await collect(opts.body);
      const answer = answerFor(answers, requests.length, body);
      requests.push({
        path: publicPath(opts.path),
        headers: lowerHeaders(opts.headers),
        body,
        status: answer.status,
      });
      return { statusCode: answer.status, data: answer.body, responseOptions: { headers: answer.headers } };
    })
    .persist();
  return {
    url: presignedLookingUrl(origin, path, expiresIn),
    dispatcher: agent,
    requests,
    mintUrl: async () => presignedLookingUrl(origin, path, expiresIn),
    close: () => agent.close(),
  };
}

/** A mocked presigned PUT on nock. */
export interface NockPresignedPut {
  /** A presigned-looking URL for the key. */
  readonly url: string;
  /** The nock scope (e.g. for `scope.isDone()`). */
  readonly scope: nock.Scope;
  /** PUTs received so far, in order. */
  readonly requests: readonly MockPutRequest[];
  /** Removes this mock's interceptor. */
  done(): void;
}

/**
 * Mocks one presigned PUT with nock: intercepts `node:http`/`https` and the global `fetch` (nock
 * does not see undici's own `request()`; use {@link mockPresignedPut} for that). Async because
 * nock is loaded on first use (see the module notes).
 *
 * @example
 * const mock = await nockPresignedPut('https://bucket.s3.amazonaws.com', key, {
 *   answers: [{ status: 500, code: 'InternalError' }],
 * });
 * await codeUnderTest(mock.url);
 * expect(mock.requests.map((r) => r.status)).toEqual([500, 200]);
 * mock.done();
 */
export async function nockPresignedPut(
  origin: string,
  key: string,
  options: Omit<MockPresignedPutOptions, 'key' | 'origin'> = {},
): Promise<NockPresignedPut> {
  const { default: nockModule } = await import('nock');
  const base = origin.replace(/\/$/, '');
  const path = objectPath({ ...options, key });
  const answers = options.answers ?? [];
  const requests: MockPutRequest[] = [];
  const interceptor: nock.Interceptor = nockModule(base)
    .persist()
    .put((uri: string) => uri.split('?')[0] === path);
  const scope = interceptor.reply(async (request: Request) => {
    const body = Buffer.from(await request.arrayBuffer());
    const answer = answerFor(answers, requests.length, body);
    const url = new URL(request.url);
    requests.push({
      path: publicPath(`${url.pathname}${url.search}`),
      headers: Object.fromEntries([...request.headers].map(([name, value]) => [name.toLowerCase(), value])),
      body,
      status: answer.status,
    });
    return [answer.status, answer.body, answer.headers] as const;
  });
  return {
    url: presignedLookingUrl(base, path, options.expiresInSeconds ?? 900),
    scope,
    requests,
    done: () => {
      nockModule.removeInterceptor(interceptor);
    },
  };
}
