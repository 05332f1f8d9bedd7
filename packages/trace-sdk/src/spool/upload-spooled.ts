/**
 * Delivers what a spool directory holds: artifacts whose upload failed and, on request, the spill
 * files of killed recorders. Safe to run repeatedly and from several processes at once: each entry
 * is claimed (atomic rename of its sidecar) before it is touched, so it is never uploaded twice
 * concurrently, and it is deleted only after the transport confirmed the upload.
 *
 * @packageDocumentation
 */
import { readFile, rename } from 'node:fs/promises';
import { UploadError } from '../errors.js';
import { safeText } from '../sanitize.js';
import { artifactFromFile } from '../upload/artifact.js';
import { deliver } from '../upload/deliver.js';
import type { TraceTransport } from '../upload/types.js';
import type { PartSidecar } from './event-spool.js';
import { recoverPartial } from './recover-partial.js';
import {
  claim,
  ownedByThisProcess,
  ownerMayBeAlive,
  removeFile,
  unclaimedName,
  writeJsonAtomic,
} from './spool-files.js';
import {
  parsePartSidecar,
  parseSpooledSidecar,
  type SpooledArtifact,
  type SpooledLastError,
  type SpooledSidecar,
  scanSpoolDir,
} from './spool-store.js';

/** Options of {@link uploadSpooled}. */
export interface UploadSpooledOptions {
  /** The spool directory (the recorder's `spoolDir`). */
  readonly spoolDir: string;
  /** Where to upload; wrap it with the retry policy as for live uploads. */
  readonly transport: TraceTransport;
  /** Stops after the current upload; the rest stay spooled. */
  readonly signal?: AbortSignal | undefined;
  /** Bound on each entry's delivery in ms (see `deliver`); default the delivery default (130 s). */
  readonly timeoutMs?: number | undefined;
  /**
   * Also recover spill files (`*.events.gz.part`) whose recording process is gone: their complete
   * gzip members become an artifact with a `recovered: true` header, uploaded at the trace's key.
   */
  readonly recoverPartials?: boolean | undefined;
  /**
   * Only these keys: entries (and, with `recoverPartials`, spill files) of other traces are left
   * alone and not reported. For a caller that holds credentials for some traces only, such as a
   * recorder re-delivering its own trace.
   */
  readonly keys?: readonly string[] | undefined;
}

/** Why an entry was left alone. */
export type SpoolSkipReason =
  /** Another live process is uploading or recovering it. */
  | 'claimed'
  /** A live recorder is still writing this spill file. */
  | 'recording'
  /** The sidecar is unreadable or not a spool sidecar. */
  | 'invalid-sidecar'
  /** The sidecar's body file is gone; the sidecar was removed. */
  | 'missing-body'
  /** The signal fired before this entry's turn. */
  | 'aborted';

/** What {@link uploadSpooled} did. */
export interface UploadSpooledResult {
  /** Uploaded and removed from the spool. `attempts` counts earlier runs' attempts too. */
  readonly uploaded: Array<{ readonly key: string; readonly path: string; readonly attempts: number }>;
  /** Still spooled, with the error of this run (also recorded as the sidecar's `lastError`). */
  readonly failed: Array<{ readonly key: string; readonly path: string; readonly error: Error }>;
  /** Left alone, with the reason. */
  readonly skipped: Array<{ readonly path: string; readonly reason: SpoolSkipReason }>;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function describe(err: unknown): SpooledLastError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return { code: typeof code === 'string' ? code : 'ERR_UNKNOWN', message: safeText(message) };
}

/**
 * Uploads every spooled artifact in `spoolDir` through `transport`, oldest first, one at a time.
 * Each body is re-hashed and checked against its sidecar first; a mismatch fails with
 * `UploadError` `ERR_UPLOAD_CHECKSUM` and the file is kept for inspection. On success the body and
 * sidecar are deleted; on failure the sidecar's `attempts` and `lastError` are updated.
 *
 * Claims left by a process that died are taken over, so nothing stays stuck. Never throws for a
 * single entry's failure; throws only if the directory itself cannot be read.
 */
export async function uploadSpooled(opts: UploadSpooledOptions): Promise<UploadSpooledResult> {
  const result: UploadSpooledResult = { uploaded: [], failed: [], skipped: [] };
  const only = opts.keys === undefined ? undefined : new Set(opts.keys);
  if (opts.recoverPartials === true) await recoverAll(opts.spoolDir, result, only);
  const scan = await scanSpoolDir(opts.spoolDir);
  for (const entry of scan.artifacts) {
    if (only !== undefined && !only.has(entry.key)) continue;
    if (opts.signal?.aborted === true) {
      result.skipped.push({ path: entry.path, reason: 'aborted' });
      continue;
    }
    try {
      await uploadOne(entry, opts, result);
    } catch (err) {
      // The spool directory itself failed us (permissions, disk full): report, keep going.
      result.failed.push({ key: entry.key, path: entry.path, error: asError(err) });
    }
  }
  if (only === undefined)
    for (const bad of scan.invalid) result.skipped.push({ path: bad.path, reason: 'invalid-sidecar' });
  return result;
}

async function uploadOne(entry: SpooledArtifact, opts: UploadSpooledOptions, result: UploadSpooledResult) {
  if (entry.claimedBy !== undefined && ownerMayBeAlive(entry.sidecarPath, entry.claimedBy)) {
    result.skipped.push({ path: entry.path, reason: 'claimed' });
    return;
  }
  const claimed = await claim(entry.sidecarPath);
  if (claimed === undefined) {
    result.skipped.push({ path: entry.path, reason: 'claimed' });
    return;
  }
  try {
    // Re-read: another process may have updated the sidecar between our scan and our claim.
    let sidecar: SpooledSidecar | undefined;
    try {
      sidecar = parseSpooledSidecar(JSON.parse(await readFile(claimed, 'utf8')));
    } catch {
      sidecar = undefined;
    }
    if (sidecar === undefined) {
      await release(claimed, undefined);
      result.skipped.push({ path: entry.path, reason: 'invalid-sidecar' });
      return;
    }
    let attempts = sidecar.attempts ?? 0;
    try {
      const artifact = await artifactFromFile(sidecar.key, entry.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (artifact === undefined) {
        await removeFile(claimed);
        result.skipped.push({ path: entry.path, reason: 'missing-body' });
        return;
      }
      if (artifact.sha256 !== sidecar.sha256 || artifact.byteLength !== sidecar.byteLength) {
        throw new UploadError(
          'ERR_UPLOAD_CHECKSUM',
          `The spooled body does not match its sidecar's SHA-256; kept for inspection`,
          { transport: opts.transport.name },
        );
      }
      const delivery = await deliver(opts.transport, artifact, {
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        store: {
          keep: async (_artifact, failure) => {
            await release(claimed, {
              ...sidecar,
              attempts: attempts + failure.attempts,
              lastError: describe(failure.error),
            });
            return entry.path;
          },
        },
      });
      attempts += delivery.attempts;
      if (delivery.status === 'failed') {
        result.failed.push({ key: sidecar.key, path: entry.path, error: delivery.error });
        return;
      }
      // Body first: a sidecar without a body is dropped by the next run; the reverse would leak.
      await removeFile(entry.path);
      await removeFile(claimed);
      result.uploaded.push({ key: sidecar.key, path: entry.path, attempts });
    } catch (err) {
      await release(claimed, { ...sidecar, attempts, lastError: describe(err) });
      result.failed.push({ key: sidecar.key, path: entry.path, error: asError(err) });
    }
  } finally {
    ownedByThisProcess.delete(claimed);
  }
}

/** Gives a claimed sidecar back, updated when `sidecar` is given (written before the claim goes). */
async function release(claimedPath: string, sidecar: SpooledSidecar | undefined): Promise<void> {
  const path = unclaimedName(claimedPath);
  if (sidecar === undefined) {
    await rename(claimedPath, path);
    return;
  }
  await writeJsonAtomic(path, sidecar);
  await removeFile(claimedPath);
}

async function readPartSidecar(path: string): Promise<PartSidecar | 'gone' | undefined> {
  try {
    return parsePartSidecar(JSON.parse(await readFile(path, 'utf8')));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
}

async function recoverAll(
  spoolDir: string,
  result: UploadSpooledResult,
  only: ReadonlySet<string> | undefined,
): Promise<void> {
  for (const partial of (await scanSpoolDir(spoolDir)).partials) {
    const sidecar = await readPartSidecar(partial.sidecarPath);
    if (sidecar === 'gone') continue;
    if (only !== undefined && (sidecar === undefined || !only.has(sidecar.key))) continue;
    if (sidecar === undefined) {
      result.skipped.push({ path: partial.sidecarPath, reason: 'invalid-sidecar' });
      continue;
    }
    const inUse =
      partial.claimedBy === undefined
        ? ownerMayBeAlive(partial.partPath, sidecar.pid, sidecar.hostname)
        : ownerMayBeAlive(partial.sidecarPath, partial.claimedBy);
    if (inUse) {
      result.skipped.push({
        path: partial.partPath,
        reason: partial.claimedBy === undefined ? 'recording' : 'claimed',
      });
      continue;
    }
    const claimed = await claim(partial.sidecarPath);
    if (claimed === undefined) {
      result.skipped.push({ path: partial.partPath, reason: 'claimed' });
      continue;
    }
    try {
      const outcome = await recoverPartial({ ...partial, sidecarPath: claimed });
      if (outcome.kind === 'missing') result.skipped.push({ path: partial.partPath, reason: 'missing-body' });
      if (outcome.kind === 'invalid') {
        await release(claimed, undefined).catch(() => {});
        result.skipped.push({ path: partial.sidecarPath, reason: 'invalid-sidecar' });
      }
    } catch (err) {
      await release(claimed, undefined).catch(() => {});
      result.failed.push({
        key: sidecar.key,
        path: partial.partPath,
        error: asError(err),
      });
    } finally {
      ownedByThisProcess.delete(claimed);
    }
  }
}
