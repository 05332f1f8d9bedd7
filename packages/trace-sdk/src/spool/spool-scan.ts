/**
 * Reading a spool directory: the artifacts waiting for upload, the spill files of recordings, and
 * everything broken that nothing will deliver, each with its reason. Reads only; writing is
 * ./spool-store.ts.
 *
 * @packageDocumentation
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseTraceKey } from '../key.js';
import { assertReadableSpoolDir } from './private-dir.js';
import {
  ARTIFACT_SUFFIX,
  claimPid,
  ownerMayBeAlive,
  PART_SIDECAR_SUFFIX,
  PART_SUFFIX,
  SIDECAR_SUFFIX,
  unclaimedName,
} from './spool-files.js';
import { parsePartSidecar, parseSpooledSidecar, type SpooledSidecar } from './spool-sidecars.js';

/** A spooled artifact found by {@link listSpooled}. */
export interface SpooledArtifact extends SpooledSidecar {
  /** The body file, `<stem>.jsonl.gz`. */
  readonly path: string;
  /** The sidecar file (`<stem>.json`, or `<stem>.json.claimed-<pid>` while claimed). */
  readonly sidecarPath: string;
  /** Pid of the process uploading it right now, when claimed. */
  readonly claimedBy?: number | undefined;
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
  /**
   * Whether its recording (or the flusher recovering it) may still be at work: its lease is held.
   * A spill that is not live was left by a killed recorder and waits for `--recover-partials`.
   */
  readonly live: boolean;
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
        live:
          claimedBy === undefined
            ? ownerMayBeAlive(join(dir, `${stem}${PART_SUFFIX}`), sidecar.pid, sidecar.hostname)
            : ownerMayBeAlive(path, claimedBy),
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
