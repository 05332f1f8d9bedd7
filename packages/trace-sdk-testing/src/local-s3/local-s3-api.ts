/**
 * The local S3's public surface: its default credentials and region, the options of
 * `startLocalS3()`, the handle it returns, and what it records per request and reports per object.
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';
import type { Fault, FaultInjector } from './faults.js';
import type { S3Operation } from './operations.js';
import type { LocalS3Credentials } from './sigv4-verify.js';

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

export type MutableRecord = { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] };

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
