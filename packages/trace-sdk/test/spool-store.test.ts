import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpoolError, TraceKeyError } from '../src/errors.js';
import { readTrace } from '../src/read/read-trace.js';
import { createEventSpool } from '../src/spool/event-spool.js';
import { listSpooled, persistFailedArtifact } from '../src/spool/spool-store.js';
import type { SealedBody } from '../src/spool/types.js';

const KEY = 'traces/user-1/task-1.jsonl.gz';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sealedBody(events: number, opts: { spill?: boolean } = {}): Promise<SealedBody> {
  const spool = createEventSpool({
    spoolDir: join(dir, 'recording'),
    key: KEY,
    batchBytes: 1024,
    memoryThresholdBytes: opts.spill === true ? 0 : undefined,
  });
  for (let seq = 0; seq < events; seq++)
    spool.append(`${JSON.stringify({ event: 'E', seq, pad: 'x'.repeat(50) })}\n`);
  return spool.seal(JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', accumulated_events: events }));
}

/** A body served from `chunks`, with a chosen sha256, that may fail part-way. */
function fakeBody(
  chunks: Buffer[],
  opts: { sha256?: string; failAfter?: number; onChunk?: () => Promise<void> } = {},
) {
  const all = Buffer.concat(chunks);
  let disposed = false;
  const body: SealedBody & { readonly disposed: boolean } = {
    byteLength: all.length,
    sha256: opts.sha256 ?? createHash('sha256').update(all).digest('hex'),
    open: () =>
      Readable.from(
        (async function* () {
          for (const [i, chunk] of chunks.entries()) {
            if (opts.failAfter === i) throw new Error('disk went away');
            await opts.onChunk?.();
            yield chunk;
          }
        })(),
      ),
    dispose: async () => {
      disposed = true;
    },
    get disposed() {
      return disposed;
    },
  };
  return body;
}

describe('persistFailedArtifact', () => {
  it('writes <stem>.jsonl.gz and then its sidecar, and disposes the sealed body', async () => {
    const body = await sealedBody(300, { spill: true });
    const expected = await buffer(body.open());
    const spoolDir = join(dir, 'failed');
    const path = await persistFailedArtifact(spoolDir, body, {
      key: KEY,
      transport: 'presigned-put',
      error: { code: 'ERR_UPLOAD_HTTP', message: 'HTTP 503 SlowDown' },
    });

    expect(basename(path)).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{12}\.jsonl\.gz$/);
    expect((await readFile(path)).equals(expected)).toBe(true);
    const sidecar = JSON.parse(await readFile(path.replace(/\.jsonl\.gz$/, '.json'), 'utf8'));
    expect(sidecar).toEqual({
      version: 1,
      key: KEY,
      sha256: body.sha256,
      byteLength: body.byteLength,
      transport: 'presigned-put',
      createdAt: expect.any(String),
      lastError: { code: 'ERR_UPLOAD_HTTP', message: 'HTTP 503 SlowDown' },
    });
    expect(await readdir(spoolDir)).toHaveLength(2);
    // The spill file and its sidecar are gone: the spooled copy replaced them.
    expect(await readdir(join(dir, 'recording'))).toEqual([]);
    let lines = 0;
    for await (const _ of readTrace(path)) lines++;
    expect(lines).toBe(301);
  });

  it('never lets a sidecar exist before its body is complete', async () => {
    const spoolDir = join(dir, 'failed');
    const seen: string[][] = [];
    const body = fakeBody([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], {
      onChunk: async () => {
        seen.push((await readdir(spoolDir).catch(() => [])).filter((n) => n.endsWith('.json')));
      },
    });
    await persistFailedArtifact(spoolDir, body, { key: KEY, transport: 'file' });
    expect(seen).toEqual([[], [], []]);
    expect((await readdir(spoolDir)).filter((n) => n.endsWith('.json'))).toHaveLength(1);
  });

  it('leaves nothing behind, and keeps the body, when the body cannot be read in full', async () => {
    const spoolDir = join(dir, 'failed');
    const body = fakeBody([Buffer.from('aaaa'), Buffer.from('bbbb')], { failAfter: 1 });
    const err = await persistFailedArtifact(spoolDir, body, { key: KEY, transport: 'file' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SpoolError);
    expect(await readdir(spoolDir)).toEqual([]);
    expect(body.disposed).toBe(false);
  });

  it('refuses a body whose bytes do not match its sha256', async () => {
    const spoolDir = join(dir, 'failed');
    const body = fakeBody([Buffer.from('aaaa')], { sha256: '0'.repeat(64) });
    await expect(
      persistFailedArtifact(spoolDir, body, { key: KEY, transport: 'file' }),
    ).rejects.toBeInstanceOf(SpoolError);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('refuses a key that is not a trace key before writing anything', async () => {
    const body = fakeBody([Buffer.from('aaaa')]);
    await expect(
      persistFailedArtifact(join(dir, 'failed'), body, { key: 'traces/../x.jsonl.gz', transport: 'file' }),
    ).rejects.toBeInstanceOf(TraceKeyError);
    expect(existsSync(join(dir, 'failed'))).toBe(false);
  });
});

describe('listSpooled', () => {
  it('lists complete artifacts oldest first and ignores everything else', async () => {
    const spoolDir = join(dir, 'failed');
    const first = await persistFailedArtifact(spoolDir, fakeBody([Buffer.from('1')]), {
      key: KEY,
      transport: 'file',
    });
    await new Promise((r) => setTimeout(r, 5)); // stems carry millisecond timestamps
    const second = await persistFailedArtifact(spoolDir, fakeBody([Buffer.from('22')]), {
      key: 'traces/user-2/task-2.jsonl.gz',
      transport: 'lambda',
      attempts: 3,
    });
    // Noise: a sidecar being written, a body without sidecar, a spill file, an invalid sidecar.
    await writeFile(join(spoolDir, 'x.json.tmp-1-abcd'), '{');
    await writeFile(join(spoolDir, 'orphan.jsonl.gz'), 'x');
    await writeFile(join(spoolDir, 'rec.events.gz.part'), 'x');
    await writeFile(
      join(spoolDir, 'rec.events.gz.part.json'),
      JSON.stringify({ version: 1, key: KEY, pid: 1 }),
    );
    await writeFile(join(spoolDir, 'bad.json'), JSON.stringify({ version: 1, key: 'nope' }));

    const entries = await listSpooled(spoolDir);
    expect(entries.map((e) => e.path)).toEqual([first, second]);
    expect(entries[1]).toMatchObject({
      key: 'traces/user-2/task-2.jsonl.gz',
      byteLength: 2,
      transport: 'lambda',
      attempts: 3,
    });
    expect(entries[1]!.claimedBy).toBeUndefined();
  });

  it('returns nothing for a directory that does not exist', async () => {
    expect(await listSpooled(join(dir, 'missing'))).toEqual([]);
  });

  it('shows an entry claimed by an upload in progress', async () => {
    const spoolDir = join(dir, 'failed');
    await mkdir(spoolDir);
    const path = await persistFailedArtifact(spoolDir, fakeBody([Buffer.from('1')]), {
      key: KEY,
      transport: 'file',
    });
    const sidecar = path.replace(/\.jsonl\.gz$/, '.json');
    await writeFile(`${sidecar}.claimed-4242`, await readFile(sidecar));
    await rm(sidecar);
    expect(await listSpooled(spoolDir)).toEqual([expect.objectContaining({ path, claimedBy: 4242 })]);
  });
});
