/**
 * The seam between the recorder (which serializes events into JSONL lines) and the compress/spool
 * stage (which gzips them in bounded memory and seals the artifact body).
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';

/** Options for {@link EventSpool} creation. */
export interface EventSpoolOptions {
  /** Directory for spill files (and, later, failed artifacts). Created on demand. */
  readonly spoolDir: string;
  /** Compressed bytes held in memory before spilling to a temp file in `spoolDir`. */
  readonly memoryThresholdBytes?: number | undefined;
  /** Identifies the trace, so a spill file left by a killed process can be recovered. */
  readonly key: string;
  /**
   * Uncompressed bytes per gzip member (default 1 MiB, at most 4 MiB). Members are cut at the
   * first line that reaches this size, by byte count only, so the same lines always give the same bytes.
   */
  readonly batchBytes?: number | undefined;
  /**
   * Batches queued at the compression worker thread at once (default 2). Past it, `append` compresses
   * inline: backpressure by doing the work, never an unbounded queue. 0 compresses every batch inline.
   */
  readonly maxInFlight?: number | undefined;
  /** zlib compression level 0-9 (default 6, zlib's default). */
  readonly level?: number | undefined;
}

/**
 * Where serialized lines go while recording. `append` is synchronous and keeps memory bounded
 * whatever the producer's pace; compression runs on the libuv threadpool.
 */
export interface EventSpool {
  /** Appends one complete JSONL line, including its trailing `\n`. Never throws. */
  append(line: string): void;
  /** Uncompressed bytes appended so far. */
  readonly uncompressedBytes: number;
  /** Compresses what is pending, prepends `headerLine` as its own gzip member and returns the body. */
  seal(headerLine: string): Promise<SealedBody>;
  /**
   * Compresses what is pending as its own member now and waits until every line appended before
   * the call is in an emitted member. Optional until every spool has it; checkpoints need it.
   */
  flush?(): Promise<void>;
  /**
   * A complete, valid artifact of what was emitted so far, without sealing: `headerLine` as its own
   * member, then every gzip member emitted so far. Recording goes on. Optional until every spool
   * has it; checkpoint uploads need it.
   */
  snapshot?(headerLine: string): Promise<SealedBody>;
  /** Drops everything and removes temp files. Idempotent. */
  discard(): Promise<void>;
}

/** A finished artifact body: `header member ++ events member(s)`. */
export interface SealedBody {
  readonly byteLength: number;
  /** Lowercase hex SHA-256 of the whole body. */
  readonly sha256: string;
  /** A fresh stream of the whole body; callable repeatedly. */
  open(): Readable;
  /** Releases memory and temp files. Idempotent. */
  dispose(): Promise<void>;
}
