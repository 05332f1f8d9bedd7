/**
 * The S3 operations the local server implements, over an {@link ObjectStore}: routing a request to
 * its operation, and each operation's semantics and response. Authentication, faults and request
 * records happen before an operation runs (see `server.ts`).
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { type BodyExpectations, type ReceivedBody, receiveBody } from './body.js';
import { S3Error, s3Errors } from './s3-error.js';
import type { VerifiedRequest } from './sigv4-verify.js';
import { type ObjectAttributes, type ObjectStore, openBlob, type StoredObject } from './store.js';
import { parseCompleteMultipartUpload, type XmlChild, xmlDocument } from './xml.js';

/** Operations the local S3 routes requests to. */
export type S3Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'ListObjectsV2'
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'Unsupported';

/** A routed, authenticated request. */
export interface S3Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly operation: S3Operation;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly auth: VerifiedRequest;
  readonly store: ObjectStore;
  readonly autoCreateBuckets: boolean;
  readonly region: string;
  /** Set by operations that committed an object (PutObject, CompleteMultipartUpload). */
  stored: boolean;
}

/** Largest single PUT S3 accepts. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;
/** Smallest part S3 accepts in a multipart upload, except the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_KEYS = 1000;
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

function has(query: Readonly<Record<string, unknown>>, name: string): boolean {
  return Object.hasOwn(query, name);
}

function param(query: Readonly<Record<string, string | string[]>>, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Which operation a request is, from its method, path and query (as S3 routes path-style requests). */
export function routeOperation(
  method: string,
  bucket: string | undefined,
  key: string | undefined,
  query: Readonly<Record<string, string | string[]>>,
  headers: IncomingMessage['headers'],
): S3Operation {
  if (bucket === undefined) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (key === undefined) {
    if (method === 'PUT' && Object.keys(query).length === 0) return 'CreateBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'DELETE' && Object.keys(query).length === 0) return 'DeleteBucket';
    if (method === 'GET' && param(query, 'list-type') === '2') return 'ListObjectsV2';
    return 'Unsupported';
  }
  switch (method) {
    case 'PUT':
      if (headers['x-amz-copy-source'] !== undefined) return 'Unsupported';
      if (has(query, 'uploadId') && has(query, 'partNumber')) return 'UploadPart';
      return Object.keys(query).every(
        (name) => name === 'x-id' || name.startsWith('X-Amz-') || name.startsWith('x-amz-'),
      )
        ? 'PutObject'
        : 'Unsupported';
    case 'GET':
      return has(query, 'uploadId') || has(query, 'acl') || has(query, 'tagging')
        ? 'Unsupported'
        : 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return has(query, 'uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (has(query, 'uploads')) return 'CreateMultipartUpload';
      if (has(query, 'uploadId')) return 'CompleteMultipartUpload';
      return 'Unsupported';
    default:
      return 'Unsupported';
  }
}

/** Whether an operation writes or reads object keys, and which (for key-scoped credentials). */
export function keysTouched(
  call: Pick<S3Call, 'operation' | 'key' | 'query'>,
): { keys: string[] } | 'bucket' {
  if (call.operation === 'ListObjectsV2') return { keys: [param(call.query, 'prefix') ?? ''] };
  if (call.key !== undefined) return { keys: [call.key] };
  return 'bucket';
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  body?: string,
): void {
  const bytes = body === undefined ? undefined : Buffer.from(body);
  res.writeHead(status, { ...headers, 'Content-Length': bytes?.byteLength ?? 0 });
  res.end(bytes);
}

function sendXml(res: ServerResponse, document: string): void {
  send(res, 200, { 'Content-Type': 'application/xml' }, document);
}

function quote(hex: string): string {
  return `"${hex}"`;
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Largest total size of user metadata (names and values, UTF-8) S3 accepts on a write. */
export const MAX_METADATA_BYTES = 2048;

const META_PREFIX = 'x-amz-meta-';

/** A header value as Node received it (one char per byte) read as UTF-8, when it is valid UTF-8. */
function fromHeaderBytes(value: string): string {
  if (!/[^\x00-\x7f]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : value;
}

/**
 * A metadata value as S3 returns it: as is when US-ASCII, otherwise UTF-8 in an RFC 2047
 * encoded word (`=?UTF-8?B?...?=`), which is what S3 sends back for non-ASCII metadata.
 */
function mailSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/**
 * User metadata as S3 takes it: every `x-amz-meta-*` header (repeated ones joined with `,`), plus,
 * on a presigned URL, every `x-amz-meta-*` query parameter (the AWS SDK hoists them there, and
 * the signature covers them). Names are lowercased, values kept as sent.
 */
function userMetadata(call: Pick<S3Call, 'req' | 'query' | 'auth'>): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (call.auth.mode === 'presigned') {
    for (const [name, value] of Object.entries(call.query)) {
      const lower = name.toLowerCase();
      if (lower.startsWith(META_PREFIX) && lower.length > META_PREFIX.length) {
        metadata[lower.slice(META_PREFIX.length)] = Array.isArray(value) ? value.join(',') : value;
      }
    }
  }
  for (const [name, values] of Object.entries(call.req.headersDistinct)) {
    if (name.startsWith(META_PREFIX) && name.length > META_PREFIX.length && values !== undefined) {
      // Node hands header bytes over as latin1; S3 reads them as UTF-8.
      metadata[name.slice(META_PREFIX.length)] = fromHeaderBytes(values.join(','));
    }
  }
  const size = Object.entries(metadata).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
    0,
  );
  if (size > MAX_METADATA_BYTES) {
    throw new S3Error(
      400,
      'MetadataTooLarge',
      'Your metadata headers exceed the maximum allowed metadata size',
      {
        Size: String(size),
        MaxSizeAllowed: String(MAX_METADATA_BYTES),
      },
    );
  }
  return metadata;
}

/**
 * What S3 stores with an object from the write request: `Content-Type`, `Content-Encoding`
 * (without `aws-chunked`), `Content-Disposition`, `Cache-Control`, `Content-Language`, `Expires`
 * and user metadata.
 */
function attributesFrom(
  call: Pick<S3Call, 'req' | 'query' | 'auth'>,
): Omit<ObjectAttributes, 'etag' | 'checksums'> {
  const { req } = call;
  const encodings = (header(req, 'content-encoding') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked');
  return {
    contentType: header(req, 'content-type'),
    contentEncoding: encodings.length > 0 ? encodings.join(',') : undefined,
    contentDisposition: header(req, 'content-disposition'),
    cacheControl: header(req, 'cache-control'),
    contentLanguage: header(req, 'content-language'),
    expires: header(req, 'expires'),
    metadata: userMetadata(call),
  };
}

function checksumHeaders(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([alg, value]) => [`x-amz-checksum-${alg}`, value]));
}

/** Reads the body of a PUT into the store, after the length checks S3 makes first. */
async function receive(call: S3Call): Promise<ReceivedBody> {
  const { req } = call;
  const decodedLength = header(req, 'x-amz-decoded-content-length');
  const contentLength = header(req, 'content-length');
  if (contentLength === undefined && decodedLength === undefined) {
    throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  const declared = Number(decodedLength ?? contentLength);
  if (!Number.isSafeInteger(declared) || declared < 0) {
    throw s3Errors.invalidArgument('Content-Length must be a non-negative integer');
  }
  if (declared > MAX_PUT_BYTES) {
    throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(declared),
      MaxSizeAllowed: String(MAX_PUT_BYTES),
    });
  }
  const checksums = new Map<string, string>();
  for (const [name, value] of Object.entries(call.query)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-checksum-') && typeof value === 'string')
      checksums.set(lower.slice(15), value);
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (
      name.startsWith('x-amz-checksum-') &&
      name !== 'x-amz-checksum-type' &&
      name !== 'x-amz-checksum-algorithm'
    ) {
      checksums.set(name.slice(15), Array.isArray(value) ? value[0]! : value!);
    }
  }
  const trailerAlgorithms = (header(req, 'x-amz-trailer') ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.startsWith('x-amz-checksum-'))
    .map((t) => t.slice(15));
  const expectations: BodyExpectations = {
    payload: call.auth.payload,
    awsChunked:
      call.auth.payload.kind === 'streaming-trailer' ||
      (header(req, 'content-encoding') ?? '')
        .toLowerCase()
        .split(',')
        .some((e) => e.trim() === 'aws-chunked'),
    decodedLength: decodedLength === undefined ? undefined : Number(decodedLength),
    contentMd5: header(req, 'content-md5'),
    checksums,
    trailerAlgorithms,
  };
  return receiveBody(req, call.store.createSink(), expectations);
}

async function ensureBucketForWrite(call: S3Call, bucket: string): Promise<void> {
  if (call.store.hasBucket(bucket)) return;
  if (!call.autoCreateBuckets) throw s3Errors.noSuchBucket(bucket);
  await call.store.createBucket(bucket);
}

function requireBucket(call: S3Call, bucket: string): void {
  if (!call.store.hasBucket(bucket)) throw s3Errors.noSuchBucket(bucket);
}

function objectHeaders(object: StoredObject, withChecksums: boolean): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'Content-Type': object.contentType ?? DEFAULT_CONTENT_TYPE,
    ETag: object.etag,
    'Last-Modified': object.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
  };
  if (object.contentEncoding !== undefined) headers['Content-Encoding'] = object.contentEncoding;
  if (object.contentDisposition !== undefined) headers['Content-Disposition'] = object.contentDisposition;
  if (object.cacheControl !== undefined) headers['Cache-Control'] = object.cacheControl;
  if (object.contentLanguage !== undefined) headers['Content-Language'] = object.contentLanguage;
  if (object.expires !== undefined) headers['Expires'] = object.expires;
  if (object.partsCount !== undefined) headers['x-amz-mp-parts-count'] = object.partsCount;
  for (const [name, value] of Object.entries(object.metadata))
    headers[`x-amz-meta-${name}`] = mailSafe(value);
  // Like S3, checksums come back only when asked for (x-amz-checksum-mode: ENABLED), and never for
  // multipart objects (theirs are composite, which clients skip validating anyway).
  if (withChecksums && object.partsCount === undefined)
    Object.assign(headers, checksumHeaders(object.checksums));
  return headers;
}

/** Parses a single `Range: bytes=...`; `undefined` when absent or not satisfiable as one range. */
function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | 'invalid' | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined; // ignored, as S3 ignores malformed ranges
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

async function getObject(call: S3Call, headOnly: boolean): Promise<void> {
  const bucket = call.bucket!;
  requireBucket(call, bucket);
  const object = call.store.getObject(bucket, call.key!);
  if (object === undefined) throw s3Errors.noSuchKey(call.key!);
  const withChecksums = header(call.req, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
  const headers = objectHeaders(object, withChecksums);
  const range = parseRange(header(call.req, 'range'), object.size);
  if (range === 'invalid') {
    throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', {
      ActualObjectSize: String(object.size),
    });
  }
  const status = range === undefined ? 200 : 206;
  if (range !== undefined) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${object.size}`;
    // A checksum covers the whole object, not a range.
    for (const name of Object.keys(headers)) if (name.startsWith('x-amz-checksum-')) delete headers[name];
  }
  const length = range === undefined ? object.size : range.end - range.start + 1;
  call.res.writeHead(status, { ...headers, 'Content-Length': length });
  if (headOnly || length === 0) {
    call.res.end();
    return;
  }
  await pipeline(openBlob(object.blob, range), call.res);
}

async function putObject(call: S3Call): Promise<void> {
  const bucket = call.bucket!;
  const key = call.key!;
  await ensureBucketForWrite(call, bucket);
  const attributes = attributesFrom(call); // before the body, so a refusal leaves nothing behind
  const body = await receive(call);
  const existing = call.store.getObject(bucket, key);
  const ifNoneMatch = header(call.req, 'if-none-match');
  const ifMatch = header(call.req, 'if-match');
  if (
    (ifNoneMatch === '*' && existing !== undefined) ||
    (ifMatch !== undefined && existing?.etag !== ifMatch)
  ) {
    await call.store.discard(body.blob);
    throw new S3Error(
      412,
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      {
        Condition: ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Match',
      },
    );
  }
  const etag = quote(body.md5Hex);
  await call.store.putObject(bucket, key, body.blob, {
    ...attributes,
    etag,
    checksums: body.checksums,
  });
  call.stored = true;
  send(call.res, 200, { ETag: etag, ...checksumHeaders(body.checksums) });
}

async function deleteObject(call: S3Call): Promise<void> {
  requireBucket(call, call.bucket!);
  await call.store.deleteObject(call.bucket!, call.key!);
  send(call.res, 204, {});
}

function encodeKey(value: string, urlEncoding: boolean): string {
  return urlEncoding ? encodeURIComponent(value).replaceAll('%2F', '/') : value;
}

function listObjectsV2(call: S3Call): void {
  const bucket = call.bucket!;
  requireBucket(call, bucket);
  const prefix = param(call.query, 'prefix') ?? '';
  const delimiter = param(call.query, 'delimiter') ?? '';
  const startAfter = param(call.query, 'start-after');
  const token = param(call.query, 'continuation-token');
  const maxKeysParam = param(call.query, 'max-keys');
  const maxKeys = maxKeysParam === undefined ? MAX_KEYS : Number(maxKeysParam);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw s3Errors.invalidArgument('Provided max-keys not an integer or within integer range', {
      ArgumentName: 'max-keys',
      ArgumentValue: maxKeysParam ?? '',
    });
  }
  let marker = startAfter;
  if (token !== undefined) {
    marker = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || Buffer.from(marker, 'utf8').toString('base64url') !== token) {
      throw s3Errors.invalidArgument('The continuation token provided is incorrect', {
        ArgumentName: 'continuation-token',
      });
    }
  }
  // Keys and rolled-up common prefixes, in key order; each counts once toward max-keys.
  const entries: ({ kind: 'key'; object: StoredObject } | { kind: 'prefix'; prefix: string })[] = [];
  for (const object of call.store.listObjects(bucket, prefix)) {
    const rest = object.key.slice(prefix.length);
    const cut = delimiter === '' ? -1 : rest.indexOf(delimiter);
    if (cut < 0) {
      entries.push({ kind: 'key', object });
      continue;
    }
    const common = prefix + rest.slice(0, cut + delimiter.length);
    const last = entries.at(-1);
    if (last?.kind !== 'prefix' || last.prefix !== common) entries.push({ kind: 'prefix', prefix: common });
  }
  const name = (e: (typeof entries)[number]) => (e.kind === 'key' ? e.object.key : e.prefix);
  const after =
    marker === undefined
      ? entries
      : entries.filter((e) => Buffer.compare(Buffer.from(name(e)), Buffer.from(marker)) > 0);
  const page = after.slice(0, maxKeys);
  const truncated = after.length > page.length;
  const urlEncoding = param(call.query, 'encoding-type') === 'url';
  const children: XmlChild[] = [
    ['Name', bucket],
    ['Prefix', encodeKey(prefix, urlEncoding)],
    ['Delimiter', delimiter === '' ? undefined : encodeKey(delimiter, urlEncoding)],
    ['MaxKeys', maxKeys],
    ['KeyCount', page.length],
    ['IsTruncated', truncated],
    ['ContinuationToken', token],
    [
      'NextContinuationToken',
      truncated && page.length > 0
        ? Buffer.from(name(page.at(-1)!), 'utf8').toString('base64url')
        : undefined,
    ],
    ['StartAfter', startAfter === undefined ? undefined : encodeKey(startAfter, urlEncoding)],
    ['EncodingType', urlEncoding ? 'url' : undefined],
  ];
  for (const entry of page) {
    if (entry.kind === 'key') {
      children.push([
        'Contents',
        [
          ['Key', encodeKey(entry.object.key, urlEncoding)],
          ['LastModified', entry.object.lastModified.toISOString()],
          ['ETag', entry.object.etag],
          ['Size', entry.object.size],
          ['StorageClass', 'STANDARD'],
        ],
      ]);
    } else {
      children.push(['CommonPrefixes', [['Prefix', encodeKey(entry.prefix, urlEncoding)]]]);
    }
  }
  sendXml(call.res, xmlDocument('ListBucketResult', children));
}

function listBuckets(call: S3Call): void {
  const buckets: XmlChild[] = call.store.bucketNames().map(
    (name) =>
      [
        'Bucket',
        [
          ['Name', name],
          ['CreationDate', new Date(0).toISOString()],
        ],
      ] as const,
  );
  sendXml(
    call.res,
    xmlDocument('ListAllMyBucketsResult', [
      [
        'Owner',
        [
          ['ID', 'local-s3'],
          ['DisplayName', 'local-s3'],
        ],
      ],
      ['Buckets', buckets],
    ]),
  );
}

function uploadFor(call: S3Call) {
  const uploadId = param(call.query, 'uploadId') ?? '';
  const upload = call.store.getUpload(uploadId);
  if (upload === undefined || upload.bucket !== call.bucket || upload.key !== call.key) {
    throw s3Errors.noSuchUpload(uploadId);
  }
  return upload;
}

async function createMultipartUpload(call: S3Call): Promise<void> {
  await ensureBucketForWrite(call, call.bucket!);
  const upload = call.store.createUpload(call.bucket!, call.key!, attributesFrom(call));
  sendXml(
    call.res,
    xmlDocument('InitiateMultipartUploadResult', [
      ['Bucket', upload.bucket],
      ['Key', upload.key],
      ['UploadId', upload.uploadId],
    ]),
  );
}

async function uploadPart(call: S3Call): Promise<void> {
  const upload = uploadFor(call);
  const partNumberParam = param(call.query, 'partNumber') ?? '';
  const partNumber = Number(partNumberParam);
  if (!/^\d+$/.test(partNumberParam) || partNumber < 1 || partNumber > 10_000) {
    throw s3Errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: partNumberParam,
    });
  }
  const body = await receive(call);
  if (call.store.getUpload(upload.uploadId) === undefined) {
    // Aborted or completed while this part was arriving.
    await call.store.discard(body.blob);
    throw s3Errors.noSuchUpload(upload.uploadId);
  }
  const etag = quote(body.md5Hex);
  await call.store.putPart(upload, { partNumber, etag, blob: body.blob });
  send(call.res, 200, { ETag: etag, ...checksumHeaders(body.checksums) });
}

async function readSmallBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw s3Errors.malformedXML();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function completeMultipartUpload(call: S3Call): Promise<void> {
  const upload = uploadFor(call);
  const parts = parseCompleteMultipartUpload(await readSmallBody(call.req, 1024 * 1024));
  if (parts === undefined) throw s3Errors.malformedXML();
  if (parts.length === 0) throw s3Errors.invalidRequest('You must specify at least one part');
  // Checked in S3's order: the list's order, then each part's existence and ETag, then sizes.
  for (const [index, part] of parts.entries()) {
    if (index > 0 && part.partNumber <= parts[index - 1]!.partNumber) {
      throw new S3Error(
        400,
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
      );
    }
  }
  const chosen = parts.map((part) => {
    const stored = upload.parts.get(part.partNumber);
    if (stored === undefined || unquote(stored.etag) !== unquote(part.etag)) {
      throw new S3Error(
        400,
        'InvalidPart',
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { PartNumber: String(part.partNumber), ETag: part.etag },
      );
    }
    return stored;
  });
  for (const [index, part] of chosen.entries()) {
    if (index < chosen.length - 1 && part.blob.size < MIN_PART_BYTES) {
      throw new S3Error(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed size',
        {
          ProposedSize: String(part.blob.size),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(part.partNumber),
        },
      );
    }
  }
  const md5s = Buffer.concat(chosen.map((p) => Buffer.from(unquote(p.etag), 'hex')));
  const etag = quote(`${createHash('md5').update(md5s).digest('hex')}-${chosen.length}`);
  const size = chosen.reduce((sum, p) => sum + p.blob.size, 0);
  const blob = { size, segments: chosen.flatMap((p) => p.blob.segments) };
  await call.store.endUpload(upload, new Set(chosen.map((p) => p.partNumber)));
  await call.store.putObject(
    upload.bucket,
    upload.key,
    blob,
    { ...upload.attributes, etag, checksums: {} },
    chosen.length,
  );
  call.stored = true;
  sendXml(
    call.res,
    xmlDocument('CompleteMultipartUploadResult', [
      ['Location', `/${upload.bucket}/${upload.key}`],
      ['Bucket', upload.bucket],
      ['Key', upload.key],
      ['ETag', etag],
    ]),
  );
}

async function abortMultipartUpload(call: S3Call): Promise<void> {
  const upload = uploadFor(call);
  await call.store.endUpload(upload);
  send(call.res, 204, {});
}

/** Runs the call's operation and writes its response; throws {@link S3Error} for S3 error answers. */
export async function runOperation(call: S3Call): Promise<void> {
  switch (call.operation) {
    case 'ListBuckets':
      return listBuckets(call);
    case 'CreateBucket':
      await call.store.createBucket(call.bucket!);
      return send(call.res, 200, { Location: `/${call.bucket}` });
    case 'HeadBucket':
      requireBucket(call, call.bucket!);
      return send(call.res, 200, { 'x-amz-bucket-region': call.region });
    case 'DeleteBucket':
      requireBucket(call, call.bucket!);
      if (!(await call.store.deleteBucket(call.bucket!))) {
        throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', {
          BucketName: call.bucket!,
        });
      }
      return send(call.res, 204, {});
    case 'ListObjectsV2':
      return listObjectsV2(call);
    case 'PutObject':
      return putObject(call);
    case 'GetObject':
      return getObject(call, false);
    case 'HeadObject':
      return getObject(call, true);
    case 'DeleteObject':
      return deleteObject(call);
    case 'CreateMultipartUpload':
      return createMultipartUpload(call);
    case 'UploadPart':
      return uploadPart(call);
    case 'CompleteMultipartUpload':
      return completeMultipartUpload(call);
    case 'AbortMultipartUpload':
      return abortMultipartUpload(call);
    default:
      throw s3Errors.notImplemented(
        `${call.req.method} ${call.bucket === undefined ? '/' : 'this resource'}`,
      );
  }
}
