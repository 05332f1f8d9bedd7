/**
 * The single-object operations of the local S3: GetObject (with one range) and HeadObject,
 * PutObject and DeleteObject.
 *
 * @packageDocumentation
 */
import { pipeline } from 'node:stream/promises';
import { ensureBucketForWrite, header, quote, requireBucket, type S3Call, send } from './s3-call.js';
import { S3Error, s3Errors } from './s3-error.js';
import { openBlob, type StoredObject } from './store.js';
import { attributesFrom, checksumHeaders, receive } from './write-request.js';

const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/**
 * A metadata value as S3 returns it: as is when US-ASCII, otherwise UTF-8 in an RFC 2047
 * encoded word (`=?UTF-8?B?...?=`), which is what S3 sends back for non-ASCII metadata.
 */
function mailSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
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

export async function getObject(call: S3Call, headOnly: boolean): Promise<void> {
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

export async function putObject(call: S3Call): Promise<void> {
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

export async function deleteObject(call: S3Call): Promise<void> {
  requireBucket(call, call.bucket!);
  await call.store.deleteObject(call.bucket!, call.key!);
  send(call.res, 204, {});
}
