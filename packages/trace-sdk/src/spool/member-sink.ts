/**
 * Where finished gzip members go: memory first, then the spill file (`<stem>.events.gz.part`), which
 * only ever holds complete members, in order.
 *
 * - `makeDurable()` (the spool's flush timer, or `flush()`) moves what is in memory to the spill
 *   file and sends every later member there at once: what was recorded before it survives the
 *   process. Without it, members stay in memory up to `memoryThresholdBytes`, then spill.
 * - The spill file's sidecar carries a lease (`leaseMs`; its mtime is renewed by a timer), so a
 *   recovery flusher in another PID namespace or on another host never takes a live recording.
 * - A spool directory that cannot be written (read-only, missing and uncreatable, full) never costs
 *   the upload: members stay in memory up to `fallbackBytes`, past it they are dropped and counted,
 *   and `unavailable` says why. A write that fails half-way is cut back to the last complete member.
 *
 * @packageDocumentation
 */
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { type BodyPart, SharedFd } from './sealed-body.js';
import {
  HOSTNAME,
  newStem,
  ownedByThisProcess,
  PART_SIDECAR_SUFFIX,
  PART_SUFFIX,
  removeFile,
  renewLease,
  writeJsonAtomic,
  writeJsonAtomicSync,
} from './spool-files.js';
import type { SpoolUnavailableInfo } from './types.js';

/** The file operations the sink uses; tests inject failures (a full or read-only disk) here. */
export interface SinkFs {
  mkdirSync(path: string, opts: { recursive: true }): unknown;
  openSync(path: string, flags: string, mode: number): number;
  writeSync(fd: number, buf: Buffer, off: number, len: number, position: number): number;
  ftruncateSync(fd: number, len: number): void;
  closeSync(fd: number): void;
}

/** What a spill file's sidecar records (`<stem>.events.gz.part.json`). */
export interface PartSidecar {
  readonly version: 1;
  /** Object key of the trace. */
  readonly key: string;
  /** Recording process (informational; ownership is the lease). */
  readonly pid: number;
  /** Host of the recording process. */
  readonly hostname: string;
  /** When the spool was created (ISO 8601). */
  readonly startedAt: string;
  /** The recorder renews the sidecar's mtime at least this often while it lives (ms). */
  readonly leaseMs?: number | undefined;
  /** Present once sealed: the exact body, so a crash before upload loses nothing. */
  readonly sealed?: {
    readonly sha256: string;
    readonly byteLength: number;
    /** The header member, base64. */
    readonly header: string;
  };
}

/** Why the spool directory could not hold the trace. */
export type SpoolUnavailable = SpoolUnavailableInfo;

/** Settings of a {@link MemberSink}. */
export interface MemberSinkOptions {
  readonly spoolDir: string;
  readonly key: string;
  readonly startedAt: string;
  /** Compressed bytes kept in memory before spilling (while the directory works). */
  readonly memoryThresholdBytes: number;
  /** Compressed bytes kept in memory when the directory does not work; past it members are dropped. */
  readonly fallbackBytes: number;
  /** Lease written to the sidecar; renewed every quarter of it. */
  readonly leaseMs: number;
  readonly fs?: SinkFs | undefined;
}

/** Keeps members in order, in memory and in the spill file. Not thread-safe beyond its owner. */
export class MemberSink {
  /** Members accepted (kept or dropped). */
  members = 0;
  /** Compressed bytes accepted (kept or dropped). */
  bytes = 0;
  /** Members, lines and compressed bytes dropped because no memory or disk was left for them. */
  droppedMembers = 0;
  droppedLines = 0;
  droppedBytes = 0;
  /** Set once the spool directory failed; members are then kept in memory (up to a bound). */
  unavailable: SpoolUnavailable | undefined;

  private readonly opts: MemberSinkOptions;
  private readonly fs: SinkFs;
  private chunks: Buffer[] = [];
  private memoryBytes = 0;
  private fd: number | undefined;
  /** Read side of the spill file for the bodies, held until `release` (see {@link SharedFd}). */
  private readFd: SharedFd | undefined;
  private files: { partPath: string; sidecarPath: string } | undefined;
  /** Bytes of complete members in the spill file. */
  private fileBytes = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  private released = false;
  /** Set by `makeDurable()`: every later member goes to the spill file at once. */
  private durable = false;

  constructor(opts: MemberSinkOptions) {
    this.opts = opts;
    this.fs = opts.fs ?? nodeFs;
  }

  /** The spill file, once one was created. */
  get partPath(): string | undefined {
    return this.files?.partPath;
  }

  /** Takes one member; `member` may be reused by the caller after this returns. */
  accept(member: Buffer, lines: number): void {
    if (this.released) return;
    this.members++;
    this.bytes += member.length;
    if (this.fd === undefined && this.unavailable === undefined && this.files === undefined) {
      if (this.durable || this.memoryBytes + member.length > this.opts.memoryThresholdBytes) this.openSpill();
    }
    if (this.fd !== undefined && this.writeMember(member)) return;
    const limit = this.unavailable === undefined ? Number.POSITIVE_INFINITY : this.opts.fallbackBytes;
    // Once one member is dropped, so is every later one: the body stays a dense prefix of the trace.
    if (this.droppedMembers > 0 || this.memoryBytes + member.length > limit) {
      this.droppedMembers++;
      this.droppedLines += lines;
      this.droppedBytes += member.length;
      return;
    }
    this.chunks.push(Buffer.from(member));
    this.memoryBytes += member.length;
  }

  /** Moves members held in memory to the spill file (creating it), so they survive the process. */
  makeDurable(): void {
    if (this.released || this.unavailable !== undefined) return;
    this.durable = true;
    if (this.fd === undefined && this.files === undefined && this.chunks.length > 0) this.openSpill();
  }

  /**
   * The parts of a body holding every member kept so far: the spill file's complete members, then
   * those in memory. The file only grows while recording, so the parts stay valid until `release`.
   */
  parts(): BodyPart[] {
    const parts: BodyPart[] = [];
    if (this.files !== undefined && this.fileBytes > 0)
      parts.push({ path: this.files.partPath, bytes: this.fileBytes, shared: this.readFd });
    parts.push(...this.chunks);
    return parts;
  }

  /** The spill files and the bytes of complete members in the `.part`, if there is one. */
  spill(): { partPath: string; sidecarPath: string; eventsBytes: number } | undefined {
    return this.files === undefined ? undefined : { ...this.files, eventsBytes: this.fileBytes };
  }

  /** Closes the spill file (keeping it): no member is accepted after this. The lease goes on. */
  close(): void {
    this.closeFd();
  }

  /** Rewrites the sidecar as sealed; false when it could not be (the body is still fine). */
  async markSealed(sealed: NonNullable<PartSidecar['sealed']>): Promise<boolean> {
    if (this.files === undefined || this.released) return false;
    try {
      await writeJsonAtomic(this.files.sidecarPath, this.sidecar(sealed));
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the lease and removes the spill file and sidecar (body first). Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopLease();
    this.closeFd();
    this.readFd?.close();
    this.readFd = undefined;
    this.chunks = [];
    this.memoryBytes = 0;
    const files = this.files;
    if (files === undefined) return;
    try {
      await removeFile(files.partPath);
      await removeFile(files.sidecarPath);
    } finally {
      ownedByThisProcess.delete(files.partPath);
    }
  }

  private sidecar(sealed?: PartSidecar['sealed']): PartSidecar {
    return {
      version: 1,
      key: this.opts.key,
      pid: process.pid,
      hostname: HOSTNAME,
      startedAt: this.opts.startedAt,
      leaseMs: this.opts.leaseMs,
      ...(sealed === undefined ? {} : { sealed }),
    };
  }

  /** Creates the spill file and moves the in-memory members into it. */
  private openSpill(): void {
    const stem = newStem();
    const files = {
      partPath: join(this.opts.spoolDir, `${stem}${PART_SUFFIX}`),
      sidecarPath: join(this.opts.spoolDir, `${stem}${PART_SIDECAR_SUFFIX}`),
    };
    try {
      this.fs.mkdirSync(this.opts.spoolDir, { recursive: true });
      // Registered before the sidecar exists, so a recovery scan in this process never takes it.
      ownedByThisProcess.add(files.partPath);
      // Sidecar first: a .part never exists without the key it belongs to. No fsync: this level
      // of durability is "the process dies, the disk survives", which the page cache already is.
      writeJsonAtomicSync(files.sidecarPath, this.sidecar(), { fsync: false });
      this.files = files;
      this.fd = this.fs.openSync(files.partPath, 'wx', 0o600);
      try {
        // Node's own fs, not the injected one: SharedFd closes it with Node's close().
        this.readFd = new SharedFd(nodeFs.openSync(files.partPath, 'r'));
      } catch {
        // Bodies open the file by its path instead.
      }
    } catch (err) {
      this.markUnavailable('Cannot create a spill file', err);
      // A sidecar without its .part is harmless (recovery drops it), but leave nothing behind.
      try {
        nodeFs.unlinkSync(files.sidecarPath);
      } catch {
        // Never written.
      }
      ownedByThisProcess.delete(files.partPath);
      this.files = undefined;
      return;
    }
    this.startLease();
    const chunks = this.chunks;
    let kept = 0;
    for (const chunk of chunks) {
      if (!this.writeMember(chunk)) break;
      kept++;
    }
    this.chunks = chunks.slice(kept);
    this.memoryBytes = this.chunks.reduce((n, c) => n + c.length, 0);
  }

  /** Appends one member to the spill file; false (and the directory marked unavailable) on failure. */
  private writeMember(member: Buffer): boolean {
    const fd = this.fd!;
    try {
      // Synchronous on purpose: a producer that never yields would let a write stream buffer without
      // bound. Writes land in the page cache; members are ~1/5 of a batch.
      let off = 0;
      while (off < member.length)
        off += this.fs.writeSync(fd, member, off, member.length - off, this.fileBytes + off);
      this.fileBytes += member.length;
      return true;
    } catch (err) {
      // A full disk may have taken part of the member: cut back to the last complete one, so
      // recovery never meets a torn member (it would stop there anyway).
      try {
        this.fs.ftruncateSync(fd, this.fileBytes);
      } catch {
        // Recovery's scan drops a torn tail.
      }
      this.markUnavailable('Writing the spill file failed', err);
      this.closeFd();
      return false;
    }
  }

  private markUnavailable(what: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException)?.code;
    this.unavailable ??= {
      code: typeof code === 'string' ? code : 'ERR_SPOOL_IO',
      reason: `${what} in the spool directory${typeof code === 'string' ? ` (${code})` : ''}; keeping the trace in memory`,
    };
  }

  private startLease(): void {
    const sidecarPath = this.files!.sidecarPath;
    this.leaseTimer = setInterval(() => void renewLease(sidecarPath), Math.max(50, this.opts.leaseMs / 4));
    this.leaseTimer.unref();
  }

  private stopLease(): void {
    if (this.leaseTimer !== undefined) clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      this.fs.closeSync(this.fd);
    } catch {
      // Already closed or never usable.
    }
    this.fd = undefined;
  }
}
