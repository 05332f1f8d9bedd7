/**
 * Local development transport: writes each artifact to `<dir>/<key>`, the same layout as the
 * bucket, atomically (temp file, fsync, rename) so a reader never sees half a trace.
 *
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, UploadError } from '../../errors.js';
import { parseTraceKey } from '../../key.js';
import { safeCause, safeErrorMessage } from '../../sanitize.js';
import { abortedError } from '../classify.js';
import { applyRetryOption, type RetryPolicy } from '../retry.js';
import type { TraceArtifact, TraceTransport, UploadReceipt } from '../types.js';

/** Name of the file transport in receipts, errors and metrics. */
export const FILE_TRANSPORT = 'file';

/** Options of {@link fileTransport}. */
export interface FileTransportOptions {
  /** Root directory; artifacts land at `<dir>/traces/<user_id>/<task_id>.jsonl.gz`. Created on demand. */
  readonly dir: string;
  /** Retry policy, or `false` for a single attempt. Default: the shared policy (file errors are not retried). */
  readonly retry?: RetryPolicy | false | undefined;
}

function fail(code: UploadError['code'], message: string, cause?: unknown): UploadError {
  return new UploadError(code, `${FILE_TRANSPORT}: ${message}`, {
    transport: FILE_TRANSPORT,
    retryable: false,
    cause: safeCause(cause),
  });
}

/** Resolves `<root>/<key>` and proves it stays below `root` (the key module already forbids escapes). */
function targetPath(root: string, key: string): string {
  let segments: string[];
  try {
    parseTraceKey(key);
    segments = key.split('/');
  } catch (err) {
    throw fail('ERR_UPLOAD_REJECTED', `refusing a key that is not a trace key`, err);
  }
  const path = join(root, ...segments);
  const rel = relative(root, path);
  if (rel.startsWith(`..${sep}`) || rel === '..' || resolve(root, rel) !== path) {
    throw fail('ERR_UPLOAD_REJECTED', 'refusing a key that resolves outside the directory');
  }
  return path;
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable; not supported everywhere (e.g. Windows), hence best effort.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort.
  }
}

async function writeAtomically(
  path: string,
  artifact: TraceArtifact,
  signal: AbortSignal | undefined,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o644);
  let closed = false;
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    const source = artifact.open();
    // Ends a wait for the next chunk at once, not only between chunks.
    const onAbort = () => source.destroy(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of source) {
        signal?.throwIfAborted();
        const buf: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        hash.update(buf);
        bytes += buf.byteLength;
        // writeFile loops over short writes, from the current position.
        await handle.writeFile(buf);
      }
      signal?.throwIfAborted();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.destroy();
    }
    if (bytes !== artifact.byteLength || hash.digest('hex') !== artifact.sha256) {
      throw fail(
        'ERR_UPLOAD_CHECKSUM',
        `the body read for ${artifact.key} does not match its length or sha256`,
      );
    }
    await handle.sync();
    await handle.close();
    closed = true;
    await rename(tmp, path);
    await fsyncDir(dirname(path));
  } catch (err) {
    if (!closed) await handle.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/**
 * Writes artifacts under a local directory with the bucket's key layout, atomically and
 * durably; the receipt's `uri` is a `file://` URL. Verifies the bytes written against the
 * artifact's length and sha256.
 *
 * @throws {@link ConfigError} (`variable: 'dir'`) when `dir` is missing.
 * @example
 * const transport = fileTransport({ dir: './traces-out' });
 */
export function fileTransport(options: FileTransportOptions): TraceTransport {
  const dir = options?.dir;
  if (typeof dir !== 'string' || dir.trim().length === 0) {
    throw new ConfigError('fileTransport: dir is required', 'dir');
  }
  const root = resolve(dir);
  const transport: TraceTransport = {
    name: FILE_TRANSPORT,
    async upload(artifact, opts): Promise<UploadReceipt> {
      const signal = opts?.signal;
      const path = targetPath(root, artifact.key);
      if (signal?.aborted) throw abortedError(FILE_TRANSPORT, signal.reason);
      try {
        await writeAtomically(path, artifact, signal);
      } catch (err) {
        if (err instanceof UploadError) throw err;
        if (signal?.aborted) throw abortedError(FILE_TRANSPORT, err);
        // Disk full, permissions: the destination refused; retrying the same write will not help.
        throw fail('ERR_UPLOAD_IO', `could not write ${artifact.key}: ${safeErrorMessage(err)}`, err);
      }
      return { key: artifact.key, uri: pathToFileURL(path).href };
    },
  };
  return applyRetryOption(transport, options.retry);
}
