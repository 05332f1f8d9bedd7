import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  artifactFromBuffer,
  artifactFromFile,
  ConfigError,
  fileTransport,
  type TraceArtifact,
  UploadError,
} from '../src/index.js';

const KEY = 'traces/user 1/01JD4Q9Z6X.jsonl.gz';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'file-transport-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function listAll(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}

describe('fileTransport', () => {
  it('writes <dir>/<key> with the bucket layout and returns a file:// uri', async () => {
    const body = randomBytes(70_000);
    const receipt = await fileTransport({ dir }).upload(artifactFromBuffer(KEY, body), {});
    const path = join(dir, 'traces', 'user 1', '01JD4Q9Z6X.jsonl.gz');
    expect(receipt).toEqual({ key: KEY, uri: expect.stringMatching(/^file:\/\//), attempts: 1 });
    expect(fileURLToPath(receipt.uri ?? '')).toBe(path);
    expect((await readFile(path)).equals(body)).toBe(true);
    expect(await listAll(dir)).toEqual([join('traces', 'user 1', '01JD4Q9Z6X.jsonl.gz')]);
  });

  it('replaces an existing object atomically and leaves no temp files', async () => {
    const t = fileTransport({ dir });
    await t.upload(artifactFromBuffer(KEY, Buffer.from('first')), {});
    await t.upload(artifactFromBuffer(KEY, Buffer.from('second')), {});
    expect(await readFile(join(dir, ...KEY.split('/')), 'utf8')).toBe('second');
    expect(await listAll(dir)).toHaveLength(1);
  });

  it('refuses an artifact whose key is not a trace key', async () => {
    for (const key of ['traces/../../etc/passwd.jsonl.gz', 'other/u/t.jsonl.gz', 'traces/u/x/t.jsonl.gz']) {
      const artifact: TraceArtifact = { ...artifactFromBuffer('traces/u/t.jsonl.gz', Buffer.from('x')), key };
      await expect(fileTransport({ dir }).upload(artifact, {})).rejects.toMatchObject({
        code: 'ERR_UPLOAD_REJECTED',
        attempts: 1,
      });
    }
    expect(await listAll(dir)).toEqual([]);
  });

  it('refuses a body that does not match its sha256 and leaves nothing behind', async () => {
    const artifact: TraceArtifact = {
      ...artifactFromBuffer(KEY, Buffer.from('promised')),
      open: () => Readable.from([Buffer.from('delivered')]),
    };
    const err = await fileTransport({ dir })
      .upload(artifact, {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM' });
    expect(await listAll(dir)).toEqual([]);
  });

  it('stops with ERR_UPLOAD_ABORTED and removes its temp file', async () => {
    const controller = new AbortController();
    const artifact: TraceArtifact = {
      ...artifactFromBuffer(KEY, Buffer.alloc(3)),
      open: () =>
        Readable.from(
          (async function* () {
            yield Buffer.alloc(1);
            controller.abort();
            await new Promise((resolve) => setTimeout(resolve, 50));
            yield Buffer.alloc(2);
          })(),
        ),
    };
    await expect(
      fileTransport({ dir }).upload(artifact, { signal: controller.signal }),
    ).rejects.toMatchObject({
      code: 'ERR_UPLOAD_ABORTED',
    });
    expect(await listAll(dir)).toEqual([]);
  });

  it('reports a destination it cannot write as a non-retryable ERR_UPLOAD_IO', async () => {
    // `traces` is a file, so the directory for the key cannot be created (fails for root too).
    await writeFile(join(dir, 'traces'), 'not a directory');
    await expect(
      fileTransport({ dir }).upload(artifactFromBuffer(KEY, Buffer.from('x')), {}),
    ).rejects.toMatchObject({
      code: 'ERR_UPLOAD_IO',
      retryable: false,
      attempts: 1,
    });
  });

  it('artifactFromFile refuses a known sha256 that is not lowercase hex', async () => {
    const path = join(dir, 'body.gz');
    await writeFile(path, 'x');
    const sha256 = createHash('sha256').update('x').digest('hex');
    await expect(artifactFromFile(KEY, path, { sha256: sha256.toUpperCase() })).rejects.toMatchObject({
      code: 'ERR_TRACE_CONFIG',
      variable: 'sha256',
    });
    await expect(artifactFromFile(KEY, path, { sha256 })).resolves.toMatchObject({ sha256, byteLength: 1 });
  });

  it('requires dir at construction', () => {
    expect(() => fileTransport({ dir: '' })).toThrow(ConfigError);
    expect(() => fileTransport({ dir: '   ' })).toThrow(/dir is required/);
  });
});
