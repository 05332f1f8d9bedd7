/**
 * File naming, atomic sidecar writes and owner liveness for everything the SDK leaves in a spool
 * directory. One place, so the recorder's spill files, failed artifacts and the recovery scan agree.
 *
 * Layout of a spool directory:
 * ```
 * <stem>.events.gz.part        events members of a trace being recorded (a spill file)
 * <stem>.events.gz.part.json   its sidecar {version, key, pid, hostname, startedAt, leaseMs, sealed?};
 *                              its mtime is the recorder's lease, renewed while the recording lives
 * <stem>.jsonl.gz              a finished artifact body waiting to be uploaded
 * <stem>.json                  its sidecar {version, key, sha256, byteLength, transport, createdAt, ...}
 * <sidecar>.claimed-<pid>      a sidecar claimed by the process `pid` (upload or recovery in progress)
 * <sidecar>.tmp-<pid>-<rand>   a sidecar being written (renamed into place when complete)
 * ```
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, rename, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';

/** Suffix of a spill file: events members written while recording. */
export const PART_SUFFIX = '.events.gz.part';
/** Suffix of a spill file's sidecar. */
export const PART_SIDECAR_SUFFIX = `${PART_SUFFIX}.json`;
/** Suffix of a spooled artifact body. */
export const ARTIFACT_SUFFIX = '.jsonl.gz';
/** Suffix of a spooled artifact's sidecar. */
export const SIDECAR_SUFFIX = '.json';
/** Infix of a claimed sidecar: `<sidecar>.claimed-<pid>`. */
export const CLAIM_INFIX = '.claimed-';

/**
 * A fresh, sortable, collision-free file stem, UTC to the millisecond:
 * `20250102T030405678Z-1a2b3c4d5e6f`. No ids in it: user ids stay out of file names.
 */
export function newStem(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(6).toString('hex')}`;
}

/** The host name recorded in spill sidecars (liveness checks only compare pids on the same host). */
export const HOSTNAME = hostname();

/** Spill files and claims owned by live objects in this process (a pid alone cannot tell). */
export const ownedByThisProcess = new Set<string>();

/** True when `pid` names a running process on this host. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Longest lease a sidecar may claim: a hostile or broken one cannot pin a spill file for longer. */
export const MAX_LEASE_MS = 10 * 60 * 1000;

/**
 * Renews the lease on a spill file: its sidecar's mtime is the heartbeat. Best effort (a sidecar
 * that vanished or a read-only disk just lets the lease lapse).
 */
export async function renewLease(sidecarPath: string, now = new Date()): Promise<void> {
  await utimes(sidecarPath, now, now).catch(() => {});
}

/**
 * Whether the lease recorded for the spill file `partPath` is still held: its sidecar names a
 * `leaseMs` and was touched less than that long ago. Undefined when the sidecar carries no lease
 * (written by an older SDK) or cannot be read.
 *
 * A lease, unlike a pid, means the same in every PID namespace and on every host that shares the
 * directory. Clocks are compared too, so a skew up to the lease is tolerated either way.
 */
export function partLeaseHeld(partPath: string, now = Date.now()): boolean | undefined {
  const sidecarPath = `${partPath}.json`;
  let leaseMs: unknown;
  let mtimeMs: number;
  try {
    leaseMs = (JSON.parse(readFileSync(sidecarPath, 'utf8')) as { leaseMs?: unknown }).leaseMs;
    ({ mtimeMs } = statSync(sidecarPath));
  } catch {
    return undefined;
  }
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) return undefined;
  const lease = Math.min(leaseMs, MAX_LEASE_MS);
  return Math.abs(now - mtimeMs) < lease;
}

/**
 * Whether the owner recorded for `path` may still be using it. Our own pid counts only when this
 * process registered the path: after a restart a container often reuses the dead process's pid.
 * A spill file whose sidecar carries a lease is judged by the lease alone: pids mean nothing across
 * PID namespaces and hosts.
 */
export function ownerMayBeAlive(path: string, pid: number, host?: string): boolean {
  if (ownedByThisProcess.has(path)) return true;
  if (path.endsWith(PART_SUFFIX)) {
    const held = partLeaseHeld(path);
    if (held !== undefined) return held;
  }
  if (host !== undefined && host !== HOSTNAME) return false;
  if (pid === process.pid) return false;
  return isProcessAlive(pid);
}

function tmpPath(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Writes `value` as JSON to `path` atomically: a temp file, fsync, rename. A reader sees the old
 * file or the complete new one, never a torn one.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = tmpPath(path);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(value)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Synchronous {@link writeJsonAtomic}, for the recorder's synchronous path. `fsync: false` skips the
 * flush to the device: enough where only the process may die (the page cache survives it), and it
 * keeps a slow disk from stalling the caller.
 */
export function writeJsonAtomicSync(path: string, value: unknown, opts: { fsync?: boolean } = {}): void {
  const tmp = tmpPath(path);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      const bytes = Buffer.from(`${JSON.stringify(value)}\n`);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      if (opts.fsync !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing to clean up.
    }
    throw err;
  }
}

/** Removes `path`, ignoring a file that is already gone. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The pid in a claimed name `<sidecar>.claimed-<pid>`, or undefined. */
export function claimPid(name: string): number | undefined {
  const at = name.lastIndexOf(CLAIM_INFIX);
  if (at === -1) return undefined;
  const digits = name.slice(at + CLAIM_INFIX.length);
  return /^\d{1,10}$/.test(digits) ? Number(digits) : undefined;
}

/** `<sidecar>` for a claimed name, or the name itself. */
export function unclaimedName(name: string): string {
  const at = name.lastIndexOf(CLAIM_INFIX);
  return at === -1 ? name : name.slice(0, at);
}

/**
 * Atomically takes `from` (a sidecar or a stale claim) for this process by renaming it to
 * `<sidecar>.claimed-<our pid>`. Returns the claimed path, or undefined when another process got it
 * first. Rename is atomic on one filesystem: exactly one claimant wins.
 */
export async function claim(from: string): Promise<string | undefined> {
  const to = `${unclaimedName(from)}${CLAIM_INFIX}${process.pid}`;
  if (ownedByThisProcess.has(to)) return undefined;
  ownedByThisProcess.add(to);
  // A claim carrying our own pid that no live object here owns was left by a dead predecessor
  // with the same pid: it is ours to take over without a rename.
  if (to === from) return to;
  try {
    await rename(from, to);
    return to;
  } catch (err) {
    ownedByThisProcess.delete(to);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
