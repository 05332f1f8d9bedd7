/**
 * A trace body as the spool hands it out: the header member, then the events members, each part in
 * memory or a byte range of the spill file. `open()` is a plain `Readable` that pushes buffers and
 * reads the file with positioned reads in large chunks: no async generator, no `Readable.from` in
 * between, so an upload streams it at the speed of a file stream.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { close, open, read } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setImmediate as turnOfEventLoop } from 'node:timers/promises';
import { RecorderStateError, SpoolError } from '../errors.js';
import type { SealedBody } from './types.js';

/**
 * Bytes per file read: large enough that per-chunk costs vanish (4x a file stream's default), small
 * enough that the chunks an upload has in flight stay a small part of RSS.
 */
const FILE_CHUNK_BYTES = 256 * 1024;

/**
 * A read-only descriptor of a spill file, shared by the bodies reading it: they read through it, so a
 * body still reads after the file's path was deleted (a tmp cleaner, an agent's `rm -rf /tmp/*`). Its
 * owner `close()`s it when done; the descriptor itself closes once no reader holds it, so a number
 * the OS hands out again is never read from by a late reader.
 */
export class SharedFd {
  readonly fd: number;
  private readers = 0;
  private closing = false;
  private closed = false;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Whether the descriptor itself was closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True (and the descriptor held until `release`) unless it is closing. */
  acquire(): boolean {
    if (this.closing) return false;
    this.readers++;
    return true;
  }

  release(): void {
    this.readers--;
    this.closeIfDone();
  }

  /** The owner is done with it: closes now, or when the last reader releases it. */
  close(): void {
    this.closing = true;
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (!this.closing || this.readers > 0 || this.closed) return;
    this.closed = true;
    close(this.fd, () => {});
  }
}

/** One part of a body: bytes in memory, or `[0, bytes)` of a file, read through `shared` when it can be. */
export type BodyPart =
  | Buffer
  | { readonly path: string; readonly bytes: number; readonly shared?: SharedFd | undefined };

/** A readable over `parts`, in order. */
export class BodyStream extends Readable {
  private readonly parts: readonly BodyPart[];
  private index = 0;
  private fd: number | undefined;
  /** Set while `fd` is a shared descriptor this stream holds (released, not closed, here). */
  private shared: SharedFd | undefined;
  private position = 0;

  constructor(parts: readonly BodyPart[]) {
    super({ highWaterMark: FILE_CHUNK_BYTES });
    this.parts = parts;
  }

  override _read(): void {
    const part = this.parts[this.index];
    if (part === undefined) {
      this.push(null);
      return;
    }
    if (Buffer.isBuffer(part)) {
      this.index++;
      if (part.length === 0) this._read();
      else this.push(part);
      return;
    }
    if (this.position >= part.bytes) {
      this.closeFile(() => {
        this.index++;
        this.position = 0;
        this._read();
      });
      return;
    }
    if (this.fd === undefined) {
      if (part.shared?.acquire() === true) {
        this.shared = part.shared;
        this.fd = part.shared.fd;
        this._read();
        return;
      }
      open(part.path, 'r', (err, fd) => {
        if (err !== null) return this.destroy(err);
        this.fd = fd;
        this._read();
      });
      return;
    }
    const want = Math.min(FILE_CHUNK_BYTES, part.bytes - this.position);
    const chunk = Buffer.allocUnsafe(want);
    read(this.fd, chunk, 0, want, this.position, (err, n) => {
      if (err !== null) return this.destroy(err);
      if (n === 0) return this.destroy(new RecorderStateError('The spill file ended before the body did'));
      this.position += n;
      this.push(n === want ? chunk : chunk.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.closeFile(() => cb(err));
  }

  private closeFile(then: () => void): void {
    const fd = this.fd;
    const shared = this.shared;
    this.fd = undefined;
    this.shared = undefined;
    if (fd === undefined) then();
    else if (shared !== undefined) {
      shared.release();
      then();
    } else close(fd, () => then());
  }
}

function disposedStream(): Readable {
  return new Readable({
    read() {
      this.destroy(new RecorderStateError('The sealed body was disposed'));
    },
  });
}

/** Where a file-backed body's events live. */
export interface SpillFiles {
  /** The `.part` file holding the events members. */
  readonly partPath: string;
  /** Its sidecar. */
  readonly sidecarPath: string;
  /** Bytes of events members in the file (the body reads `[0, eventsBytes)`). */
  readonly eventsBytes: number;
}

/**
 * A body of `parts`. `release` runs once on the first `dispose()` (removing the spill file, say);
 * after it, `open()` yields a stream that fails with {@link RecorderStateError}.
 */
export function bodyOf(
  parts: readonly BodyPart[],
  sha256: string,
  release: () => Promise<void> = async () => {},
): SealedBody {
  let disposed: Promise<void> | undefined;
  // Dropped on dispose, so the memory parts can be collected while the body object lives on.
  let held: readonly BodyPart[] | undefined = parts;
  const byteLength = parts.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : p.bytes), 0);
  return {
    byteLength,
    sha256,
    open: () => (held === undefined ? disposedStream() : new BodyStream(held)),
    dispose: () => {
      held = undefined;
      disposed ??= release();
      return disposed;
    },
  };
}

const HASH_READ_BYTES = 256 * 1024;
/** Hashing runs on the agent's thread: let its event loop in this often (about 2 ms of SHA-256). */
const HASH_YIELD_BYTES = 1024 * 1024;

/**
 * Lowercase hex SHA-256 of the parts, in order. SHA-256 cannot prepend: the hash of header ++ events
 * needs the events after the header, so a file part is read once here. One reused buffer: no garbage
 * for the GC to lag behind on. Parts in memory are hashed in slices with a turn of the event loop
 * between them: a body kept in memory (a broken spool disk) can be 64 MiB, over 100 ms of hashing.
 */
export async function hashParts(parts: readonly BodyPart[]): Promise<string> {
  const hash = createHash('sha256');
  let buf: Buffer | undefined;
  let sinceYield = 0;
  for (const part of parts) {
    if (Buffer.isBuffer(part)) {
      for (let off = 0; off < part.length; off += HASH_READ_BYTES) {
        const slice = part.subarray(off, off + HASH_READ_BYTES);
        hash.update(slice);
        sinceYield += slice.length;
        if (sinceYield >= HASH_YIELD_BYTES) {
          sinceYield = 0;
          await turnOfEventLoop();
        }
      }
      continue;
    }
    buf ??= Buffer.allocUnsafeSlow(HASH_READ_BYTES);
    const shared = part.shared?.acquire() === true ? part.shared : undefined;
    const fh = shared === undefined ? await openFile(part.path, 'r') : undefined;
    try {
      let done = 0;
      while (done < part.bytes) {
        const want = Math.min(buf.length, part.bytes - done);
        const bytesRead =
          fh === undefined
            ? await readAt(shared!.fd, buf, want, done)
            : (await fh.read(buf, 0, want, done)).bytesRead;
        if (bytesRead === 0) throw new SpoolError('The spill file is shorter than the members written to it');
        hash.update(buf.subarray(0, bytesRead));
        done += bytesRead;
      }
    } finally {
      shared?.release();
      await fh?.close();
    }
  }
  return hash.digest('hex');
}

/** One positioned read through a descriptor held by the caller. */
function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, length, position, (err, n) => (err === null ? resolve(n) : reject(err)));
  });
}

/** A body held in memory as a list of gzip members (header first). */
export function memoryBody(parts: readonly Buffer[], sha256: string): SealedBody {
  return bodyOf(parts, sha256);
}
