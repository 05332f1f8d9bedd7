/**
 * Failed artifacts kept on disk for a later upload: `<stem>.jsonl.gz` plus a sidecar `<stem>.json`.
 *
 * The sidecar is written last and atomically, so a sidecar always describes a complete body: a
 * crash mid-write leaves at worst a body without a sidecar, which nothing ever uploads half-done.
 * This module writes; reading the directory back is ./spool-scan.ts, the sidecar formats are
 * ./spool-sidecars.ts (both re-exported here, where their names have always been imported from).
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SpoolError, TraceError } from '../errors.js';
import { parseTraceKey } from '../key.js';
import { safeCause, safeErrorMessage } from '../sanitize.js';
import type { ArtifactStore } from '../upload/deliver.js';
import { ensureSpoolDir } from './private-dir.js';
import { ARTIFACT_SUFFIX, newStem, removeFile, SIDECAR_SUFFIX, writeJsonAtomic } from './spool-files.js';
import type { SpooledLastError, SpooledSidecar } from './spool-sidecars.js';
import type { SealedBody } from './types.js';

export {
  listSpooled,
  type SpoolBrokenEntry,
  type SpoolDirScan,
  type SpoolEntry,
  type SpooledArtifact,
  type SpooledPartial,
  type SpoolSpillEntry,
  scanSpoolDir,
} from './spool-scan.js';
export {
  parsePartSidecar,
  parseSpooledSidecar,
  type SpooledLastError,
  type SpooledSidecar,
} from './spool-sidecars.js';

/** What {@link persistFailedArtifact} records next to the body. */
export interface PersistMeta {
  /** Object key, from `traceKey`. */
  readonly key: string;
  /** Name of the transport that failed. */
  readonly transport: string;
  /** Why it failed (code and message only; never a URL or credential). */
  readonly error?: SpooledLastError | undefined;
  /** Upload attempts already made. */
  readonly attempts?: number | undefined;
}

/**
 * Keeps a sealed body that could not be uploaded: writes it to `<spoolDir>/<stem>.jsonl.gz`, checks
 * its SHA-256 against the body's, then writes the sidecar `<stem>.json` atomically. On success the
 * body is disposed (its spill file removed): the spooled copy replaces it. Retry later with
 * `uploadSpooled`.
 *
 * @returns the path of the spooled body.
 * @throws TraceKeyError when `meta.key` is not a trace key; {@link SpoolError} when writing fails
 *   (nothing is left behind then, and the body is not disposed).
 */
export async function persistFailedArtifact(
  spoolDir: string,
  body: SealedBody,
  meta: PersistMeta,
): Promise<string> {
  parseTraceKey(meta.key);
  const dir = resolve(spoolDir);
  const path = await writeSpooledArtifact(dir, newStem(), body.open(), {
    key: meta.key,
    transport: meta.transport,
    expected: { sha256: body.sha256, byteLength: body.byteLength },
    attempts: meta.attempts,
    lastError: meta.error === undefined ? undefined : { code: meta.error.code, message: meta.error.message },
  });
  await body.dispose();
  return path;
}

/**
 * The spool directory as the delivery boundary's {@link ArtifactStore}: a failed delivery of `body`
 * is kept with {@link persistFailedArtifact}, its sidecar recording the classified error.
 */
export function spoolDirStore(spoolDir: string, body: SealedBody): ArtifactStore {
  return {
    location: resolve(spoolDir),
    keep: (artifact, failure) => {
      ensureSpoolDir(spoolDir);
      return persistFailedArtifact(spoolDir, body, {
        key: artifact.key,
        transport: failure.transport,
        error: { code: failure.error.code, message: failure.error.message },
        attempts: failure.attempts,
      });
    },
  };
}

/** Fields of a sidecar other than those measured while writing the body. */
export interface ArtifactDescription {
  readonly key: string;
  readonly transport: string;
  /** When given, the written bytes must match, or nothing is kept. */
  readonly expected?: { readonly sha256: string; readonly byteLength: number } | undefined;
  readonly attempts?: number | undefined;
  readonly lastError?: SpooledLastError | undefined;
  readonly recovered?: boolean | undefined;
}

/**
 * Writes `stream` to `<dir>/<stem>.jsonl.gz`, then its sidecar atomically. Reuses `stem` on purpose
 * when called again for the same source (recovery), so a retry overwrites rather than duplicates.
 */
export async function writeSpooledArtifact(
  dir: string,
  stem: string,
  stream: AsyncIterable<Uint8Array>,
  desc: ArtifactDescription,
): Promise<string> {
  const bodyPath = join(dir, `${stem}${ARTIFACT_SUFFIX}`);
  const sidecarPath = join(dir, `${stem}${SIDECAR_SUFFIX}`);
  try {
    await mkdir(dir, { recursive: true });
    const hash = createHash('sha256');
    let byteLength = 0;
    const fh = await open(bodyPath, 'w', 0o600);
    try {
      for await (const chunk of stream) {
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        byteLength += chunk.length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const sha256 = hash.digest('hex');
    if (
      desc.expected !== undefined &&
      (desc.expected.sha256 !== sha256 || desc.expected.byteLength !== byteLength)
    ) {
      throw new SpoolError(
        `The body read back does not match its checksum (${byteLength} bytes, expected ${desc.expected.byteLength})`,
      );
    }
    const sidecar: SpooledSidecar = {
      version: 1,
      key: desc.key,
      sha256,
      byteLength,
      transport: desc.transport,
      createdAt: new Date().toISOString(),
      ...(desc.attempts === undefined ? {} : { attempts: desc.attempts }),
      ...(desc.lastError === undefined ? {} : { lastError: desc.lastError }),
      ...(desc.recovered === true ? { recovered: true } : {}),
    };
    await writeJsonAtomic(sidecarPath, sidecar);
    return bodyPath;
  } catch (err) {
    await removeFile(bodyPath).catch(() => {});
    if (err instanceof TraceError) throw err;
    const code = (err as NodeJS.ErrnoException | null)?.code;
    const why = typeof code === 'string' ? code : safeErrorMessage(err);
    throw new SpoolError(`Cannot keep the artifact in ${dir}: ${why}`, { cause: safeCause(err) });
  }
}
