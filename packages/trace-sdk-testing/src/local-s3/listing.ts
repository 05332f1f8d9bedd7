/**
 * The listing operations of the local S3: ListObjectsV2 (prefix, delimiter, pagination, URL
 * encoding) and ListBuckets.
 *
 * @packageDocumentation
 */
import { param, requireBucket, type S3Call, sendXml } from './s3-call.js';
import { s3Errors } from './s3-error.js';
import type { StoredObject } from './store.js';
import { type XmlChild, xmlDocument } from './xml.js';

const MAX_KEYS = 1000;

function encodeKey(value: string, urlEncoding: boolean): string {
  return urlEncoding ? encodeURIComponent(value).replaceAll('%2F', '/') : value;
}

export function listObjectsV2(call: S3Call): void {
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

export function listBuckets(call: S3Call): void {
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
