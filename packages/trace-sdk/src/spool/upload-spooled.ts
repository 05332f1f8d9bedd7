/**
 * Delivers what a spool directory holds: artifacts whose upload failed and, on request, the spill
 * files of killed recorders. Safe to run repeatedly and from several processes at once: each entry
 * is claimed (atomic rename of its sidecar) before it is touched, so it is never uploaded twice
 * concurrently, and it is deleted only after the transport confirmed the upload.
 *
 * @packageDocumentation
 */
import { readFile, rename } from 'node:fs/promises';
import { ConfigError, SpoolError, TraceError, UploadError } from '../errors.js';
import { isValidId, parseTraceKey } from '../key.js';
import { readTraceHeader } from '../read/read-trace.js';
import { safeCause, safeErrorMessage, safeText } from '../sanitize.js';
import { artifactFromFile } from '../upload/artifact.js';
import { deliver } from '../upload/deliver.js';
import type { TraceTransport } from '../upload/types.js';
import type { PartSidecar } from './event-spool.js';
import { assertReadableSpoolDir } from './private-dir.js';
import { recoverPartial } from './recover-partial.js';
import {
  claim,
  ownedByThisProcess,
  ownerMayBeAlive,
  removeFile,
  unclaimedName,
  writeJsonAtomic,
} from './spool-files.js';
import { type SpooledArtifact, scanSpoolDir } from './spool-scan.js';
import {
  parsePartSidecar,
  parseSpooledSidecar,
  type SpooledLastError,
  type SpooledSidecar,
} from './spool-sidecars.js';

/**
 * What a spool entry claims about itself: its key and the ids in it. Spool files may be written by a
 * compromised runtime or another local user, so none of this is trusted until an authority says so.
 */
export interface SpooledClaim {
  /** The key the entry's sidecar names. */
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  /** The body file. */
  readonly path: string;
}

/**
 * The trusted authority for one entry: return a transport whose credential is bound to exactly
 * `claim.key`, or `null` to refuse the entry (it stays spooled). Decide from the orchestrator's own
 * records: `claim.userId` must be the user whose sandbox wrote this spool (from your configuration)
 * and that user must own `claim.taskId`. Checking only that the task belongs to `claim.userId` is
 * not enough: a compromised runtime can name another user's real task.
 */
export type SpoolAuthorizer = (
  claim: SpooledClaim,
  opts: { readonly signal?: AbortSignal | undefined },
) => Promise<TraceTransport | null | undefined>;

/** Which traces a flush may write with one transport: one user's, or one task's. */
export interface SpoolScope {
  readonly userId: string;
  /** Narrows the scope to one task. */
  readonly taskId?: string | undefined;
}

/** Options of {@link uploadSpooled}. */
export interface UploadSpooledOptions {
  /** The spool directory (the recorder's `spoolDir`). */
  readonly spoolDir: string;
  /**
   * Per-entry authority (see {@link SpoolAuthorizer}): the way to flush a directory holding several
   * users' traces. Exclusive with `transport`.
   */
  readonly authorize?: SpoolAuthorizer | undefined;
  /**
   * One transport for every entry inside `scope` (required with it): entries naming another user or
   * task are refused before anything is sent. Wrap it with the retry policy as for live uploads.
   */
  readonly transport?: TraceTransport | undefined;
  /** The user (and task) that `transport` may write: from your own configuration, never from the spool. */
  readonly scope?: SpoolScope | undefined;
  /** Stops after the current upload; the rest stay spooled. */
  readonly signal?: AbortSignal | undefined;
  /** Bound on each entry's delivery in ms (see `deliver`); default the delivery default (130 s). */
  readonly timeoutMs?: number | undefined;
  /**
   * Also recover spill files (`*.events.gz.part`) whose recording process is gone: their complete
   * gzip members become an artifact with a `recovered: true` header, delivered under the same rules.
   */
  readonly recoverPartials?: boolean | undefined;
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
  | 'aborted'
  /** The entry names a user or task outside the flush's `scope`; nothing was sent. */
  | 'out-of-scope'
  /** The `authorize` hook refused the entry (or failed); nothing was sent. */
  | 'unauthorized'
  /** The body's header names another user or task than the sidecar's key; nothing was sent. */
  | 'header-mismatch'
  /** The body is not a readable trace (no header); nothing was sent. */
  | 'unreadable-body';

/** What {@link uploadSpooled} did. */
export interface UploadSpooledResult {
  /** Uploaded and removed from the spool. `attempts` counts earlier runs' attempts too. */
  readonly uploaded: Array<{ readonly key: string; readonly path: string; readonly attempts: number }>;
  /** Still spooled, with the error of this run (also recorded as the sidecar's `lastError`). */
  readonly failed: Array<{ readonly key: string; readonly path: string; readonly error: Error }>;
  /** Left alone (and kept), with the reason. */
  readonly skipped: Array<{ readonly path: string; readonly reason: SpoolSkipReason; readonly key?: string }>;
}

/** A failure of the spool directory itself (a read-only or full disk, say) as a typed {@link SpoolError}. */
function asError(err: unknown): TraceError {
  if (err instanceof TraceError) return err;
  return new SpoolError(`The spool entry could not be handled: ${safeErrorMessage(err)}`, {
    cause: safeCause(err),
  });
}

function describe(err: unknown): SpooledLastError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return { code: typeof code === 'string' ? code : 'ERR_UNKNOWN', message: safeText(message) };
}

/**
 * Uploads every spooled artifact in `spoolDir`, oldest first, one at a time, each only where a
 * trusted authority allows: `authorize` hands out a credential for that exact key, or `transport`
 * serves the entries inside `scope`. Before anything is sent, the body is re-hashed against its
 * sidecar (`ERR_UPLOAD_CHECKSUM` otherwise) and its header must name the key's user and task
 * (`header-mismatch` otherwise). On success the body and sidecar are deleted; on failure or refusal
 * the entry stays, with the sidecar's `attempts` and `lastError` updated after a failed upload.
 *
 * Claims left by a process that died are taken over, so nothing stays stuck. Never throws for a
 * single entry's failure.
 *
 * @throws {@link ConfigError} without an authority (neither `authorize` nor `transport` with `scope`);
 *   {@link SpoolError} when the default spool directory is not private to this user.
 */
export async function uploadSpooled(opts: UploadSpooledOptions): Promise<UploadSpooledResult> {
  const authority = resolveAuthority(opts);
  assertReadableSpoolDir(opts.spoolDir);
  const result: UploadSpooledResult = { uploaded: [], failed: [], skipped: [] };
  if (opts.recoverPartials === true) await recoverAll(opts.spoolDir, result);
  const scan = await scanSpoolDir(opts.spoolDir);
  for (const entry of scan.artifacts) {
    if (opts.signal?.aborted === true) {
      result.skipped.push({ path: entry.path, reason: 'aborted' });
      continue;
    }
    try {
      await uploadOne(entry, opts, authority, result);
    } catch (err) {
      // The spool directory itself failed us (permissions, disk full): report, keep going.
      result.failed.push({ key: entry.key, path: entry.path, error: asError(err) });
    }
  }
  for (const bad of scan.invalid) result.skipped.push({ path: bad.path, reason: 'invalid-sidecar' });
  return result;
}

async function uploadOne(
  entry: SpooledArtifact,
  opts: UploadSpooledOptions,
  authority: Authority,
  result: UploadSpooledResult,
) {
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
          { transport: 'spool' },
        );
      }
      const claim: SpooledClaim = { key: sidecar.key, ...parseTraceKey(sidecar.key), path: entry.path };
      const refused = await bodyProblem(claim);
      const transport =
        refused === undefined ? await authorized(authority.authorize, claim, opts.signal) : undefined;
      if (transport === undefined) {
        await release(claimed, undefined);
        result.skipped.push({ path: entry.path, reason: refused ?? authority.refusal, key: sidecar.key });
        return;
      }
      const delivery = await deliver(transport, artifact, {
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

async function recoverAll(spoolDir: string, result: UploadSpooledResult): Promise<void> {
  for (const partial of (await scanSpoolDir(spoolDir)).partials) {
    const sidecar = await readPartSidecar(partial.sidecarPath);
    if (sidecar === 'gone') continue;
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

/** The authority the options name: one per-entry function, and what its refusal is called. */
interface Authority {
  readonly authorize: SpoolAuthorizer;
  readonly refusal: SpoolSkipReason;
}

function resolveAuthority(opts: UploadSpooledOptions): Authority {
  if (opts === null || typeof opts !== 'object')
    throw new ConfigError('uploadSpooled expects an options object', 'options');
  const { authorize, transport, scope } = opts;
  if (authorize !== undefined && transport !== undefined) {
    throw new ConfigError(
      'uploadSpooled: pass either authorize or transport (with scope), not both',
      'authorize',
    );
  }
  if (authorize !== undefined) {
    if (typeof authorize !== 'function')
      throw new ConfigError('uploadSpooled: authorize must be a function', 'authorize');
    return { authorize, refusal: 'unauthorized' };
  }
  if (transport === undefined || transport === null || typeof transport.upload !== 'function') {
    throw new ConfigError(
      'uploadSpooled needs an authority: authorize (a credential per entry from the orchestrator), ' +
        'or a transport with the scope it may write',
      'authorize',
    );
  }
  if (scope === undefined || scope === null || !isValidId(scope.userId)) {
    throw new ConfigError(
      'uploadSpooled: a transport needs scope.userId (from your configuration, never from the spool): ' +
        'spool files are not trusted to name the key',
      'scope',
    );
  }
  if (scope.taskId !== undefined && !isValidId(scope.taskId)) {
    throw new ConfigError('uploadSpooled: scope.taskId is not a valid task id', 'scope');
  }
  return {
    authorize: async (claim) =>
      claim.userId === scope.userId && (scope.taskId === undefined || claim.taskId === scope.taskId)
        ? transport
        : null,
    refusal: 'out-of-scope',
  };
}

/** The transport the authority grants for `claim`, or undefined when it refuses (or fails). */
async function authorized(
  authority: SpoolAuthorizer,
  claim: SpooledClaim,
  signal: AbortSignal | undefined,
): Promise<TraceTransport | undefined> {
  try {
    const transport = await authority(claim, { signal });
    return transport !== null && transport !== undefined && typeof transport.upload === 'function'
      ? transport
      : undefined;
  } catch {
    // A failing authority refuses: the entry stays for the next run.
    return undefined;
  }
}

/** Why the body disagrees with the key it claims, or undefined when its header names that trace. */
async function bodyProblem(claim: SpooledClaim): Promise<SpoolSkipReason | undefined> {
  let header: Record<string, unknown>;
  try {
    header = (await readTraceHeader(claim.path)) as unknown as Record<string, unknown>;
  } catch {
    return 'unreadable-body';
  }
  const userId = header['user_id'];
  if (header['task_id'] !== claim.taskId) return 'header-mismatch';
  // Absent (the Python agent writes none) is allowed; any other value must be the key's user, as
  // the uploader Lambda and readers require (`null` included).
  if (userId !== undefined && userId !== claim.userId) return 'header-mismatch';
  return undefined;
}
