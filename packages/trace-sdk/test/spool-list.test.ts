/**
 * Nothing stuck silently: `listSpooled(dir, { all: true })` and `agent-trace spool list` show every
 * entry of a spool directory, broken ones with the reason, and `spool flush` exits non-zero while
 * anything remains.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTraceRecorder, listSpooled, UploadError } from '../src/index.js';
import { runInProcess } from './cli-support.js';
import { failingTransport, tempDir } from './recorder-support.js';

let spool: { dir: string; cleanup: () => Promise<void> };
let spoolDir: string;
beforeEach(async () => {
  spool = await tempDir('agent-trace-spool-list-');
  spoolDir = join(spool.dir, 'spool');
  await mkdir(spoolDir);
});
afterEach(async () => {
  await spool.cleanup();
});

async function spoolGoodTrace(): Promise<string> {
  const down = new UploadError('ERR_UPLOAD_NETWORK', 'down', { retryable: true });
  const rec = createTraceRecorder({
    userId: 'u-list',
    taskId: 'task-good',
    transport: failingTransport(down),
    spoolDir,
  });
  rec.record({ event: 'STEP' });
  expect((await rec.finish()).status).toBe('failed');
  return rec.key;
}

/** One of each way a spool entry can be stuck. */
async function breakThings(): Promise<void> {
  const sha = 'a'.repeat(64);
  const sidecar = (key: string) =>
    JSON.stringify({
      version: 1,
      key,
      sha256: sha,
      byteLength: 3,
      transport: 'x',
      createdAt: '2026-01-01T00:00:00Z',
    });
  await writeFile(join(spoolDir, '20260101-torn.json'), '{"version":1,"key":"traces/u/t.js');
  await writeFile(join(spoolDir, '20260101-torn.jsonl.gz'), 'abc');
  await writeFile(join(spoolDir, '20260102-badkey.json'), sidecar('traces/../x.jsonl.gz'));
  await writeFile(join(spoolDir, '20260102-badkey.jsonl.gz'), 'abc');
  await writeFile(join(spoolDir, '20260103-orphan.jsonl.gz'), 'abc');
  await writeFile(join(spoolDir, '20260104-nobody.json'), sidecar('traces/u/nobody.jsonl.gz'));
  await writeFile(join(spoolDir, '20260105-lost.events.gz.part'), 'abc');
}

describe('listing a spool directory', () => {
  it('lists only deliverable artifacts by default, and every entry with { all: true }', async () => {
    const key = await spoolGoodTrace();
    await breakThings();
    // By default, valid sidecars (as uploadSpooled sees them; the one without a body is dropped by the next flush).
    expect(new Set((await listSpooled(spoolDir)).map((e) => e.key))).toEqual(
      new Set([key, 'traces/u/nobody.jsonl.gz']),
    );
    const all = await listSpooled(spoolDir, { all: true });
    const broken = Object.fromEntries(
      all.filter((e) => e.kind === 'broken').map((e) => [e.path.slice(spoolDir.length + 1), e.reason]),
    );
    expect(broken).toEqual({
      '20260101-torn.json': expect.stringContaining('torn sidecar'),
      '20260102-badkey.json': expect.stringContaining('invalid trace key'),
      '20260103-orphan.jsonl.gz': expect.stringContaining('body without a sidecar'),
      '20260104-nobody.json': expect.stringContaining('sidecar without its body'),
      '20260105-lost.events.gz.part': expect.stringContaining('spill file without a sidecar'),
    });
    expect(all.filter((e) => e.kind === 'artifact').map((e) => (e.kind === 'artifact' ? e.key : ''))).toEqual(
      [key],
    );
  });

  it('`spool list` shows broken entries with their reason instead of "0 spooled artifacts"', async () => {
    await breakThings();
    const run = await runInProcess(['spool', 'list', '--spool-dir', spoolDir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 spooled artifacts, 5 broken');
    expect(run.stdout).toContain('20260101-torn.json: torn sidecar');
    expect(run.stdout).toContain('20260103-orphan.jsonl.gz: body without a sidecar');
    const json = JSON.parse(
      (await runInProcess(['spool', 'list', '--spool-dir', spoolDir, '--json'])).stdout,
    );
    expect(json.filter((e: { kind: string }) => e.kind === 'broken')).toHaveLength(5);
  });

  it('`spool flush` exits non-zero while entries remain, even when every upload it tried succeeded', async () => {
    await spoolGoodTrace();
    await breakThings();
    const out = join(spool.dir, 'out');
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      spoolDir,
      '--transport',
      'file',
      '--dir',
      out,
      '--user',
      'u-list',
    ]);
    expect(run.stdout).toContain('uploaded 1, failed 0');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('remain in');
    expect(run.stderr).toContain('(ERR_SPOOL_FLUSH)');
  });

  it('`spool flush --recover-partials` exits 0 beside a live recording (a sidecar flusher must not alarm on it)', async () => {
    const rec = createTraceRecorder({
      userId: 'u-list',
      taskId: 'task-live',
      transport: null,
      spoolDir,
      limits: { spoolMemoryBytes: 0 },
    });
    try {
      for (let i = 0; i < 3000; i++) rec.record({ event: 'STEP', i, pad: `${i}`.repeat(200) });
      while (!(await listSpooled(spoolDir, { all: true })).some((e) => e.kind === 'spill'))
        await new Promise((r) => setTimeout(r, 20));
      const run = await runInProcess([
        'spool',
        'flush',
        '--spool-dir',
        spoolDir,
        '--recover-partials',
        '--transport',
        'file',
        '--dir',
        join(spool.dir, 'out'),
        '--user',
        'u-list',
      ]);
      expect(run.stdout).toContain('recording');
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    } finally {
      await rec.abort();
    }
  });

  it('`spool flush` exits 0 when the spool is empty afterwards', async () => {
    await spoolGoodTrace();
    const out = join(spool.dir, 'out');
    const run = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      spoolDir,
      '--transport',
      'file',
      '--dir',
      out,
      '--user',
      'u-list',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
  });
});
