/**
 * The transport contract: how a finished artifact becomes a stored object. Deliberately tiny (as
 * OpenTelemetry's `SpanExporter`): retry, spooling and telemetry wrap transports, they do not live
 * inside them.
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';

import { TRACE_CONTENT_TYPE } from '../protocol/trace-object.js';

export { TRACE_CONTENT_TYPE };

/** A finished, immutable trace body ready to upload. */
export interface TraceArtifact {
  /** The object key, always built by `traceKey`. */
  readonly key: string;
  /** Owner of the trace. */
  readonly userId: string;
  /** Task the trace records. */
  readonly taskId: string;
  /** Body size in bytes (compressed). */
  readonly byteLength: number;
  /** Lowercase hex SHA-256 of the whole body. */
  readonly sha256: string;
  /** Always `application/gzip`. */
  readonly contentType: typeof TRACE_CONTENT_TYPE;
  /** A fresh readable stream of the whole body. Callable any number of times (each retry opens anew). */
  open(): Readable;
}

/** Per-upload options. */
export interface UploadOptions {
  /** Aborts the upload; the transport rejects with `UploadError` code `ERR_UPLOAD_ABORTED`. */
  readonly signal?: AbortSignal | undefined;
}

/** What a successful upload reports. Never contains a presigned URL or credentials. */
export interface UploadReceipt {
  /** The key written. */
  readonly key: string;
  /** Where it landed, e.g. `s3://bucket/traces/u/t.jsonl.gz` or `file:///...`. */
  readonly uri?: string | undefined;
  /** ETag of the stored object, when known. */
  readonly etag?: string | undefined;
  /** Attempts made, counting the successful one. Filled in by the retry policy. */
  readonly attempts?: number | undefined;
  /**
   * The storage server's clock minus this host's, in ms, when its `Date` header showed a skew of
   * 2 s or more (positive: the server is ahead).
   */
  readonly clockSkewMs?: number | undefined;
}

/**
 * A way to store an artifact. Implementations make a single attempt and throw `UploadError`
 * (with `retryable` set) on failure; wrap them with `withRetry` for the shared retry policy.
 */
export interface TraceTransport {
  /** Short stable name for logs and metrics, e.g. `presigned-put`. */
  readonly name: string;
  /**
   * True when this transport writes with a bucket-wide grant (the legacy `s3-put-object`): results,
   * spans and the CLI then say so. Key-scoped transports leave it unset.
   */
  readonly bucketWide?: boolean | undefined;
  /** Stores `artifact` at exactly `artifact.key`. */
  upload(artifact: TraceArtifact, opts: UploadOptions): Promise<UploadReceipt>;
}
