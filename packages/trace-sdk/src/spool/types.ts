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
   * @deprecated Use `maxPendingBytes`. Batches at the compression workers at once; when given (and
   * `maxPendingBytes` is not), `maxPendingBytes` is this many batches. 0 means the default.
   */
  readonly maxInFlight?: number | undefined;
  /**
   * Uncompressed bytes at the compression workers at once (default 8 MiB). Past it, batches are
   * written raw to an unlinked file in `spoolDir` and compressed from there; only when that fails too
   * are they dropped (and counted). `append` never blocks and never compresses.
   */
  readonly maxPendingBytes?: number | undefined;
  /**
   * zlib compression level: 0-9, or -1 for zlib's default (6). Default 1, chosen by measurement
   * (docs/performance.md): on agent traces it costs ~10% more bytes than 6 for a third of the CPU.
   */
  readonly level?: number | undefined;
  /**
   * Durability bound (ms, default 2000): everything appended longer ago than this is on disk in the
   * spill file as complete gzip members, whatever the trace size, so a killed process loses at most
   * this much. 0 disables it (members then stay in memory up to `memoryThresholdBytes`).
   */
  readonly flushIntervalMs?: number | undefined;
  /**
   * How long (ms, default 10000) a recovery flusher must see the spill file's lease unrenewed before
   * it may take the file. The recording renews it every quarter of this.
   */
  readonly leaseMs?: number | undefined;
  /**
   * Compressed bytes kept in memory when the spool directory cannot be written (default 64 MiB);
   * past it members are dropped and counted. The trace is still sealed and uploaded.
   */
  readonly memoryFallbackBytes?: number | undefined;
}

/** Why the spool directory could not hold the trace (the trace was kept in memory instead). */
export interface SpoolUnavailableInfo {
  /** The errno code (`EROFS`, `ENOSPC`, `EACCES`, `ENOTDIR`, ...), or `ERR_SPOOL_IO`. */
  readonly code: string;
  /** What failed, in words (no paths' contents, no secrets). */
  readonly reason: string;
}

/**
 * Where serialized lines go while recording. `append` is synchronous and keeps memory bounded
 * whatever the producer's pace; compression runs on worker threads.
 */
export interface EventSpool {
  /** Appends one complete JSONL line, including its trailing `\n`. Never throws. */
  append(line: string): void;
  /** Uncompressed bytes appended so far. */
  readonly uncompressedBytes: number;
  /**
   * Compresses what is pending now as its own member and resolves once every member so far is on
   * disk in the spill file (or, when the spool directory failed, in memory): a recovery point.
   * Changes where members are cut.
   */
  flush?(): Promise<void>;
  /**
   * A complete, valid artifact of `headerLine`'s member plus every member so far (what is pending is
   * cut first), without sealing: recording goes on. Its `dispose()` frees nothing of the spool's, and
   * it stays readable until the spool is sealed and its body disposed, or discarded.
   */
  snapshot?(headerLine: string): Promise<SealedBody>;
  /** Set when the spool directory could not be written; the trace is then kept in memory. */
  readonly unavailable?: SpoolUnavailableInfo | undefined;
  /** Lines appended that will not be in the body (neither memory nor disk had room for them). */
  readonly droppedLines?: number;
  /** Compresses what is pending, prepends `headerLine` as its own gzip member and returns the body. */
  seal(headerLine: string): Promise<SealedBody>;
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
