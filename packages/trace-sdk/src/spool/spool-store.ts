/**
 * Failed artifacts kept on disk for a later upload: `<stem>.jsonl.gz` plus a sidecar `<stem>.json`.
 *
 * The sidecar is written last and atomically, so a sidecar always describes a complete body: a
 * crash mid-write leaves at worst a body without a sidecar, which nothing ever uploads half-done.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SpoolError, TraceError } from '../errors.js';
import { parseTraceKey } from '../key.js';
import type { ArtifactStore } from '../upload/deliver.js';
import type { PartSidecar } from './event-spool.js';
import { assertReadableSpoolDir, ensureSpoolDir } from './private-dir.js';
import {
  ARTIFACT_SUFFIX,
  claimPid,
  newStem,
  PART_SIDECAR_SUFFIX,
  PART_SUFFIX,
  removeFile,
  SIDECAR_SUFFIX,
  unclaimedName,
  writeJsonAtomic,
} from './spool-files.js';
import type { SealedBody } from './types.js';

/** Why the last upload attempt of a spooled artifact failed. */
export interface SpooledLastError {
  readonly code: string;
  readonly message: string;
}

/** The sidecar of a spooled artifact (`<stem>.json`). */
export interface SpooledSidecar {
  readonly version: 1;
  /** Object key to upload the body at. */
  readonly key: string;
  /** Lowercase hex SHA-256 of the body; verified before every upload. */
  readonly sha256: string;
  readonly byteLength: number;
  /** Name of the transport that failed (or `spool-recovery` for a recovered spill file). */
  readonly transport: string;
  /** When the artifact was spooled (ISO 8601). */
  readonly createdAt: string;
  /** Upload attempts made so far. */
  readonly attempts?: number | undefined;
  readonly lastError?: SpooledLastError | undefined;
  /** True when the body was rebuilt from a killed recorder's spill file. */
  readonly recovered?: boolean | undefined;
}

/** A spooled artifact found by {@link listSpooled}. */
export interface SpooledArtifact extends SpooledSidecar {
  /** The body file, `<stem>.jsonl.gz`. */
  readonly path: string;
  /** The sidecar file (`<stem>.json`, or `<stem>.json.claimed-<pid>` while claimed). */
  readonly sidecarPath: string;
  /** Pid of the process uploading it right now, when claimed. */
  readonly claimedBy?: number | undefined;
}

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
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpoolError(`Cannot keep the artifact in ${dir}: ${code ?? (err as Error).message}`, {
      cause: err,
    });
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Validates a parsed artifact sidecar; undefined when it is not one. */
export function parseSpooledSidecar(value: unknown): SpooledSidecar | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v['version'] !== 1 || typeof v['key'] !== 'string') return undefined;
  try {
    parseTraceKey(v['key']);
  } catch {
    return undefined;
  }
  if (typeof v['sha256'] !== 'string' || !SHA256_HEX.test(v['sha256'])) return undefined;
  if (!Number.isSafeInteger(v['byteLength']) || (v['byteLength'] as number) < 0) return undefined;
  if (typeof v['transport'] !== 'string' || typeof v['createdAt'] !== 'string') return undefined;
  if (
    v['attempts'] !== undefined &&
    (!Number.isSafeInteger(v['attempts']) || (v['attempts'] as number) < 0)
  ) {
    return undefined;
  }
  return value as SpooledSidecar;
}

/** Validates a parsed spill-file sidecar; undefined when it is not one. */
export function parsePartSidecar(value: unknown): PartSidecar | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v['version'] !== 1 || typeof v['key'] !== 'string' || !Number.isSafeInteger(v['pid'])) return undefined;
  if (typeof v['startedAt'] !== 'string') return undefined;
  if (v['hostname'] !== undefined && typeof v['hostname'] !== 'string') return undefined;
  try {
    parseTraceKey(v['key']);
  } catch {
    return undefined;
  }
  return value as PartSidecar;
}

/** A spill file found in a spool directory. */
export interface SpooledPartial {
  /** The `.part` file. */
  readonly partPath: string;
  /** Its sidecar (possibly claimed). */
  readonly sidecarPath: string;
  /** File stem shared by the `.part` and its sidecar. */
  readonly stem: string;
  readonly claimedBy?: number | undefined;
}

/** Everything {@link scanSpoolDir} finds. */
export interface SpoolDirScan {
  /** Spooled artifacts, oldest first (sidecars parsed and validated). */
  readonly artifacts: SpooledArtifact[];
  /** Spill files (their sidecars are read when recovered). */
  readonly partials: SpooledPartial[];
  /** Sidecars that are not valid. */
  readonly invalid: Array<{ readonly path: string; readonly reason: string }>;
}

/** Reads a spool directory. A directory that does not exist is empty. */
export async function scanSpoolDir(spoolDir: string): Promise<SpoolDirScan> {
  const dir = resolve(spoolDir);
  const scan: SpoolDirScan = { artifacts: [], partials: [], invalid: [] };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return scan;
    throw err;
  }
  // Stems start with a UTC timestamp, so name order is age order.
  names.sort();
  for (const name of names) {
    const claimedBy = claimPid(name);
    const base = unclaimedName(name);
    if (claimedBy === undefined && base !== name) continue;
    const sidecarPath = join(dir, name);
    if (base.endsWith(PART_SIDECAR_SUFFIX)) {
      const stem = base.slice(0, -PART_SIDECAR_SUFFIX.length);
      scan.partials.push({ partPath: join(dir, `${stem}${PART_SUFFIX}`), sidecarPath, stem, claimedBy });
      continue;
    }
    if (!base.endsWith(SIDECAR_SUFFIX)) continue;
    const stem = base.slice(0, -SIDECAR_SUFFIX.length);
    let sidecar: SpooledSidecar | undefined;
    try {
      sidecar = parseSpooledSidecar(JSON.parse(await readFile(sidecarPath, 'utf8')));
    } catch (err) {
      // Claimed and finished by another process since readdir: not an error.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
    }
    if (sidecar === undefined) {
      scan.invalid.push({ path: sidecarPath, reason: 'not a valid spool sidecar' });
      continue;
    }
    scan.artifacts.push({ ...sidecar, path: join(dir, `${stem}${ARTIFACT_SUFFIX}`), sidecarPath, claimedBy });
  }
  return scan;
}

/** A spill file of a recording (live, or left by a killed recorder) found by `listSpooled(dir, { all: true })`. */
export interface SpoolSpillEntry {
  readonly kind: 'spill';
  /** The `.events.gz.part` file. */
  readonly path: string;
  readonly sidecarPath: string;
  readonly key: string;
  /** Recording process and host. */
  readonly pid: number;
  readonly hostname?: string | undefined;
  readonly startedAt: string;
  /** Pid of the process recovering it right now, when claimed. */
  readonly claimedBy?: number | undefined;
}

/** Something in a spool directory that nothing will deliver as it is, with the reason. */
export interface SpoolBrokenEntry {
  readonly kind: 'broken';
  readonly path: string;
  /** Why it is stuck, e.g. `torn sidecar (not JSON)`, `body without a sidecar`. */
  readonly reason: string;
}

/** Every entry of a spool directory: deliverable artifacts, spill files, and broken entries. */
export type SpoolEntry =
  | ({ readonly kind: 'artifact' } & SpooledArtifact)
  | SpoolSpillEntry
  | SpoolBrokenEntry;

/** Why a sidecar's text is not a usable artifact sidecar. */
function sidecarProblem(text: string, parse: (v: unknown) => unknown): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'torn sidecar (not JSON: a crash mid-write, or damage)';
  }
  if (parse(value) !== undefined) return undefined;
  const key = (value as { key?: unknown } | null)?.key;
  if (typeof key === 'string') {
    try {
      parseTraceKey(key);
    } catch {
      return 'sidecar names an invalid trace key';
    }
  }
  return 'not a valid spool sidecar (unknown version or fields)';
}

/**
 * Lists what a spool directory holds, oldest first. By default the artifacts waiting for upload,
 * including those another process is uploading right now (`claimedBy`). With `{ all: true }`,
 * every entry: artifacts, spill files of recordings, and everything broken that nothing will
 * deliver (a torn or invalid sidecar, a body without a sidecar, a sidecar without its body, a
 * spill file without a sidecar), each with the reason, so nothing stays stuck silently.
 */
export async function listSpooled(spoolDir: string): Promise<SpooledArtifact[]>;
export async function listSpooled(spoolDir: string, options: { readonly all: true }): Promise<SpoolEntry[]>;
export async function listSpooled(
  spoolDir: string,
  options?: { readonly all?: boolean | undefined },
): Promise<SpooledArtifact[] | SpoolEntry[]> {
  assertReadableSpoolDir(spoolDir);
  if (options?.all !== true) return (await scanSpoolDir(spoolDir)).artifacts;
  return listEverything(spoolDir);
}

async function listEverything(spoolDir: string): Promise<SpoolEntry[]> {
  const dir = resolve(spoolDir);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const present = new Set(names);
  const entries: SpoolEntry[] = [];
  /** Stems with a sidecar (claimed or not), so bodies without one can be told apart. */
  const artifactStems = new Set<string>();
  const partStems = new Set<string>();
  const read = async (path: string): Promise<string | undefined> => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // finished meanwhile
      return '';
    }
  };
  for (const name of names) {
    if (name.includes('.tmp-')) continue; // a sidecar being written
    const claimedBy = claimPid(name);
    const base = unclaimedName(name);
    if (claimedBy === undefined && base !== name) continue;
    const path = join(dir, name);
    if (base.endsWith(PART_SIDECAR_SUFFIX)) {
      const stem = base.slice(0, -PART_SIDECAR_SUFFIX.length);
      partStems.add(stem);
      const text = await read(path);
      if (text === undefined) continue;
      const problem = sidecarProblem(text, parsePartSidecar);
      if (problem !== undefined) {
        entries.push({ kind: 'broken', path, reason: problem });
        continue;
      }
      const sidecar = parsePartSidecar(JSON.parse(text))!;
      entries.push({
        kind: 'spill',
        path: join(dir, `${stem}${PART_SUFFIX}`),
        sidecarPath: path,
        key: sidecar.key,
        pid: sidecar.pid,
        hostname: sidecar.hostname,
        startedAt: sidecar.startedAt,
        ...(claimedBy === undefined ? {} : { claimedBy }),
      });
      continue;
    }
    if (!base.endsWith(SIDECAR_SUFFIX)) continue;
    const stem = base.slice(0, -SIDECAR_SUFFIX.length);
    artifactStems.add(stem);
    const text = await read(path);
    if (text === undefined) continue;
    const problem = sidecarProblem(text, parseSpooledSidecar);
    if (problem !== undefined) {
      entries.push({ kind: 'broken', path, reason: problem });
      continue;
    }
    const body = `${stem}${ARTIFACT_SUFFIX}`;
    if (!present.has(body)) {
      entries.push({ kind: 'broken', path, reason: 'sidecar without its body (the next flush removes it)' });
      continue;
    }
    const sidecar = parseSpooledSidecar(JSON.parse(text))!;
    entries.push({ kind: 'artifact', ...sidecar, path: join(dir, body), sidecarPath: path, claimedBy });
  }
  for (const name of names) {
    if (name.endsWith(ARTIFACT_SUFFIX) && !artifactStems.has(name.slice(0, -ARTIFACT_SUFFIX.length))) {
      entries.push({
        kind: 'broken',
        path: join(dir, name),
        reason: 'body without a sidecar (being written, or left by a crash): nothing will upload it',
      });
    }
    if (name.endsWith(PART_SUFFIX) && !partStems.has(name.slice(0, -PART_SUFFIX.length))) {
      entries.push({
        kind: 'broken',
        path: join(dir, name),
        reason: 'spill file without a sidecar: its trace key is unknown, so it cannot be recovered',
      });
    }
  }
  return entries;
}
