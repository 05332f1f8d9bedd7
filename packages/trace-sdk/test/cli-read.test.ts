/**
 * The reading commands (cat, inspect, verify) on real files and stdin, including truncated and
 * corrupt traces, run in-process against injected streams.
 */

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEventSpool } from '../src/spool/event-spool.js';
import {
  eventMembers,
  handBuiltArtifact,
  jsonl,
  runInProcess,
  sampleEvents,
  tempDir,
} from './cli-support.js';

const USER = '3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41';
const TASK = '01JD4Q9Z6XKQ2V8N5R3T7W1Y0M';
const KEY = `traces/${USER}/${TASK}.jsonl.gz`;

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

function writeArtifact(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('cat', () => {
  it('prints the header and every event as JSONL', async () => {
    const { bytes, header, eventsText } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events: sampleEvents(TASK, 5),
    });
    const file = writeArtifact('t.jsonl.gz', bytes);
    const run = await runInProcess(['cat', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${JSON.stringify(header)}\n${eventsText}`);
    expect(run.stderr).toBe('');
  });

  it('skips the header with --events-only', async () => {
    const { bytes, eventsText } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events: sampleEvents(TASK, 3),
    });
    const run = await runInProcess(['cat', '--events-only', writeArtifact('t.gz', bytes)]);
    expect(run.stdout).toBe(eventsText);
  });

  it('reads stdin when given - or no file', async () => {
    const { bytes, eventsText } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events: sampleEvents(TASK, 4),
    });
    for (const argv of [
      ['cat', '-', '--events-only'],
      ['cat', '--events-only'],
    ]) {
      const run = await runInProcess(argv, { stdin: bytes });
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(eventsText);
    }
  });

  it('prints every complete line of a truncated trace, then fails with exit 3', async () => {
    const { bytes, header } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events: sampleEvents(TASK, 400),
    });
    const file = writeArtifact('cut.gz', bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const run = await runInProcess(['cat', file]);
    expect(run.code).toBe(3);
    const lines = run.stdout.split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe(JSON.stringify(header));
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.length).toBeLessThan(401);
    for (const [i, line] of lines.slice(1).entries()) expect(JSON.parse(line).seq).toBe(i);
    expect(run.stderr).toMatch(/^agent-trace: .+ \(ERR_TRACE_TRUNCATED\)\n$/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a headerless spool file unless --recover, which prints what is complete', async () => {
    const events = sampleEvents(TASK, 50);
    const spill = eventMembers(events);
    const file = writeArtifact('spill.gz', spill.subarray(0, spill.length - 7));
    const strict = await runInProcess(['cat', file]);
    expect(strict.code).toBe(3);
    expect(strict.stderr).toMatch(/\((ERR_TRACE_NO_HEADER|ERR_TRACE_TRUNCATED)\)/);

    const recovered = await runInProcess(['cat', '--recover', file]);
    expect(recovered.code).toBe(0);
    const lines = recovered.stdout.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines).toEqual(events.slice(0, lines.length).map((e) => JSON.stringify(e)));
    expect(recovered.stderr).toMatch(/recovered \d+ complete lines/);
  });

  it('recovers the events of a real spill file, whole or cut mid-member', async () => {
    const spool = createEventSpool({ spoolDir: join(dir, 'spool'), key: KEY, memoryThresholdBytes: 0 });
    // About 4.5 MiB of JSONL: several 1 MiB members, so a cut keeps the complete ones.
    const events = sampleEvents(TASK, 30_000);
    for (const e of events) spool.append(`${JSON.stringify(e)}\n`);
    await spool.flush();
    const spill = spool.spillPath!;
    const whole = await runInProcess(['cat', '--recover', spill]);
    expect(whole.stderr).toBe('');
    expect(whole.code).toBe(0);
    expect(whole.stdout).toBe(jsonl(events));

    const part = readFileSync(spill);
    const cut = writeArtifact('cut.part', part.subarray(0, Math.floor(part.length * 0.7)));
    const recovered = await runInProcess(['cat', '--recover', cut]);
    expect(recovered.code).toBe(0);
    const lines = recovered.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(events.length);
    expect(`${lines.join('\n')}\n`).toBe(jsonl(events.slice(0, lines.length)));
    expect(recovered.stderr).toMatch(
      /^agent-trace: recovered \d+ complete lines from .*cut\.part; the rest is lost/,
    );
    await spool.discard();
  });

  it('fails with exit 3 on bytes that are not gzip', async () => {
    const run = await runInProcess(['cat', writeArtifact('x.gz', Buffer.from('{"event":"not gzip"}\n'))]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/\(ERR_TRACE_CORRUPT\)\n$/);
  });

  it('fails with exit 3 and the system code on a missing file', async () => {
    const run = await runInProcess(['cat', join(dir, 'nope.gz')]);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^agent-trace: .*nope\.gz.* \(ENOENT\)\n$/);
  });
});

describe('inspect', () => {
  it('reports header, counts by type, time span, drops, redactions and sizes', async () => {
    const events = sampleEvents(TASK, 9);
    const { bytes } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events,
      header: { dropped: 4, redactions: 2, truncated_fields: 1 },
    });
    const file = writeArtifact('t.gz', bytes);
    const run = await runInProcess(['inspect', '--json', file]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.header.task_id).toBe(TASK);
    expect(report.events).toBe(9);
    expect(report.eventsByType).toEqual({ TRAJECTORY_TURN: 6, POLICY_DECISION: 3 });
    expect(report.firstTs).toBe(events[0]!.ts);
    expect(report.lastTs).toBe(events[8]!.ts);
    expect(report.durationMs).toBe(80);
    expect(report.dropped).toBe(4);
    expect(report.redactions).toBe(2);
    expect(report.truncatedFields).toBe(1);
    expect(report.compressedBytes).toBe(bytes.length);
    expect(report.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(report.ratio).toBeCloseTo(report.uncompressedBytes / bytes.length, 2);

    const human = await runInProcess(['inspect', file]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^events\s+9 \(header: 9\)$/m);
    expect(human.stdout).toMatch(/^\s+TRAJECTORY_TURN\s+6$/m);
    expect(human.stdout).toMatch(/^dropped\s+4 /m);
    expect(human.stdout).toMatch(/^size\s+.*compressed.*ratio/m);
  });

  it('reports what it read of a truncated trace and exits 3', async () => {
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 400) });
    const run = await runInProcess([
      'inspect',
      '--json',
      writeArtifact('cut.gz', bytes.subarray(0, bytes.length - 40)),
    ]);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report.fault.code).toBe('ERR_TRACE_TRUNCATED');
    expect(report.events).toBeLessThan(400);
    expect(report.compressedBytes).toBe(bytes.length - 40);
  });
});

describe('verify', () => {
  it('passes a well-formed trace and matches its sha256 and key', async () => {
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 12) });
    const sha = createHash('sha256').update(bytes).digest('hex');
    const run = await runInProcess([
      'verify',
      writeArtifact('t.gz', bytes),
      '--sha256',
      sha.toUpperCase(),
      '--key',
      KEY,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ok .*: 12 events, sha256 [0-9a-f]{64}\n$/);
  });

  it('catches a header count that does not match the events', async () => {
    const { bytes } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events: sampleEvents(TASK, 5),
      header: { accumulated_events: 6 },
    });
    const run = await runInProcess(['verify', writeArtifact('t.gz', bytes)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/problem: header: accumulated_events 6, but 5 events follow/);
    expect(run.stderr).toMatch(/1 problem \(ERR_VERIFY\)/);
  });

  it('catches a gap in seq', async () => {
    const events = sampleEvents(TASK, 6);
    events.splice(3, 1);
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events });
    const run = await runInProcess(['verify', writeArtifact('t.gz', bytes)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('problem: line 5: seq 4, expected 3');
  });

  it('catches a sha256 mismatch', async () => {
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 2) });
    const run = await runInProcess(['verify', writeArtifact('t.gz', bytes), '--sha256', '0'.repeat(64)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/problem: sha256 [0-9a-f]{64} does not match the expected 0{64}/);
  });

  it('catches ids that do not match the expected key', async () => {
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 2) });
    const run = await runInProcess([
      'verify',
      writeArtifact('t.gz', bytes),
      '--key',
      `traces/someone-else/${TASK}.jsonl.gz`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('header: user_id');
  });

  it('catches a missing header, a line without task_id and a stray second header', async () => {
    const events = sampleEvents(TASK, 3) as Record<string, unknown>[];
    delete events[1]!['task_id'];
    const headerless = gzipSync(jsonl(events));
    const run = await runInProcess(['verify', writeArtifact('h.gz', headerless)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('line 1: the first line is not a TRAJECTORY_ARTIFACT_HEADER');
    expect(run.stdout).toContain('line 2: no "task_id" string');

    const { bytes, header } = handBuiltArtifact({
      userId: USER,
      taskId: TASK,
      events: sampleEvents(TASK, 2),
    });
    const twice = Buffer.concat([bytes, gzipSync(`${JSON.stringify(header)}\n`)]);
    const again = await runInProcess(['verify', writeArtifact('twice.gz', twice)]);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('line 4: a second TRAJECTORY_ARTIFACT_HEADER');
  });

  it('lists the truncation as a problem and exits 3', async () => {
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 300) });
    const run = await runInProcess([
      'verify',
      writeArtifact('cut.gz', bytes.subarray(0, bytes.length - 100)),
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/problem: .*\(ERR_TRACE_TRUNCATED\)/);
  });

  it('reads stdin and rejects a malformed --sha256 as a usage error', async () => {
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 2) });
    expect((await runInProcess(['verify', '-'], { stdin: bytes })).code).toBe(0);
    const bad = await runInProcess(['verify', '-', '--sha256', 'xyz'], { stdin: bytes });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('agent-trace: --sha256 expects 64 hex digits (ERR_USAGE)\n');
  });
});
