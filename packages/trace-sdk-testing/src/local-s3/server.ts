/**
 * The local S3 HTTP server: `startLocalS3()`. Each request is recorded, delayed or faulted as
 * queued, authenticated (SigV4, as S3 does), checked against key-scoped credentials, then handed to
 * its operation. Errors are answered with S3's XML error body.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Fault, FaultInjector } from './faults.js';
import { keysTouched, routeOperation, runOperation, type S3Call, type S3Operation } from './operations.js';
import { S3Error, s3Errors } from './s3-error.js';
import { type LocalS3Credentials, SigV4Verifier } from './sigv4-verify.js';
import { ObjectStore, openBlob, type StoredObject } from './store.js';
import { errorDocument } from './xml.js';

/** Access key id the local S3 accepts by default. Not an AWS key; it works nowhere else. */
export const LOCAL_S3_ACCESS_KEY_ID = 'LOCALS3ACCESSKEYID01';
/** Secret of {@link LOCAL_S3_ACCESS_KEY_ID}. A fixed test value, not a secret. */
export const LOCAL_S3_SECRET_ACCESS_KEY = 'local-s3-test-secret-access-key-not-a-secret';
/** The default credentials of {@link startLocalS3}. */
export const LOCAL_S3_CREDENTIALS: LocalS3Credentials = {
  accessKeyId: LOCAL_S3_ACCESS_KEY_ID,
  secretAccessKey: LOCAL_S3_SECRET_ACCESS_KEY,
};
/** The default region of {@link startLocalS3}. */
export const LOCAL_S3_REGION = 'us-east-1';

/** Options of {@link startLocalS3}. */
export interface LocalS3Options {
  /**
   * Access keys the server accepts (default: {@link LOCAL_S3_CREDENTIALS}). The first is reported
   * as `credentials`. Give several to test key rotation, temporary credentials (`sessionToken`,
   * `expiresAt`) or a key scoped to one user's prefix (`keyPrefixes`).
   */
  readonly credentials?: LocalS3Credentials | readonly LocalS3Credentials[] | undefined;
  /**
   * Store bodies as files under this directory instead of in memory, so a large upload does not
   * grow the test process's memory. Objects left there are reloaded by the next server on `dir`.
   */
  readonly dir?: string | undefined;
  /** TCP port on 127.0.0.1 (default 0: an ephemeral port). */
  readonly port?: number | undefined;
  /** Region signatures must be scoped to (default `us-east-1`). */
  readonly region?: string | undefined;
  /**
   * Create a bucket on the first PutObject or CreateMultipartUpload into it (default true). With
   * false, writes to a bucket that was not created (with `createBucket` or the CreateBucket call)
   * fail with `404 NoSuchBucket`, as on S3. Reads never create buckets.
   */
  readonly autoCreateBuckets?: boolean | undefined;
  /** Clock used for signature expiry and skew checks, in epoch ms (default `Date.now`). */
  readonly now?: (() => number) | undefined;
}

/** One request as the server saw it, for assertions. Never holds a signature or credential. */
export interface RecordedRequest {
  /** 0-based arrival order. */
  readonly seq: number;
  /** The `x-amz-request-id` the server answered with. */
  readonly requestId: string;
  readonly method: string;
  /** Path and query, with `X-Amz-Signature`, `X-Amz-Credential` and `X-Amz-Security-Token` removed. */
  readonly path: string;
  readonly operation: S3Operation;
  readonly bucket: string | undefined;
  /** Decoded object key, for object requests. */
  readonly key: string | undefined;
  /** Request headers (lowercased names) without `authorization` and `x-amz-security-token`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Response status; `undefined` while pending, and for reset or hung requests. */
  readonly status: number | undefined;
  /** S3 error code of an error answer. */
  readonly errorCode: string | undefined;
  /** Request body bytes received (as sent on the wire). */
  readonly bytes: number;
  /** True when this request committed an object (PutObject, CompleteMultipartUpload). */
  readonly stored: boolean;
  /** The injected fault this request took, if any. */
  readonly fault: Fault['kind'] | undefined;
}

type MutableRecord = { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] };

/** An object's attributes, as `listObjects` and `headObject` report them. */
export interface LocalS3ObjectInfo {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** Quoted, as S3 returns it. */
  readonly etag: string;
  /** `Content-Type` as stored (`undefined` when the writer sent none). */
  readonly contentType: string | undefined;
  /** `Content-Encoding` as stored; the server never adds one. */
  readonly contentEncoding: string | undefined;
  /** `Content-Disposition`, `Cache-Control`, `Content-Language` and `Expires` as the writer sent them. */
  readonly contentDisposition: string | undefined;
  readonly cacheControl: string | undefined;
  readonly contentLanguage: string | undefined;
  readonly expires: string | undefined;
  /**
   * `x-amz-meta-*` user metadata: names lowercased without the prefix, values as sent (from
   * headers, or from the query of a presigned URL, as S3 takes them).
   */
  readonly metadata: Readonly<Record<string, string>>;
  /** Verified `x-amz-checksum-*` values by algorithm. */
  readonly checksums: Readonly<Record<string, string>>;
  readonly lastModified: Date;
  /** Part count of a multipart object. */
  readonly partsCount: number | undefined;
}

/** An object with its body. */
export interface LocalS3Object extends LocalS3ObjectInfo {
  readonly body: Buffer;
}

/** A running local S3 (see {@link startLocalS3}). */
export interface LocalS3 {
  /** `http://127.0.0.1:<port>`: pass as `endpoint` with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /**
   * The first accepted access key (the default one unless `credentials` was given), as a fresh
   * object each time: the AWS SDK annotates the credentials objects it is given.
   */
  readonly credentials: LocalS3Credentials;
  /** Fault injection for the next requests. */
  readonly faults: FaultInjector;
  /** Every request so far, in arrival order (a live array; `reset()` empties it). */
  readonly requests: readonly RecordedRequest[];
  /** The path-style URL of an object (unsigned). */
  objectUrl(bucket: string, key: string): string;
  /** An object with its whole body, or `undefined`. Reads the store directly (no auth, no faults). */
  getObject(bucket: string, key: string): Promise<LocalS3Object | undefined>;
  /** An object's attributes without its body, or `undefined`. */
  headObject(bucket: string, key: string): Promise<LocalS3ObjectInfo | undefined>;
  /** A stream of an object's body (bounded memory, for large objects), or `undefined`. */
  openObject(bucket: string, key: string): Readable | undefined;
  /** Objects of a bucket (optionally under `prefix`), in key order; `[]` for a missing bucket. */
  listObjects(bucket: string, prefix?: string): Promise<LocalS3ObjectInfo[]>;
  /** Creates a bucket (a no-op when it exists). */
  createBucket(name: string): Promise<void>;
  /** Resolves with the next request that arrives (and matches `filter`). */
  waitForRequest(filter?: (request: RecordedRequest) => boolean): Promise<RecordedRequest>;
  /** Deletes every bucket and object, clears faults, latency and request records. */
  reset(): Promise<void>;
  /** Stops the server, destroying open (e.g. hung) connections. Idempotent. */
  close(): Promise<void>;
}

const HIDDEN_QUERY = new Set(['x-amz-signature', 'x-amz-credential', 'x-amz-security-token']);
const HIDDEN_HEADERS = new Set(['authorization', 'x-amz-security-token']);

function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else query[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function publicPath(rawPath: string, rawQuery: string): string {
  const kept = rawQuery.split('&').filter((pair) => {
    if (pair === '') return false;
    const eq = pair.indexOf('=');
    return !HIDDEN_QUERY.has((eq < 0 ? pair : pair.slice(0, eq)).toLowerCase());
  });
  return kept.length > 0 ? `${rawPath}?${kept.join('&')}` : rawPath;
}

function info(object: StoredObject): LocalS3ObjectInfo {
  return {
    bucket: object.bucket,
    key: object.key,
    size: object.size,
    etag: object.etag,
    contentType: object.contentType,
    contentEncoding: object.contentEncoding,
    contentDisposition: object.contentDisposition,
    cacheControl: object.cacheControl,
    contentLanguage: object.contentLanguage,
    expires: object.expires,
    metadata: object.metadata,
    checksums: object.checksums,
    lastModified: object.lastModified,
    partsCount: object.partsCount,
  };
}

/** Waits for the rest of a request body, discarding it. */
async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await finished(req).catch(() => undefined);
}

/**
 * Starts an S3-compatible server on 127.0.0.1 that verifies SigV4 like S3 (header-signed requests
 * and presigned URLs), with fault injection and request records for tests.
 *
 * Path-style addressing only (`http://127.0.0.1:<port>/<bucket>/<key>`): configure clients with
 * `forcePathStyle: true` (AWS SDK) or `addressing_style: 'path'` (boto3). Buckets are created on
 * the first write unless `autoCreateBuckets: false`.
 *
 * @example
 * const s3 = await startLocalS3();
 * const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
 * s3.faults.failNext(1, { status: 503, code: 'SlowDown', retryAfterSeconds: 1 });
 * // ... exercise the code under test ...
 * await s3.close();
 */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const credentialList =
    options.credentials === undefined
      ? [LOCAL_S3_CREDENTIALS]
      : Array.isArray(options.credentials)
        ? (options.credentials as readonly LocalS3Credentials[])
        : [options.credentials as LocalS3Credentials];
  if (credentialList.length === 0) throw new RangeError('startLocalS3: credentials must not be empty');
  const region = options.region ?? LOCAL_S3_REGION;
  const now = options.now ?? Date.now;
  const autoCreateBuckets = options.autoCreateBuckets ?? true;
  const store = await ObjectStore.open(options.dir);
  const verifier = new SigV4Verifier({ credentials: credentialList, region, now });
  const faults = new FaultInjector();
  const requests: MutableRecord[] = [];
  const waiters = new Set<{
    filter: (r: RecordedRequest) => boolean;
    resolve: (r: RecordedRequest) => void;
  }>();
  const closing = new AbortController();
  let seq = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('Server', 'LocalS3');
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if (!HIDDEN_HEADERS.has(name) && values !== undefined) headers[name] = values.join(', ');
    }
    const record: MutableRecord = {
      seq: seq++,
      requestId,
      method,
      path: publicPath(rawPath, rawQuery),
      operation: 'Unsupported',
      bucket: undefined,
      key: undefined,
      headers,
      status: undefined,
      errorCode: undefined,
      bytes: 0,
      stored: false,
      fault: undefined,
    };
    requests.push(record);
    // Count body bytes without starting the flow: whoever reads the body later sees every chunk.
    req.on('data', (chunk: Buffer) => {
      record.bytes += chunk.byteLength;
    });
    req.pause();
    res.on('finish', () => {
      record.status = res.statusCode;
    });

    let query: Record<string, string | string[]> = {};
    try {
      query = parseQuery(rawQuery);
      const segments = rawPath.split('/');
      const bucket = segments[1] ? decodeURIComponent(segments[1]) : undefined;
      const rawKey = segments.length > 2 ? segments.slice(2).join('/') : '';
      record.bucket = bucket;
      record.key = rawKey === '' ? undefined : decodeURIComponent(rawKey);
    } catch {
      record.operation = 'Unsupported';
      notify(record);
      await respondError(
        req,
        res,
        record,
        new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI."),
      );
      return;
    }
    record.operation = routeOperation(method, record.bucket, record.key, query, req.headers);
    notify(record);

    try {
      if (faults.latencyMs > 0) await sleep(faults.latencyMs, undefined, { signal: closing.signal });
      const fault = faults.take({ method, bucket: record.bucket, key: record.key });
      if (fault !== undefined) {
        record.fault = fault.kind;
        if (await applyFault(fault, req, res, record)) return;
      }
      const auth = await verifier.verify({ method, rawPath, query, headers: req.headersDistinct });
      const call: S3Call = {
        req,
        res,
        operation: record.operation,
        bucket: record.bucket,
        key: record.key,
        query,
        auth,
        store,
        autoCreateBuckets,
        region,
        stored: false,
      };
      const prefixes = auth.credentials.keyPrefixes;
      if (prefixes !== undefined) {
        const touched = keysTouched(call);
        if (touched === 'bucket' || touched.keys.some((key) => !prefixes.some((p) => key.startsWith(p)))) {
          throw s3Errors.accessDenied();
        }
      }
      await runOperation(call);
      record.stored = call.stored;
    } catch (error) {
      if (closing.signal.aborted) return;
      await respondError(req, res, record, error);
    }
  }

  /** Applies a fault; returns true when the request is finished with (answered, reset or hung). */
  async function applyFault(fault: Fault, req: IncomingMessage, res: ServerResponse, record: MutableRecord) {
    switch (fault.kind) {
      case 'delay':
        await sleep(fault.ms, undefined, { signal: closing.signal });
        return false;
      case 'fail': {
        const headers: Record<string, string> = {};
        if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
        await respondError(
          req,
          res,
          record,
          new S3Error(fault.status, fault.code, fault.message, {}, headers),
        );
        return true;
      }
      case 'reset': {
        const reset = () => {
          if (!req.socket.destroyed) req.socket.resetAndDestroy();
        };
        if (fault.afterBodyBytes === 0 || record.bytes >= fault.afterBodyBytes) {
          reset();
          return true;
        }
        req.on('data', () => {
          if (record.bytes >= fault.afterBodyBytes) reset();
        });
        await drain(req);
        reset(); // the body was shorter than afterBodyBytes: reset before answering
        return true;
      }
      case 'hang':
        await drain(req);
        await new Promise<void>((resolve) => {
          if (closing.signal.aborted) resolve();
          closing.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        return true;
    }
  }

  async function respondError(
    req: IncomingMessage,
    res: ServerResponse,
    record: MutableRecord,
    error: unknown,
  ) {
    const s3Error =
      error instanceof S3Error
        ? error
        : new S3Error(
            500,
            'InternalError',
            `We encountered an internal error: ${(error as Error)?.message ?? error}`,
          );
    record.errorCode = s3Error.s3Code;
    if (req.socket.destroyed || res.headersSent) {
      if (!res.headersSent) return;
      res.destroy();
      return;
    }
    // Read the rest of the body first, so the client sees the answer rather than a broken pipe.
    await drain(req);
    if (req.socket.destroyed) return;
    const requestId = res.getHeader('x-amz-request-id') as string;
    const resource = record.path.split('?')[0] ?? '/';
    const body =
      req.method === 'HEAD'
        ? undefined
        : errorDocument(s3Error.s3Code, s3Error.message, requestId, { ...s3Error.extra, Resource: resource });
    const bytes = body === undefined ? undefined : Buffer.from(body);
    res.writeHead(s3Error.status, {
      ...s3Error.headers,
      'Content-Type': 'application/xml',
      'Content-Length': bytes?.byteLength ?? 0,
    });
    res.end(bytes);
  }

  function notify(record: RecordedRequest): void {
    for (const waiter of waiters) {
      if (waiter.filter(record)) {
        waiters.delete(waiter);
        waiter.resolve(record);
      }
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A bug in the server itself: answer 500 if we still can, never crash the test process.
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error));
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;

  return {
    endpoint,
    port,
    region,
    get credentials() {
      return { ...credentialList[0]! };
    },
    faults,
    requests,
    objectUrl: (bucket, key) =>
      `${endpoint}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`,
    async getObject(bucket, key) {
      const object = store.getObject(bucket, key);
      if (object === undefined) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of openBlob(object.blob)) chunks.push(chunk as Buffer);
      return { ...info(object), body: Buffer.concat(chunks) };
    },
    async headObject(bucket, key) {
      const object = store.getObject(bucket, key);
      return object === undefined ? undefined : info(object);
    },
    openObject(bucket, key) {
      const object = store.getObject(bucket, key);
      return object === undefined ? undefined : openBlob(object.blob);
    },
    async listObjects(bucket, prefix) {
      return store.listObjects(bucket, prefix).map(info);
    },
    async createBucket(name) {
      await store.createBucket(name);
    },
    waitForRequest(filter = () => true) {
      return new Promise((resolve) => {
        waiters.add({ filter, resolve });
      });
    },
    async reset() {
      faults.clear();
      requests.length = 0;
      await store.reset();
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
