/**
 * Building {@link TraceArtifact}s from bytes already at hand (a buffer or a file).
 * The recorder builds its own artifact from the spool; these serve uploads of existing files
 * (CLI, `uploadSpooled`) and tests.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../errors.js';
import { parseTraceKey } from '../key.js';
import { TRACE_CONTENT_TYPE, type TraceArtifact } from './types.js';

/**
 * An artifact whose body is an in-memory buffer.
 *
 * @throws {@link TraceKeyError} for a key that is not a trace key.
 */
export function artifactFromBuffer(key: string, body: Uint8Array): TraceArtifact {
  const { userId, taskId } = parseTraceKey(key);
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return {
    key,
    userId,
    taskId,
    byteLength: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    contentType: TRACE_CONTENT_TYPE,
    // One chunk per open, so a retry re-reads the same bytes without copying them.
    open: () => Readable.from([bytes], { objectMode: false }),
  };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * An artifact whose body is a file, hashed by streaming it once (bounded memory).
 * Pass `sha256` when it is already known (e.g. from a spool sidecar) to skip the hashing pass;
 * callers that need to trust the file should not.
 *
 * @throws {@link ConfigError} (`variable: 'sha256'`) for a known hash that is not lowercase hex.
 * @throws {@link TraceKeyError} for a key that is not a trace key.
 */
export async function artifactFromFile(
  key: string,
  path: string,
  known?: { sha256?: string },
): Promise<TraceArtifact> {
  const { userId, taskId } = parseTraceKey(key);
  let sha256 = known?.sha256;
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))) {
    // Every consumer (the uploader Lambda, S3's checksum header) wants lowercase hex.
    throw new ConfigError('artifactFromFile: sha256 must be 64 lowercase hex characters', 'sha256');
  }
  const { size } = await stat(path);
  if (sha256 === undefined) {
    const hash = createHash('sha256');
    await pipeline(createReadStream(path), hash);
    sha256 = hash.digest('hex');
  }
  return {
    key,
    userId,
    taskId,
    byteLength: size,
    sha256,
    contentType: TRACE_CONTENT_TYPE,
    open: () => createReadStream(path),
  };
}
