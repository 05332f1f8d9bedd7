/**
 * The S3 operations the local server implements: routing a request to its operation, and running
 * it. The operations themselves live by kind: ./object-ops.ts (single objects), ./multipart.ts
 * (multipart uploads), ./listing.ts (listing); what a write request carries is ./write-request.ts.
 * Authentication, faults and request records happen before an operation runs (see `server.ts`).
 *
 * @packageDocumentation
 */
import type { IncomingMessage } from 'node:http';
import { listBuckets, listObjectsV2 } from './listing.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  uploadPart,
} from './multipart.js';
import { deleteObject, getObject, putObject } from './object-ops.js';
import { has, param, requireBucket, type S3Call, type S3Operation, send } from './s3-call.js';
import { S3Error, s3Errors } from './s3-error.js';

export type { S3Call, S3Operation } from './s3-call.js';

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
