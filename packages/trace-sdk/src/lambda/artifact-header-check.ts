/**
 * What the uploader Lambda checks before it stores an inline body: it is gzip, and its first line
 * is a `TRAJECTORY_ARTIFACT_HEADER` naming the grant's task (and user, when the header names
 * one). Bounded work: it inflates only until the first newline, and at most a fixed number of
 * bytes, whatever the body holds (a gzip bomb costs no more than an honest trace).
 *
 * @packageDocumentation
 */
import { createGunzip } from 'node:zlib';

/** Longest header line the check inflates before refusing: 64 KiB. */
export const DEFAULT_MAX_HEADER_LINE_BYTES = 64 * 1024;

const HEADER_EVENT = 'TRAJECTORY_ARTIFACT_HEADER';
const NEWLINE = 0x0a;
/** Output chunk size: the most inflated past the cap before the check stops. */
const CHUNK_BYTES = 16 * 1024;

/** The outcome of {@link checkArtifactHeader}. */
export type ArtifactHeaderCheck =
  | { readonly ok: true; readonly header: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: string };

/** Inflates `body` until the first newline; resolves with the line's bytes or why there is none. */
function firstLine(body: Uint8Array, maxBytes: number): Promise<{ line: Buffer } | { reason: string }> {
  return new Promise((resolve) => {
    const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: { line: Buffer } | { reason: string }) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      resolve(value);
    };
    gunzip.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(NEWLINE);
      const take = nl === -1 ? chunk : chunk.subarray(0, nl);
      if (size + take.byteLength > maxBytes) {
        settle({ reason: `the first line is longer than ${maxBytes} bytes` });
        return;
      }
      chunks.push(take);
      size += take.byteLength;
      if (nl !== -1) settle({ line: Buffer.concat(chunks, size) });
    });
    gunzip.on('error', () => settle({ reason: 'the body is not valid gzip' }));
    gunzip.on('end', () => settle({ reason: 'the body has no complete first line' }));
    gunzip.end(body);
  });
}

/**
 * Checks that `body` is a gzip trace whose header names `expected.taskId` (and
 * `expected.userId`, when the header has a `user_id`; headers of the Python agent carry none).
 * Never throws; the reason is safe to return to the caller (it quotes no body bytes).
 */
export async function checkArtifactHeader(
  body: Uint8Array,
  expected: { readonly userId: string; readonly taskId: string },
  options: { readonly maxHeaderBytes?: number | undefined } = {},
): Promise<ArtifactHeaderCheck> {
  if (body.byteLength < 3 || body[0] !== 0x1f || body[1] !== 0x8b || body[2] !== 0x08) {
    return { ok: false, reason: 'the body is not gzip (no gzip magic)' };
  }
  const found = await firstLine(body, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_LINE_BYTES);
  if ('reason' in found) return { ok: false, reason: found.reason };
  let header: unknown;
  try {
    header = JSON.parse(found.line.toString('utf8'));
  } catch {
    return { ok: false, reason: 'the first line is not JSON' };
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    return { ok: false, reason: 'the first line is not a JSON object' };
  }
  const h = header as Record<string, unknown>;
  if (h['event'] !== HEADER_EVENT) return { ok: false, reason: `the first line is not a ${HEADER_EVENT}` };
  if (h['task_id'] !== expected.taskId) {
    return { ok: false, reason: "the header's task_id is not the grant's task" };
  }
  if (h['user_id'] !== undefined && h['user_id'] !== expected.userId) {
    return { ok: false, reason: "the header's user_id is not the grant's user" };
  }
  return { ok: true, header: h };
}
