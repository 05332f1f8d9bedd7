/**
 * Loopback servers for the transport tests: a scripted S3-like PUT endpoint (replies, resets,
 * hangs, checksum checks) and a minimal Lambda Invoke API in front of a handler. Real sockets
 * on 127.0.0.1, ephemeral ports.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the server saw. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** What the PUT server does with the next request. */
export type Reply =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  /** Destroy the connection once this many body bytes arrived. */
  | { readonly reset: number }
  /** Read the body, never answer. */
  | { readonly hang: true };

/** S3's XML error body. */
export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>R1</RequestId></Error>`;
}

export interface PutServer {
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** Objects stored by successful PUTs, by decoded path (`/bucket/key`). */
  readonly objects: Map<string, Buffer>;
  /** Content-Type given when each multipart upload was created, by path. */
  readonly multipartTypes: Map<string, string | undefined>;
  /** Multipart uploads created and neither completed nor aborted. */
  openUploads(): number;
  /** Replies for the next requests, in order; when empty, requests succeed. */
  readonly replies: Reply[];
  /** Resolves when the next request has started arriving. */
  nextRequest(): Promise<void>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= limit) resolve(Buffer.concat(chunks));
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * An S3-like PUT endpoint: stores bodies by path (and through path-style multipart uploads) and
 * answers 200 with an MD5 ETag, unless a scripted reply says otherwise. Like S3, it rejects a body that does not match a sent
 * `x-amz-checksum-sha256` with 400 BadDigest.
 */
export async function startPutServer(): Promise<PutServer> {
  const requests: RecordedRequest[] = [];
  const objects = new Map<string, Buffer>();
  const replies: Reply[] = [];
  let waiters: Array<() => void> = [];
  // The multipart calls lib-storage makes: create, upload part, complete, abort.
  const uploads = new Map<
    string,
    { path: string; parts: Map<number, Buffer>; contentType: string | undefined }
  >();
  const multipart = (req: IncomingMessage, res: ServerResponse, target: URL, body: Buffer): boolean => {
    const path = decodeURIComponent(target.pathname);
    const uploadId = target.searchParams.get('uploadId');
    if (req.method === 'POST' && target.searchParams.has('uploads')) {
      const id = `upload-${uploads.size + 1}`;
      uploads.set(id, { path, parts: new Map(), contentType: req.headers['content-type'] });
      const [, bucket, ...key] = path.split('/');
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key.join('/')}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
      );
      return true;
    }
    if (uploadId === null) return false;
    const upload = uploads.get(uploadId);
    if (!upload) {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end(s3ErrorXml('NoSuchUpload', 'The specified upload does not exist.'));
      return true;
    }
    if (req.method === 'PUT') {
      upload.parts.set(Number(target.searchParams.get('partNumber')), body);
      res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
      res.end();
    } else if (req.method === 'POST') {
      const ordered = [...upload.parts.entries()].sort(([a], [b]) => a - b).map(([, part]) => part);
      objects.set(upload.path, Buffer.concat(ordered));
      multipartTypes.set(upload.path, upload.contentType);
      uploads.delete(uploadId);
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        `<CompleteMultipartUploadResult><ETag>"multi-${ordered.length}"</ETag></CompleteMultipartUploadResult>`,
      );
    } else if (req.method === 'DELETE') {
      uploads.delete(uploadId);
      res.writeHead(204);
      res.end();
    }
    return true;
  };
  const multipartTypes = new Map<string, string | undefined>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const current = waiters;
    waiters = [];
    for (const w of current) w();
    const reply = replies.shift();
    if (reply && 'reset' in reply) {
      await readBody(req, reply.reset);
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (reply && 'hang' in reply) return;
    if (reply) {
      res.writeHead(reply.status, { 'content-type': 'application/xml', ...reply.headers });
      res.end(reply.body ?? '');
      return;
    }
    const target = new URL(req.url ?? '/', 'http://x');
    if (multipart(req, res, target, body)) return;
    const checksum = req.headers['x-amz-checksum-sha256'];
    if (typeof checksum === 'string' && createHash('sha256').update(body).digest('base64') !== checksum) {
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end(s3ErrorXml('BadDigest', 'The SHA256 you specified did not match the calculated checksum.'));
      return;
    }
    const path = decodeURIComponent(target.pathname);
    objects.set(path, body);
    res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
    res.end();
  };
  const server = createServer((req, res) => {
    // A client that gives up mid-body is part of the tests, not a server failure.
    handle(req, res).catch(() => req.socket.destroy());
  });
  const origin = await listen(server);
  return {
    origin,
    requests,
    objects,
    multipartTypes,
    openUploads: () => uploads.size,
    replies,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => closeServer(server),
  };
}

/** SigV4's `YYYYMMDDTHHMMSSZ`. */
export function amzDate(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** A URL shaped like an S3 SigV4 presigned PUT (the PUT server does not check the signature). */
export function presignedLikeUrl(
  origin: string,
  bucket: string,
  key: string,
  opts: { signedAt?: Date; expiresIn?: number; signature?: string } = {},
): string {
  const url = new URL(`${origin}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);
  url.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
  url.searchParams.set('X-Amz-Credential', 'AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request');
  url.searchParams.set('X-Amz-Date', amzDate(opts.signedAt ?? new Date()));
  url.searchParams.set('X-Amz-Expires', String(opts.expiresIn ?? 900));
  url.searchParams.set('X-Amz-SignedHeaders', 'content-type;host');
  url.searchParams.set('X-Amz-Signature', opts.signature ?? 'f'.repeat(64));
  return url.href;
}

/** A scripted Lambda answer, in place of calling the handler. */
export type LambdaReply = {
  readonly status: number;
  readonly errorType: string;
  /** The error message; a function gets the raw request payload (Lambda echoes it in some errors). */
  readonly message?: string | ((payload: string) => string);
};

export interface LocalLambdaServer {
  readonly endpoint: string;
  /** Invocation payloads received (parsed JSON), in order. */
  readonly invocations: unknown[];
  /** Replies for the next invocations, in order; when empty, the handler answers. */
  readonly replies: LambdaReply[];
  close(): Promise<void>;
}

/** Lambda's synchronous payload limit, enforced like the service does (413 RequestTooLargeException). */
export const LAMBDA_LIMIT = 6 * 1024 * 1024;

/**
 * The Lambda Invoke REST API (`POST /2015-03-31/functions/<name>/invocations`) in front of
 * `handler`: a thrown error becomes `X-Amz-Function-Error: Unhandled`, as in Lambda.
 */
export async function startLambdaServer(
  handler: (event: unknown) => Promise<unknown>,
): Promise<LocalLambdaServer> {
  const invocations: unknown[] = [];
  const replies: LambdaReply[] = [];
  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    if (!/^\/2015-03-31\/functions\/[^/]+\/invocations/.test(req.url ?? '')) {
      res.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException' });
      res.end(JSON.stringify({ message: 'Function not found' }));
      return;
    }
    if (body.byteLength > LAMBDA_LIMIT) {
      res.writeHead(413, {
        'content-type': 'application/json',
        'x-amzn-errortype': 'RequestTooLargeException',
      });
      res.end(
        JSON.stringify({
          message: `Request must be smaller than ${LAMBDA_LIMIT} bytes for the InvokeFunction operation`,
        }),
      );
      return;
    }
    const reply = replies.shift();
    if (reply) {
      res.writeHead(reply.status, {
        'content-type': 'application/json',
        'x-amzn-errortype': reply.errorType,
      });
      const message =
        typeof reply.message === 'function' ? reply.message(body.toString('utf8')) : reply.message;
      res.end(JSON.stringify({ message: message ?? reply.errorType }));
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      event = body.toString('utf8');
    }
    invocations.push(event);
    try {
      const result = await handler(event);
      res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
      res.end(JSON.stringify(result));
    } catch (err) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
      res.end(JSON.stringify({ errorType: (err as Error).name, errorMessage: (err as Error).message }));
    }
  };
  const endpoint = await listen(server);
  return { endpoint, invocations, replies, close: () => closeServer(server) };
}

/** Fake AWS credentials for clients pointed at the loopback servers. */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
