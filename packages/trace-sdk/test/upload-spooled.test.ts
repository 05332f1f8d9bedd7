import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpoolError, UploadError } from '../src/errors.js';
import { parseTraceKey } from '../src/key.js';
import { readTrace } from '../src/read/read-trace.js';
import { createEventSpool } from '../src/spool/event-spool.js';
import { listSpooled, persistFailedArtifact } from '../src/spool/spool-store.js';
import type { SealedBody } from '../src/spool/types.js';
import { uploadSpooled } from '../src/spool/upload-spooled.js';
import type { TraceArtifact, TraceTransport, UploadReceipt } from '../src/upload/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'upload-spooled-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const keyOf = (i: number) => `traces/user-${i % 3}/task-${i}.jsonl.gz`;

/** An in-memory transport that records every upload and any overlap of two uploads of one key. */
function memoryTransport(opts: { fail?: (call: number) => boolean; delayMs?: number } = {}) {
  const stored = new Map<string, Buffer>();
  const uploads: string[] = [];
  const inFlight = new Set<string>();
  const overlaps: string[] = [];
  let calls = 0;
  const transport: TraceTransport & { stored: typeof stored; uploads: string[]; overlaps: string[] } = {
    name: 'memory',
    stored,
    uploads,
    overlaps,
    async upload(artifact: TraceArtifact): Promise<UploadReceipt> {
      const call = ++calls;
      if (inFlight.has(artifact.key)) overlaps.push(artifact.key);
      inFlight.add(artifact.key);
      try {
        const body = await buffer(artifact.open());
        if (opts.delayMs !== undefined) await new Promise((r) => setTimeout(r, opts.delayMs));
        if (opts.fail?.(call) === true) {
          throw new UploadError('ERR_UPLOAD_HTTP', 'HTTP 503 SlowDown', {
            status: 503,
            retryable: true,
            transport: 'memory',
          });
        }
        expect(createHash('sha256').update(body).digest('hex')).toBe(artifact.sha256);
        stored.set(artifact.key, body);
        uploads.push(artifact.key);
        return { key: artifact.key, attempts: 1 };
      } finally {
        inFlight.delete(artifact.key);
      }
    },
  };
  return transport;
}

async function sealed(
  events: number,
  spoolDir = join(dir, 'rec'),
  memoryThresholdBytes?: number,
  key = keyOf(0),
): Promise<SealedBody> {
  const spool = createEventSpool({ spoolDir, key, batchBytes: 2048, memoryThresholdBytes });
  for (let seq = 0; seq < events; seq++)
    spool.append(`${JSON.stringify({ event: 'E', seq, pad: 'y'.repeat(60) })}\n`);
  const { userId, taskId } = parseTraceKey(key);
  return spool.seal(
    JSON.stringify({
      event: 'TRAJECTORY_ARTIFACT_HEADER',
      task_id: taskId,
      user_id: userId,
      accumulated_events: events,
    }),
  );
}

/** The authority of these tests: an orchestrator whose records say every spooled task is genuine. */
const trusting = (transport: TraceTransport) => async () => transport;

/** Spools `n` failed artifacts and returns their bodies by key. */
async function spoolArtifacts(spoolDir: string, n: number): Promise<Map<string, Buffer>> {
  const bodies = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const body = await sealed(10 + i, join(dir, 'rec'), undefined, keyOf(i));
    bodies.set(keyOf(i), await buffer(body.open()));
    await persistFailedArtifact(spoolDir, body, { key: keyOf(i), transport: 'presigned-put' });
  }
  return bodies;
}

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

describe('uploadSpooled', () => {
  it('reports a spool directory that fails it (here the claim cannot be renamed) as a typed SpoolError', async () => {
    const spoolDir = join(dir, 'spool');
    await spoolArtifacts(spoolDir, 1);
    const [entry] = await listSpooled(spoolDir);
    // A non-empty directory where the claim would go: the rename fails (EISDIR/ENOTEMPTY) as on a
    // read-only or broken disk, which root in CI cannot otherwise simulate.
    const claimPath = `${entry!.path.replace(/\.jsonl\.gz$/, '.json')}.claimed-${process.pid}`;
    await mkdir(join(claimPath, 'x'), { recursive: true });
    const transport = memoryTransport();
    const result = await uploadSpooled({ spoolDir, authorize: trusting(transport) });
    expect(result.uploaded).toEqual([]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]!.error).toBeInstanceOf(SpoolError);
    expect(result.failed[0]!.error).toMatchObject({ code: 'ERR_SPOOL_IO' });
    expect(transport.uploads).toEqual([]);
  });

  it('keeps failed uploads with attempts and lastError, then delivers them on a later run', async () => {
    const spoolDir = join(dir, 'spool');
    const bodies = await spoolArtifacts(spoolDir, 3);

    const first = await uploadSpooled({
      spoolDir,
      authorize: trusting(memoryTransport({ fail: () => true })),
    });
    expect(first.uploaded).toEqual([]);
    expect(first.failed.map((f) => f.key).sort()).toEqual([...bodies.keys()].sort());
    expect(first.failed[0]!.error).toBeInstanceOf(UploadError);
    for (const entry of await listSpooled(spoolDir)) {
      expect(entry).toMatchObject({
        attempts: 1,
        lastError: { code: 'ERR_UPLOAD_HTTP', message: 'HTTP 503 SlowDown' },
      });
    }

    const transport = memoryTransport();
    const second = await uploadSpooled({ spoolDir, authorize: trusting(transport) });
    expect(second.failed).toEqual([]);
    expect(second.uploaded.map((u) => u.attempts)).toEqual([2, 2, 2]);
    for (const [key, body] of bodies) expect(transport.stored.get(key)?.equals(body)).toBe(true);
    expect(await readdir(spoolDir)).toEqual([]);

    const third = await uploadSpooled({ spoolDir, authorize: trusting(transport) });
    expect(third).toEqual({ uploaded: [], failed: [], skipped: [] });
    expect(transport.uploads).toHaveLength(3);
  });

  it('refuses a body that no longer matches its sidecar, and keeps it for inspection', async () => {
    const spoolDir = join(dir, 'spool');
    await spoolArtifacts(spoolDir, 1);
    const [entry] = await listSpooled(spoolDir);
    const bytes = await readFile(entry!.path);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    await writeFile(entry!.path, bytes);

    const transport = memoryTransport();
    const result = await uploadSpooled({ spoolDir, authorize: trusting(transport) });
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]!.error).toMatchObject({ code: 'ERR_UPLOAD_CHECKSUM' });
    expect(transport.uploads).toEqual([]);
    expect(await listSpooled(spoolDir)).toEqual([
      expect.objectContaining({
        path: entry!.path,
        lastError: expect.objectContaining({ code: 'ERR_UPLOAD_CHECKSUM' }),
      }),
    ]);
  });

  it('uploads each entry exactly once when two runs share the directory', async () => {
    const spoolDir = join(dir, 'spool');
    const bodies = await spoolArtifacts(spoolDir, 12);
    const transport = memoryTransport({ delayMs: 5 });
    const [a, b] = await Promise.all([
      uploadSpooled({ spoolDir, authorize: trusting(transport) }),
      uploadSpooled({ spoolDir, authorize: trusting(transport) }),
    ]);
    expect(transport.overlaps).toEqual([]);
    expect([...transport.uploads].sort()).toEqual([...bodies.keys()].sort());
    expect(a.uploaded.length + b.uploaded.length).toBe(12);
    // They really ran side by side: each delivered some, and passed over what the other had claimed.
    expect(a.uploaded.length).toBeGreaterThan(0);
    expect(b.uploaded.length).toBeGreaterThan(0);
    expect([...a.skipped, ...b.skipped].every((s) => s.reason === 'claimed')).toBe(true);
    expect([...a.failed, ...b.failed]).toEqual([]);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('takes over a claim left by a dead process, and leaves a live claim alone', async () => {
    const spoolDir = join(dir, 'spool');
    await spoolArtifacts(spoolDir, 2);
    const [dead, live] = await listSpooled(spoolDir);
    await rename(dead!.sidecarPath, `${dead!.sidecarPath}.claimed-${deadPid()}`);
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await rename(live!.sidecarPath, `${live!.sidecarPath}.claimed-${sleeper.pid}`);
      const transport = memoryTransport();
      const result = await uploadSpooled({ spoolDir, authorize: trusting(transport) });
      expect(result.uploaded.map((u) => u.path)).toEqual([dead!.path]);
      expect(result.skipped).toEqual([{ path: live!.path, reason: 'claimed' }]);
    } finally {
      sleeper.kill();
    }
  });

  it('drops a sidecar whose body is gone', async () => {
    const spoolDir = join(dir, 'spool');
    await spoolArtifacts(spoolDir, 1);
    const [entry] = await listSpooled(spoolDir);
    await rm(entry!.path);
    const result = await uploadSpooled({ spoolDir, authorize: trusting(memoryTransport()) });
    expect(result.skipped).toEqual([{ path: entry!.path, reason: 'missing-body' }]);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('reports a sidecar it cannot read and leaves it in place', async () => {
    const spoolDir = join(dir, 'spool');
    await spoolArtifacts(spoolDir, 1);
    const bad = join(spoolDir, '20250101T000000000Z-000000000000.json');
    await writeFile(bad, '{"version":1,"key":"traces/../../etc.jsonl.gz"}');
    const result = await uploadSpooled({ spoolDir, authorize: trusting(memoryTransport()) });
    expect(result.uploaded).toHaveLength(1);
    expect(result.skipped).toEqual([{ path: bad, reason: 'invalid-sidecar' }]);
    expect(await readdir(spoolDir)).toEqual([basename(bad)]);
  });

  it('stops at an aborted signal and keeps the rest', async () => {
    const spoolDir = join(dir, 'spool');
    await spoolArtifacts(spoolDir, 2);
    const result = await uploadSpooled({
      spoolDir,
      authorize: trusting(memoryTransport()),
      signal: AbortSignal.abort(),
    });
    expect(result.skipped.map((s) => s.reason)).toEqual(['aborted', 'aborted']);
    expect(await listSpooled(spoolDir)).toHaveLength(2);
  });

  it('returns empty results for a spool directory that does not exist', async () => {
    expect(
      await uploadSpooled({ spoolDir: join(dir, 'none'), authorize: trusting(memoryTransport()) }),
    ).toEqual({
      uploaded: [],
      failed: [],
      skipped: [],
    });
  });
});

describe('uploadSpooled with recoverPartials', () => {
  /** Records `events` lines with every member on disk, and returns the live spill file and the lines. */
  async function recording(events: number) {
    const spoolDir = join(dir, 'rec');
    const spool = createEventSpool({ spoolDir, key: keyOf(7), batchBytes: 2048, memoryThresholdBytes: 0 });
    const lines: object[] = [];
    for (let seq = 0; seq < events; seq++) {
      const event = {
        event: 'TRAJECTORY_TURN',
        task_id: 'task-7',
        seq,
        ts: 1_700_000_000_000 + seq,
        text: 'z'.repeat(seq % 200),
      };
      lines.push(event);
      spool.append(`${JSON.stringify(event)}\n`);
    }
    await spool.flush();
    return { spool, part: spool.spillPath!, lines };
  }

  /** Copies a spill file (optionally cut to `bytes`) as a killed process `pid` would have left it. */
  async function leaveOrphan(part: string, spoolDir: string, opts: { bytes?: number; pid?: number } = {}) {
    const target = join(spoolDir, part.slice(part.lastIndexOf('/') + 1));
    await copyFile(part, target);
    if (opts.bytes !== undefined) await truncate(target, opts.bytes);
    const sidecar = JSON.parse(await readFile(`${part}.json`, 'utf8'));
    await writeFile(`${target}.json`, JSON.stringify({ ...sidecar, pid: opts.pid ?? deadPid() }));
    // A killed recorder stops renewing its lease (the sidecar's mtime): an hour old, it has lapsed.
    const lapsed = new Date(Date.now() - 3_600_000);
    await utimes(`${target}.json`, lapsed, lapsed);
    return target;
  }

  it('turns a killed recorder’s spill file into an artifact of its complete members, marked recovered', async () => {
    const { spool, part, lines } = await recording(400);
    const spoolDir = join(dir, 'spool');
    await rm(spoolDir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
    const partSize = (await readFile(part)).length;
    const orphan = await leaveOrphan(part, spoolDir, { bytes: partSize - 37 }); // torn last member
    await spool.discard();

    const transport = memoryTransport();
    const result = await uploadSpooled({ spoolDir, authorize: trusting(transport), recoverPartials: true });
    expect(result.failed).toEqual([]);
    expect(result.uploaded).toEqual([
      { key: keyOf(7), path: expect.stringMatching(/\.recovered\.jsonl\.gz$/), attempts: 1 },
    ]);
    expect(await readdir(spoolDir)).toEqual([]);

    const read: Record<string, unknown>[] = [];
    for await (const line of readTrace(transport.stored.get(keyOf(7))!)) read.push(line);
    const [header, ...events] = read;
    expect(events.length).toBeGreaterThan(300);
    expect(events.length).toBeLessThan(400);
    expect(events).toEqual(lines.slice(0, events.length));
    expect(header).toMatchObject({
      event: 'TRAJECTORY_ARTIFACT_HEADER',
      task_id: 'task-7',
      user_id: 'user-1',
      accumulated_events: events.length,
      accumulated_bytes: events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0),
      dropped: null,
      started_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      finished_at: new Date((events.at(-1) as { ts: number }).ts).toISOString(),
      recovered: true,
    });
    expect(orphan).toMatch(/\.events\.gz\.part$/);
  });

  it('rebuilds the exact sealed body when the recorder died after sealing', async () => {
    const spoolDir = join(dir, 'spool');
    const body = await sealed(300, join(dir, 'rec'), 0);
    const part = (body as SealedBody & { partPath: string }).partPath;
    await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
    await leaveOrphan(part, spoolDir);
    const transport = memoryTransport();
    const result = await uploadSpooled({ spoolDir, authorize: trusting(transport), recoverPartials: true });
    expect(result.uploaded).toHaveLength(1);
    const stored = transport.stored.get(keyOf(0))!;
    expect(createHash('sha256').update(stored).digest('hex')).toBe(body.sha256);
    await body.dispose();
  });

  it('leaves a recording that is still alive alone, and ignores spill files unless asked', async () => {
    const { spool, part } = await recording(100);
    const spoolDir = join(dir, 'rec');
    const transport = memoryTransport();
    expect(await uploadSpooled({ spoolDir, authorize: trusting(transport) })).toEqual({
      uploaded: [],
      failed: [],
      skipped: [],
    });
    const result = await uploadSpooled({ spoolDir, authorize: trusting(transport), recoverPartials: true });
    expect(result.skipped).toEqual([{ path: part, reason: 'recording' }]);
    expect(transport.uploads).toEqual([]);
    await spool.discard();
  });

  it('keeps a recovered artifact spooled when its upload fails, and delivers it next time', async () => {
    const { spool, part } = await recording(50);
    const spoolDir = join(dir, 'spool');
    await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
    await leaveOrphan(part, spoolDir);
    await spool.discard();
    const failing = await uploadSpooled({
      spoolDir,
      authorize: trusting(memoryTransport({ fail: () => true })),
      recoverPartials: true,
    });
    expect(failing.failed).toHaveLength(1);
    expect(await listSpooled(spoolDir)).toEqual([
      expect.objectContaining({ key: keyOf(7), recovered: true, attempts: 1 }),
    ]);
    expect((await readdir(spoolDir)).some((n) => n.endsWith('.part'))).toBe(false);
    const transport = memoryTransport();
    expect(
      (await uploadSpooled({ spoolDir, authorize: trusting(transport), recoverPartials: true })).uploaded,
    ).toHaveLength(1);
    let events = -1;
    for await (const _ of readTrace(Readable.from([transport.stored.get(keyOf(7))!]))) events++;
    expect(events).toBe(50);
  });

  it('removes the sidecar of a recorder that died before writing its spill file', async () => {
    const spoolDir = join(dir, 'spool');
    await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
    const sidecar = join(spoolDir, '20250101T000000000Z-000000000000.events.gz.part.json');
    await writeFile(
      sidecar,
      JSON.stringify({ version: 1, key: keyOf(1), pid: deadPid(), startedAt: new Date().toISOString() }),
    );
    const result = await uploadSpooled({
      spoolDir,
      authorize: trusting(memoryTransport()),
      recoverPartials: true,
    });
    expect(result.skipped).toEqual([{ path: sidecar.replace(/\.json$/, ''), reason: 'missing-body' }]);
    expect(await readdir(spoolDir)).toEqual([]);
  });
});
