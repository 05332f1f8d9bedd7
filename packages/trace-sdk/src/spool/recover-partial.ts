/**
 * Turns the spill file of a killed recorder into an artifact: the complete gzip members are kept, a
 * torn tail is dropped, and a header member marked `recovered: true` is prepended. When the recorder
 * had already sealed (and died before uploading), its sidecar holds the real header and the exact
 * body is rebuilt instead.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { gzipMember, readGzipMembers } from '../compress/gzip-members.js';
import { TraceFormatError } from '../errors.js';
import { parseTraceKey } from '../key.js';
import { SDK_NAME, SDK_VERSION } from '../version.js';
import type { PartSidecar } from './event-spool.js';
import { removeFile } from './spool-files.js';
import type { SpooledPartial } from './spool-scan.js';
import { parsePartSidecar } from './spool-sidecars.js';
import { writeSpooledArtifact } from './spool-store.js';

/** Transport name recorded in the sidecar of a recovered artifact. */
export const RECOVERY_TRANSPORT = 'spool-recovery';

/** What a recovery produced. */
export type PartialRecovery =
  | {
      readonly kind: 'recovered';
      readonly key: string;
      readonly path: string;
      readonly events: number | undefined;
    }
  /** The sidecar could not be read; it is left in place. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** The recorder died before writing to the spill file; the sidecar was removed. */
  | { readonly kind: 'missing' };

/** The events a spill file holds up to its last complete member. */
interface PartScan {
  events: number;
  bytes: number;
  /** Compressed bytes of complete members. */
  validBytes: number;
  lastTs: number | undefined;
}

async function scanPart(partPath: string): Promise<PartScan> {
  const scan: PartScan = { events: 0, bytes: 0, validBytes: 0, lastTs: undefined };
  try {
    // verifiedOnly: the spool writes ~1 MiB members; anything else is damage, not data.
    for await (const { data, compressedEnd } of readGzipMembers(createReadStream(partPath), {
      verifiedOnly: true,
    })) {
      // Members end on line boundaries; one that does not is the torn end of the recording.
      if (data.length > 0 && data[data.length - 1] !== 0x0a) break;
      let lines = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, nl + 1)) lines++;
      scan.events += lines;
      scan.bytes += data.length;
      scan.validBytes = compressedEnd ?? scan.validBytes;
      scan.lastTs = lastTimestamp(data) ?? scan.lastTs;
    }
  } catch (err) {
    // A torn or damaged tail ends the usable part; I/O errors are real failures.
    if (!(err instanceof TraceFormatError)) throw err;
  }
  return scan;
}

function lastTimestamp(data: Buffer): number | undefined {
  const end = data.length - 1;
  if (end <= 0) return undefined;
  const start = data.lastIndexOf(0x0a, end - 1) + 1;
  try {
    const ts = (JSON.parse(data.toString('utf8', start, end)) as { ts?: unknown }).ts;
    return typeof ts === 'number' && Number.isFinite(ts) ? ts : undefined;
  } catch {
    return undefined;
  }
}

/** The header of a recovered trace: the counts the spill file proves, `null` for what it cannot. */
function recoveredHeader(sidecar: PartSidecar, scan: PartScan, discardedBytes: number, mtimeMs: number) {
  const { userId, taskId } = parseTraceKey(sidecar.key);
  const startedAt = Date.parse(sidecar.startedAt);
  // ISO 8601 like the recorder's header; the end is the last event's `ts`, else the file's mtime.
  const finishedAt = new Date(scan.lastTs ?? mtimeMs);
  // Field order as the recorder writes it: the Python agent's fields first.
  return {
    event: 'TRAJECTORY_ARTIFACT_HEADER',
    task_id: taskId,
    accumulated_events: scan.events,
    // The Python agent's rule, as in the recorder's header (record/header.ts): the lines' bytes
    // without their newlines, one per event.
    accumulated_bytes: Math.max(0, scan.bytes - scan.events),
    // Unknown: the recorder died before it could count them.
    dropped: null,
    max_bytes: null,
    schema_version: 1,
    user_id: userId,
    started_at: Number.isFinite(startedAt) ? new Date(startedAt).toISOString() : null,
    finished_at: Number.isNaN(finishedAt.getTime()) ? null : finishedAt.toISOString(),
    sdk: { name: SDK_NAME, version: SDK_VERSION },
    redactions: null,
    truncated_fields: null,
    recovered: true,
    // A valid trace, but not the whole task: what the recorder had on disk when it died.
    partial: true,
    recovery: { reason: 'recorder_exited', discarded_compressed_bytes: discardedBytes },
  };
}

function announcedEvents(headerMember: Buffer): number | undefined {
  try {
    const n = (JSON.parse(gunzipSync(headerMember).toString('utf8')) as { accumulated_events?: unknown })
      .accumulated_events;
    return typeof n === 'number' ? n : undefined;
  } catch {
    return undefined;
  }
}

async function* concat(header: Buffer, partPath: string, length: number): AsyncGenerator<Buffer> {
  yield header;
  if (length > 0) yield* createReadStream(partPath, { start: 0, end: length - 1 });
}

/** Whether the spill file plus the header kept at seal time still hash to the sealed body. */
async function matchesSealed(partPath: string, sealed: NonNullable<PartSidecar['sealed']>, size: number) {
  const header = Buffer.from(sealed.header, 'base64');
  if (header.length + size !== sealed.byteLength) return undefined;
  const hash = createHash('sha256');
  for await (const chunk of concat(header, partPath, size)) hash.update(chunk);
  return hash.digest('hex') === sealed.sha256 ? header : undefined;
}

/**
 * Recovers the spill file described by `partial` (whose sidecar the caller has claimed) into
 * `<stem>.recovered.jsonl.gz` + sidecar in the same directory, then removes the spill file and its
 * sidecar. Safe to rerun after a crash: the output names are derived from the spill file's.
 */
export async function recoverPartial(partial: SpooledPartial): Promise<PartialRecovery> {
  let sidecar: PartSidecar | undefined;
  try {
    sidecar = parsePartSidecar(JSON.parse(await readFile(partial.sidecarPath, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { kind: 'invalid', reason: 'sidecar vanished' };
  }
  if (sidecar === undefined) return { kind: 'invalid', reason: 'not a valid spill sidecar' };
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = await stat(partial.partPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // The recorder died after creating the sidecar and before its first write: nothing to keep.
    await removeFile(partial.sidecarPath);
    return { kind: 'missing' };
  }
  const dir = dirname(partial.partPath);
  const stem = `${partial.stem}.recovered`;
  const sealedHeader =
    sidecar.sealed === undefined ? undefined : await matchesSealed(partial.partPath, sidecar.sealed, size);
  let path: string;
  let events: number | undefined;
  if (sealedHeader !== undefined) {
    path = await writeSpooledArtifact(dir, stem, concat(sealedHeader, partial.partPath, size), {
      key: sidecar.key,
      transport: RECOVERY_TRANSPORT,
      expected: { sha256: sidecar.sealed!.sha256, byteLength: sidecar.sealed!.byteLength },
      lastError: {
        code: 'ERR_RECORDER_EXITED',
        message: 'The recorder exited after sealing, before the upload finished',
      },
    });
    events = announcedEvents(sealedHeader);
  } else {
    const scan = await scanPart(partial.partPath);
    const header = recoveredHeader(sidecar, scan, size - scan.validBytes, mtimeMs);
    const headerMember = await gzipMember(Buffer.from(`${JSON.stringify(header)}\n`, 'utf8'));
    path = await writeSpooledArtifact(dir, stem, concat(headerMember, partial.partPath, scan.validBytes), {
      key: sidecar.key,
      transport: RECOVERY_TRANSPORT,
      recovered: true,
      lastError: { code: 'ERR_RECORDER_EXITED', message: 'The recorder exited while recording' },
    });
    events = scan.events;
  }
  // The artifact and its sidecar are durable: the spill file can go (body first, then sidecar).
  await removeFile(partial.partPath);
  await removeFile(partial.sidecarPath);
  return { kind: 'recovered', key: sidecar.key, path, events };
}
