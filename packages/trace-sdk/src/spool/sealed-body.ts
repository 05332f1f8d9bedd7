/**
 * The two shapes of a sealed artifact body: all in memory, or a header member in memory followed by
 * the events members in a spill file.
 *
 * @packageDocumentation
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { RecorderStateError } from '../errors.js';
import { ownedByThisProcess, removeFile } from './spool-files.js';
import type { SealedBody } from './types.js';

function disposedStream(): Readable {
  return new Readable({
    read() {
      this.destroy(new RecorderStateError('The sealed body was disposed'));
    },
  });
}

/** A body held in memory as a list of gzip members (header first). */
export function memoryBody(parts: readonly Buffer[], sha256: string): SealedBody {
  let chunks: readonly Buffer[] | undefined = parts;
  const byteLength = parts.reduce((n, p) => n + p.length, 0);
  return {
    byteLength,
    sha256,
    open: () => (chunks === undefined ? disposedStream() : Readable.from(chunks, { objectMode: false })),
    dispose: async () => {
      chunks = undefined;
    },
  };
}

/** Where a file-backed body lives. */
export interface SpillFiles {
  /** The `.part` file holding the events members. */
  readonly partPath: string;
  /** Its sidecar. */
  readonly sidecarPath: string;
  /** Bytes of events members in the file. */
  readonly eventsBytes: number;
}

/** A body whose header member is in memory and whose events members are in a spill file. */
export function spilledBody(header: Buffer, files: SpillFiles, sha256: string): SealedBody & SpillFiles {
  let disposed: Promise<void> | undefined;
  const events = async function* (): AsyncGenerator<Buffer> {
    yield header;
    if (files.eventsBytes === 0) return;
    yield* createReadStream(files.partPath, { end: files.eventsBytes - 1, highWaterMark: 64 * 1024 });
  };
  return {
    ...files,
    byteLength: header.length + files.eventsBytes,
    sha256,
    open: () => (disposed === undefined ? Readable.from(events(), { objectMode: false }) : disposedStream()),
    dispose: () => {
      disposed ??= (async () => {
        // The body first, then its sidecar: a sidecar alone is harmless, a body alone is a leak.
        // Still registered meanwhile, so a recovery scan in this process leaves them alone.
        try {
          await removeFile(files.partPath);
          await removeFile(files.sidecarPath);
        } finally {
          ownedByThisProcess.delete(files.partPath);
        }
      })();
      return disposed;
    },
  };
}
