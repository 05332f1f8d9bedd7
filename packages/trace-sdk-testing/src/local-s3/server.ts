/**
 * The local S3 HTTP server: `startLocalS3()`. Each request is recorded, delayed or faulted as
 * queued, authenticated (SigV4, as S3 does), checked against key-scoped credentials, then handed to
 * its operation. Errors are answered with S3's XML error body (./error-response.ts); the public
 * types are ./local-s3-api.ts.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyFault, respondError } from './error-response.js';
import { FaultInjector } from './faults.js';
import {
  LOCAL_S3_CREDENTIALS,
  LOCAL_S3_REGION,
  type LocalS3,
  type LocalS3ObjectInfo,
  type LocalS3Options,
  type MutableRecord,
  type RecordedRequest,
} from './local-s3-api.js';
import { keysTouched, routeOperation, runOperation, type S3Call } from './operations.js';
import { HIDDEN_HEADERS, parseQuery, publicPath } from './request-url.js';
import { S3Error, s3Errors } from './s3-error.js';
import { type LocalS3Credentials, SigV4Verifier } from './sigv4-verify.js';
import { ObjectStore, openBlob, type StoredObject } from './store.js';

export {
  LOCAL_S3_ACCESS_KEY_ID,
  LOCAL_S3_CREDENTIALS,
  LOCAL_S3_REGION,
  LOCAL_S3_SECRET_ACCESS_KEY,
  type LocalS3,
  type LocalS3Object,
  type LocalS3ObjectInfo,
  type LocalS3Options,
  type RecordedRequest,
} from './local-s3-api.js';

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
        if (await applyFault(fault, req, res, record, closing.signal)) return;
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
