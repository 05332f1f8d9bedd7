/**
 * A routed, authenticated request to the local S3 (the operation, bucket, key and query it names),
 * and the small helpers every operation uses to read it and write its answer.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { s3Errors } from './s3-error.js';
import type { VerifiedRequest } from './sigv4-verify.js';
import type { ObjectStore } from './store.js';

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

export function has(query: Readonly<Record<string, unknown>>, name: string): boolean {
  return Object.hasOwn(query, name);
}

export function param(query: Readonly<Record<string, string | string[]>>, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  body?: string,
): void {
  const bytes = body === undefined ? undefined : Buffer.from(body);
  res.writeHead(status, { ...headers, 'Content-Length': bytes?.byteLength ?? 0 });
  res.end(bytes);
}

export function sendXml(res: ServerResponse, document: string): void {
  send(res, 200, { 'Content-Type': 'application/xml' }, document);
}

export function quote(hex: string): string {
  return `"${hex}"`;
}

export function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export async function ensureBucketForWrite(call: S3Call, bucket: string): Promise<void> {
  if (call.store.hasBucket(bucket)) return;
  if (!call.autoCreateBuckets) throw s3Errors.noSuchBucket(bucket);
  await call.store.createBucket(bucket);
}

export function requireBucket(call: S3Call, bucket: string): void {
  if (!call.store.hasBucket(bucket)) throw s3Errors.noSuchBucket(bucket);
}
