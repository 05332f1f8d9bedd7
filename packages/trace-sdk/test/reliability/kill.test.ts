/**
 * A recorder process killed mid-recording (SIGKILL: no exit handler, no finally, nothing flushed on
 * the way out) leaves a spill file that the reader, the CLI and `uploadSpooled` all recover, up to
 * the last point the process had flushed. A small trace reaches disk on the flush timer alone
 * (durability level 1), and a recovery flusher never takes a recording whose lease is fresh, even
 * when the recorder's pid means nothing to it (another PID namespace or host).
 *
 * The child runs the SDK from its TypeScript sources (Node strips the types; a resolve hook maps the
 * sources' `.js` imports to `.ts`), so the test needs no build and never tests a stale one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { readTrace, TraceFormatError, uploadSpooled } from '../../src/index.js';
import {
  expectNoSecrets,
  FAST_RETRY,
  freshIds,
  type Ids,
  presignedPut,
  startWorld,
  tempDir,
  type World,
} from './support.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Distinct spill-file sizes (gzip members on disk) to see before the kill. */
const MEMBERS_BEFORE_KILL = 3;
/** The fixture's flush interval and lease (kill-recorder.ts). */
const FLUSH_INTERVAL_MS = 200;
const LEASE_MS = 600;
/** Waits until the killed recorder's lease has certainly lapsed. */
const leaseLapse = () => sleep(LEASE_MS + 400);

function spawnRecorder(spoolDir: string, ids: Ids, mode: 'stream' | 'idle'): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--import',
      join(FIXTURES, 'ts-source-hooks.mjs'),
      join(FIXTURES, 'kill-recorder.ts'),
      spoolDir,
      ids.userId,
      ids.taskId,
      mode,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

interface Checkpoint {
  readonly recorded: number;
  readonly partBytes: number;
}

/** Lines of a trace or spill file, and the typed error that ended the read early, if any. */
async function readLines(
  source: Uint8Array | string,
): Promise<{ lines: Record<string, unknown>[]; fault?: TraceFormatError }> {
  const lines: Record<string, unknown>[] = [];
  try {
    for await (const line of readTrace(source, { requireHeader: false })) lines.push(line);
  } catch (err) {
    if (!(err instanceof TraceFormatError)) throw err;
    return { lines, fault: err };
  }
  return { lines };
}

/** Spawns the recorder child and SIGKILLs it once `MEMBERS_BEFORE_KILL` members are on disk. */
async function recordThenKill(
  spoolDir: string,
  ids: Ids,
): Promise<{ last: Checkpoint; signal: NodeJS.Signals | null }> {
  const child = spawnRecorder(spoolDir, ids, 'stream');
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const sizes = new Set<number>();
  let last: Checkpoint | undefined;
  let buffered = '';
  const killed = new Promise<void>((resolve, reject) => {
    const watchdog = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the recorder child flushed ${sizes.size} members in 20 s; stderr: ${stderr}`));
    }, 20_000);
    child.once('exit', () => {
      clearTimeout(watchdog);
      if (last === undefined || sizes.size < MEMBERS_BEFORE_KILL)
        reject(new Error(`the recorder child exited early: ${stderr}`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const checkpoint = JSON.parse(buffered.slice(0, nl)) as Checkpoint;
        buffered = buffered.slice(nl + 1);
        if (sizes.size >= MEMBERS_BEFORE_KILL) continue; // already killed; later lines are not trusted
        last = checkpoint;
        if (checkpoint.partBytes > 0) sizes.add(checkpoint.partBytes);
        if (sizes.size >= MEMBERS_BEFORE_KILL) {
          // The child is recording its next round right now: this kill lands mid-recording.
          child.kill('SIGKILL');
          clearTimeout(watchdog);
          resolve();
        }
      }
    });
  });
  await killed;
  return { last: last!, signal: await exited };
}

/** Runs `agent-trace <argv>` in-process and collects its output. */
async function cli(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(argv, {
    stdin: Readable.from([]),
    stdout,
    stderr,
    env: {},
    stderrIsTTY: false,
    columns: 80,
  });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

describe('a recorder process killed with SIGKILL mid-recording', () => {
  let world: World;
  let spool: { dir: string; remove: () => Promise<void> };
  const ids = freshIds('killed');
  let last: Checkpoint;
  let partPath: string;
  /** What the spill file holds, read right after the kill. */
  let recovered: { lines: Record<string, unknown>[]; fault?: TraceFormatError };

  beforeAll(async () => {
    world = await startWorld();
    spool = await tempDir('agent-trace-kill-');
    const run = await recordThenKill(spool.dir, ids);
    expect(run.signal).toBe('SIGKILL');
    last = run.last;
    const parts = (await readdir(spool.dir)).filter((n) => n.endsWith('.events.gz.part'));
    expect(parts).toHaveLength(1);
    partPath = join(spool.dir, parts[0]!);
    recovered = await readLines(partPath);
  }, 60_000);

  afterAll(async () => {
    await spool?.remove();
    await world?.close();
  });

  it('left a spill file whose flushed prefix reads cleanly, as dense events from seq 0', async () => {
    const part = await readFile(partPath);
    expect(part.byteLength).toBeGreaterThanOrEqual(last.partBytes);
    // Every byte below the last checkpoint's size was flushed by then: it must read with no error.
    const flushed = await readLines(part.subarray(0, last.partBytes));
    expect(flushed.fault).toBeUndefined();
    expect(flushed.lines.length).toBeGreaterThan(0);
    expect(flushed.lines.length).toBeLessThanOrEqual(last.recorded);
    flushed.lines.forEach((line, seq) => {
      expect(line).toMatchObject({ event: 'KILL_TEST', task_id: ids.taskId, seq, n: seq });
    });
  });

  it('recovers every event up to the last flushed point with readTrace({ requireHeader: false })', async () => {
    const flushed = await readLines((await readFile(partPath)).subarray(0, last.partBytes));
    const { lines, fault } = recovered;
    // Whatever was flushed after the last checkpoint comes too; a torn last member is the only loss.
    expect(lines.length).toBeGreaterThanOrEqual(flushed.lines.length);
    if (fault !== undefined) expect(fault.code).toBe('ERR_TRACE_TRUNCATED');
    lines.forEach((line, seq) => {
      expect(line).toMatchObject({ seq, n: seq });
    });
  });

  it('prints the same events with `agent-trace cat --recover`, exit 0', async () => {
    const run = await cli(['cat', '--recover', partPath]);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual(recovered.lines);
    if (recovered.fault === undefined) expect(run.stderr).toBe('');
    else expect(run.stderr).toContain('ERR_TRACE_TRUNCATED');
  });

  it('is delivered by uploadSpooled({ recoverPartials: true }) as a recovered trace at its key', async () => {
    await leaseLapse();
    const transport = await presignedPut.build(world, ids, { retry: FAST_RETRY });
    const delivered = await uploadSpooled({
      spoolDir: spool.dir,
      transport,
      scope: ids,
      recoverPartials: true,
    });
    expect(delivered.failed).toEqual([]);
    expect(delivered.uploaded.map((u) => u.key)).toEqual([ids.key]);
    expect(world.storedWrites(ids.key)).toBe(1);

    const stored = await readLines((await world.stored(ids.key))!);
    expect(stored.fault).toBeUndefined();
    const [header, ...events] = stored.lines;
    expect(header).toMatchObject({
      event: 'TRAJECTORY_ARTIFACT_HEADER',
      recovered: true,
      user_id: ids.userId,
      task_id: ids.taskId,
      accumulated_events: recovered.lines.length,
    });
    expect(events).toEqual(recovered.lines);
    // Nothing is left behind: no spill file, no spooled artifact.
    expect(await readdir(spool.dir)).toEqual([]);
    expectNoSecrets([JSON.stringify(delivered)], world.secrets, 'the uploadSpooled result');
  });
});

describe('durability level 1: a small trace, idle, killed', () => {
  let world: World;
  let spool: { dir: string; remove: () => Promise<void> };
  const ids = freshIds('idle');

  beforeAll(async () => {
    world = await startWorld();
    spool = await tempDir('agent-trace-idle-');
  });
  afterAll(async () => {
    await spool?.remove();
    await world?.close();
  });

  it('is on disk within the flush interval, kept from a foreign flusher while alive, and recovered exactly', async () => {
    const child = spawnRecorder(spool.dir, ids, 'idle');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const recorded = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        const nl = out.indexOf('\n');
        if (nl !== -1) resolve((JSON.parse(out.slice(0, nl)) as { recorded: number }).recorded);
      });
      child.once('exit', () => reject(new Error(`the recorder child exited early: ${stderr}`)));
    });
    try {
      // 300 small events: far below a batch and the memory threshold. Only the flush timer puts them
      // on disk. Timing is the benchmark's business: here, poll generously (a loaded CI machine).
      let partPath: string | undefined;
      for (let waited = 0; waited < 20_000; waited += FLUSH_INTERVAL_MS) {
        await sleep(FLUSH_INTERVAL_MS);
        const part = (await readdir(spool.dir)).find((n) => n.endsWith('.events.gz.part'));
        if (part === undefined) continue;
        partPath = join(spool.dir, part);
        if ((await readLines(partPath)).lines.length === recorded) break;
      }
      expect(partPath, 'a spill file from the flush timer').toBeDefined();
      expect((await readLines(partPath!)).lines).toHaveLength(recorded);

      // A flusher in another PID namespace sees a pid that means nothing (here: one that does not
      // exist); the fresh lease alone must keep it off the live recording.
      const sidecarPath = `${partPath!}.json`;
      const sidecar = JSON.parse(await readFile(sidecarPath, 'utf8')) as Record<string, unknown>;
      expect(sidecar['leaseMs']).toBe(LEASE_MS);
      await writeFile(
        sidecarPath,
        JSON.stringify({ ...sidecar, pid: 2 ** 22 + 12345, hostname: 'another-host' }),
      );
      const transport = await presignedPut.build(world, ids, { retry: FAST_RETRY });
      // Longer than the lease: the recorder keeps renewing it meanwhile.
      await sleep(LEASE_MS * 1.5);
      const early = await uploadSpooled({
        spoolDir: spool.dir,
        transport,
        scope: ids,
        recoverPartials: true,
      });
      expect(early.skipped).toEqual([{ path: partPath!, reason: 'recording' }]);
      expect(early.uploaded).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    await leaseLapse();
    const transport = await presignedPut.build(world, ids, { retry: FAST_RETRY });
    const delivered = await uploadSpooled({
      spoolDir: spool.dir,
      transport,
      scope: ids,
      recoverPartials: true,
    });
    expect(delivered.failed).toEqual([]);
    expect(delivered.uploaded.map((u) => u.key)).toEqual([ids.key]);
    const stored = await readLines((await world.stored(ids.key))!);
    expect(stored.fault).toBeUndefined();
    const [header, ...events] = stored.lines;
    expect(header).toMatchObject({ recovered: true, partial: true, accumulated_events: recorded });
    expect(events).toHaveLength(recorded);
    events.forEach((line, seq) => {
      expect(line).toMatchObject({ event: 'KILL_TEST', seq, n: seq });
    });
    expect(await readdir(spool.dir)).toEqual([]);
  }, 60_000);
});
