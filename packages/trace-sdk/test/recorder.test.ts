import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  createTraceRecorder,
  DEFAULT_MAX_BYTES,
  fileTransport,
  SpoolError,
  TraceKeyError,
  type TraceRecorderOptions,
  type TraceTransport,
  UploadError,
} from '../src/index.js';
import { createRecorderWithSpool } from '../src/record/recorder.js';
import type { EventSpool } from '../src/spool/types.js';
import { SDK_NAME, SDK_VERSION } from '../src/version.js';
import { liveMemoryPeak } from './live-memory.js';
import {
  failingTransport,
  fakeClock,
  hangingTransport,
  hostileValue,
  memoryTransport,
  rawLines,
  readBack,
  tempDir,
} from './recorder-support.js';
import { snapshotSpool } from './reliability/fixtures/snapshot-spool.js';

const AKIA = `AKIA${'IOSFODNN7EXAMPLE'}`;
const GHP = `ghp_${'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'}`;

let spoolDir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir: spoolDir, cleanup } = await tempDir());
});

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanup();
});

function recorder(overrides: Partial<TraceRecorderOptions> = {}) {
  const transport = memoryTransport();
  const rec = createTraceRecorder({
    userId: 'user-1',
    taskId: 'task-1',
    transport,
    spoolDir,
    now: fakeClock(),
    ...overrides,
  });
  return { rec, transport };
}

async function finishAndRead(
  rec: ReturnType<typeof recorder>['rec'],
  transport: ReturnType<typeof memoryTransport>,
) {
  const result = await rec.finish();
  expect(result.status).toBe('uploaded');
  const upload = transport.uploads[0];
  if (upload === undefined) throw new Error('nothing uploaded');
  return { result, upload, ...(await readBack(upload.body)) };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('createTraceRecorder: validation', () => {
  it.each([
    [{ userId: 'a/b' }, 'userId'],
    [{ taskId: '..' }, 'taskId'],
    [{ userId: '' }, 'userId'],
    [{ taskId: 42 as unknown as string }, 'taskId'],
  ])('rejects invalid ids with TraceKeyError before touching the disk (%o)', async (ids, field) => {
    const transport = memoryTransport();
    const dir = join(spoolDir, 'never-created');
    let caught: unknown;
    try {
      createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir: dir, ...ids });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TraceKeyError);
    expect((caught as TraceKeyError).field).toBe(field);
    await expect(readdir(dir)).rejects.toThrow();
    expect(transport.uploads).toHaveLength(0);
  });

  it.each([
    [{ maxBytes: 0 }, 'maxBytes'],
    [{ maxBytes: 1.5 }, 'maxBytes'],
    [{ maxBytes: '10' }, 'maxBytes'],
    [{ transport: undefined }, 'transport'],
    [{ transport: { name: 'x' } }, 'transport'],
    [{ spoolDir: '' }, 'spoolDir'],
    [{ redact: 'no' }, 'redact'],
    [{ onTruncate: 1 }, 'onTruncate'],
    [{ failOpen: 'yes' }, 'failOpen'],
    [{ redactPatterns: [{ label: 'bad label', pattern: /x/ }] }, 'redactPatterns[0].label'],
    [{ limits: { maxEventBytes: 10 } }, 'limits.maxEventBytes'],
    [{ limits: { maxTextChars: -1 } }, 'limits.maxTextChars'],
    [{ limits: { maxDepth: 0 } }, 'limits.maxDepth'],
    [{ limits: 'big' }, 'limits'],
    [{ attribution: { operator: '' } }, 'attribution'],
    [{ now: 5 }, 'now'],
  ])('rejects %o with a ConfigError naming %s', (bad, variable) => {
    const err = configError(() =>
      createTraceRecorder({
        userId: 'u',
        taskId: 't',
        transport: memoryTransport(),
        spoolDir,
        ...(bad as Partial<TraceRecorderOptions>),
      }),
    );
    expect(err.variable).toBe(variable);
    expect(err.message).toContain(variable.split('[')[0]);
  });

  it('accepts transport: null and the defaults', () => {
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport: null });
    expect(rec.key).toBe('traces/u/t.jsonl.gz');
    void rec.abort();
  });
});

describe('record: lines and stamps', () => {
  it('writes header then events, stamped with event, task_id, seq, ts in that order', async () => {
    const { rec, transport } = recorder();
    expect(rec.record({ event: 'A', x: 1 })).toBe(true);
    expect(rec.record({ event: 'B', y: 'two' })).toBe(true);
    const { upload } = await finishAndRead(rec, transport);
    const lines = rawLines(upload.body);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('{"event":"A","task_id":"task-1","seq":0,"ts":1700000000001,"x":1}');
    expect(lines[2]).toBe('{"event":"B","task_id":"task-1","seq":1,"ts":1700000000002,"y":"two"}');
  });

  it('replaces the stamp fields an event brings, and marks a missing or non-string name UNKNOWN', async () => {
    const { rec, transport } = recorder();
    rec.record({ event: 'X', task_id: 'other-task', seq: 99, ts: 'yesterday', keep: true });
    rec.record({ noName: 1 });
    rec.record({ event: 7, v: 1 });
    rec.record({ event: '', v: 2 });
    rec.record(42 as unknown as Record<string, unknown>);
    rec.record(null as unknown as Record<string, unknown>);
    const { events } = await finishAndRead(rec, transport);
    expect(events[0]).toEqual({ event: 'X', task_id: 'task-1', seq: 0, ts: 1700000000001, keep: true });
    expect(events.slice(1).map((e) => e['event'])).toEqual([
      'UNKNOWN',
      'UNKNOWN',
      'UNKNOWN',
      'UNKNOWN',
      'UNKNOWN',
    ]);
    expect(events[4]).toMatchObject({ value: 42 });
    expect(events[5]).toMatchObject({ value: null });
  });

  it('keeps seq dense among kept events when others are dropped or filtered', async () => {
    const { rec, transport } = recorder({
      maxBytes: 2000,
      redact: (e) => (e['drop'] === true ? null : e),
    });
    for (let i = 0; i < 50; i++) {
      rec.record({ event: 'E', i, drop: i % 3 === 0, pad: i % 7 === 0 ? 'x'.repeat(600) : '' });
    }
    const { events, header } = await finishAndRead(rec, transport);
    expect(events.map((e) => e['seq'])).toEqual(events.map((_, i) => i));
    expect(header['accumulated_events']).toBe(events.length);
    expect(rec.stats().filtered).toBe(17);
    expect(header['dropped']).toBe(rec.stats().dropped);
    expect(rec.stats().dropped).toBeGreaterThan(0);
  });

  it('gives the same bytes for the same events (deterministic gzip) and reports their sha256', async () => {
    const bodies: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      const transport = memoryTransport();
      const rec = createTraceRecorder({
        userId: 'u',
        taskId: 't',
        transport,
        spoolDir,
        now: () => 1_700_000_000_000,
      });
      for (let j = 0; j < 100; j++) rec.record({ event: 'E', j, text: `line ${j}` });
      const result = await rec.finish();
      const body = transport.uploads[0]!.body;
      expect(result.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(result.bytes).toBe(body.length);
      bodies.push(body);
    }
    expect(bodies[0]!.equals(bodies[1]!)).toBe(true);
  });

  it('never throws and keeps every line valid JSON, whatever is recorded', async () => {
    const { rec, transport } = recorder({ maxBytes: DEFAULT_MAX_BYTES * 4 });
    let calls = 0;
    fc.assert(
      fc.property(hostileValue(), fc.anything({ withBigInt: true }), (fields, name) => {
        calls += 2;
        expect(() => rec.record({ event: 'HOSTILE', ...(fields as object) })).not.toThrow();
        expect(() => rec.record({ event: name as string, fields })).not.toThrow();
      }),
      { numRuns: 300 },
    );
    const { events, header } = await finishAndRead(rec, transport);
    expect(events).toHaveLength(calls);
    expect(header['accumulated_events']).toBe(calls);
    expect(rec.stats().errors).toBe(0);
  });

  it('survives a throwing hook, getters, a hostile Proxy event and a broken clock', async () => {
    let tick = 0;
    const { rec, transport } = recorder({
      now: () => {
        tick++;
        if (tick % 2 === 0) throw new Error('clock');
        return 1_700_000_000_000 + tick;
      },
    });
    const proxy = new Proxy(
      { event: 'P' },
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(rec.record(proxy)).toBe(true);
    expect(rec.record({ event: 'OK' })).toBe(true);
    const { events } = await finishAndRead(rec, transport);
    expect(events[0]).toMatchObject({ event: 'P', unserializable: '[Unserializable: Error]' });
    expect(typeof events[1]?.['ts']).toBe('number');
  });

  it('ignores a record() made re-entrantly from inside a getter, and counts it', async () => {
    const { rec, transport } = recorder();
    rec.record({
      event: 'OUTER',
      get inner() {
        return rec.record({ event: 'INNER' });
      },
    });
    const { events } = await finishAndRead(rec, transport);
    expect(events).toEqual([expect.objectContaining({ event: 'OUTER', inner: false })]);
    expect(rec.stats().errors).toBe(1);
  });
});

describe('header', () => {
  it('carries the final counts, which match the body', async () => {
    const { rec, transport } = recorder({ attribution: { operator: 'ops@example.com' }, maxBytes: 100_000 });
    for (let i = 0; i < 20; i++)
      rec.record({ event: 'E', i, note: i === 3 ? AKIA : 'none', text: 'x'.repeat(5000) });
    for (let i = 0; i < 5; i++) rec.record({ event: 'BIG', blob: 'y'.repeat(90_000) });
    const { header, upload, result } = await finishAndRead(rec, transport);
    const lines = rawLines(upload.body);
    const eventLines = lines.slice(1);
    // The Python agent's accumulated_bytes: line bytes without newlines; the recorder counts (and
    // caps) the same way, so FinishResult.uncompressedBytes is the header's figure.
    const accumulated = eventLines.reduce((n, l) => n + Buffer.byteLength(l), 0);
    expect(Object.keys(header)).toEqual([
      'event',
      'task_id',
      'accumulated_events',
      'accumulated_bytes',
      'dropped',
      'max_bytes',
      'schema_version',
      'user_id',
      'started_at',
      'finished_at',
      'sdk',
      'redactions',
      'truncated_fields',
      'attribution',
    ]);
    expect(header).toMatchObject({
      event: 'TRAJECTORY_ARTIFACT_HEADER',
      task_id: 'task-1',
      accumulated_events: eventLines.length,
      accumulated_bytes: accumulated,
      max_bytes: 100_000,
      schema_version: 1,
      user_id: 'user-1',
      started_at: new Date(1_700_000_000_000).toISOString(),
      sdk: { name: SDK_NAME, version: SDK_VERSION },
      redactions: 1,
      truncated_fields: 20,
      attribution: { operator: 'ops@example.com' },
    });
    expect(Date.parse(header['finished_at'] as string)).toBeGreaterThan(
      Date.parse(header['started_at'] as string),
    );
    expect(header['dropped']).toBe(25 - eventLines.length);
    expect(result).toMatchObject({
      events: eventLines.length,
      dropped: header['dropped'],
      uncompressedBytes: accumulated,
      key: 'traces/user-1/task-1.jsonl.gz',
    });
  });

  it('is the first line for plain gunzip too (zcat | head -1)', async () => {
    const { rec, transport } = recorder();
    rec.record({ event: 'E' });
    const { upload } = await finishAndRead(rec, transport);
    expect(JSON.parse(rawLines(upload.body)[0]!)).toMatchObject({ event: 'TRAJECTORY_ARTIFACT_HEADER' });
  });
});

describe('compatibility', () => {
  it("lands at the key through fileTransport, and Python's gzip.open().readline() reads the header", async () => {
    const dir = join(spoolDir, 'store');
    const { rec } = recorder({ transport: fileTransport({ dir }) });
    for (let i = 0; i < 500; i++)
      rec.recordPolicyDecision({ toolName: 'bash', allowed: i % 2 === 0, reason: `r${i}` });
    const result = await rec.finish();
    expect(result.status).toBe('uploaded');
    const path = join(dir, 'traces', 'user-1', 'task-1.jsonl.gz');
    const python = [
      'import gzip, json, sys',
      'f = gzip.open(sys.argv[1], "rt")',
      'header = json.loads(f.readline())',
      'rest = [json.loads(line) for line in f]',
      'print(json.dumps([header["event"], header["accumulated_events"], len(rest), rest[-1]["seq"]]))',
    ].join('\n');
    const out = execFileSync('python3', ['-c', python, path], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['TRAJECTORY_ARTIFACT_HEADER', 500, 500, 499]);
    const { header } = await readBack(await readFile(path));
    expect(header['accumulated_events']).toBe(500);
  });
});

describe('limits', () => {
  it('drops events past maxBytes, counts them and fires onTruncate once (its errors swallowed)', async () => {
    const onTruncate = vi.fn(() => {
      throw new Error('callback bug');
    });
    const { rec, transport } = recorder({ maxBytes: 1000, onTruncate });
    const kept: boolean[] = [];
    for (let i = 0; i < 30; i++) kept.push(rec.record({ event: 'E', i, pad: 'p'.repeat(100) }));
    expect(onTruncate).toHaveBeenCalledTimes(1);
    expect(onTruncate).toHaveBeenCalledWith(1000, 1);
    const firstDrop = kept.indexOf(false);
    expect(kept.slice(firstDrop).every((k) => !k)).toBe(true);
    const { header } = await finishAndRead(rec, transport);
    expect(header['accumulated_bytes']).toBeLessThanOrEqual(1000);
    expect(header['dropped']).toBe(30 - firstDrop);
    expect(header['accumulated_events']).toBe(firstDrop);
  });

  it('still keeps a later event that fits after a large one was dropped', async () => {
    const { rec, transport } = recorder({ maxBytes: 1000 });
    expect(rec.record({ event: 'HUGE', pad: 'p'.repeat(2000) })).toBe(false);
    expect(rec.record({ event: 'SMALL' })).toBe(true);
    const { events, header } = await finishAndRead(rec, transport);
    expect(events.map((e) => e['event'])).toEqual(['SMALL']);
    expect(header['dropped']).toBe(1);
  });

  it('truncates thinking/text and tool result content with the exact suffix and counts them', async () => {
    const { rec, transport } = recorder({ limits: { maxTextChars: 10, maxToolResultChars: 4 } });
    rec.record({
      event: 'TRAJECTORY_TURN',
      thinking: 't'.repeat(11),
      text: 'short',
      tool_results: [{ tool_use_id: 'a', content: 'c'.repeat(5) }],
      other: 'o'.repeat(50),
    });
    const { events, header } = await finishAndRead(rec, transport);
    expect(events[0]).toMatchObject({
      thinking: `${'t'.repeat(10)}... [truncated, 11 chars total]`,
      text: 'short',
      tool_results: [{ tool_use_id: 'a', content: 'cccc... [truncated, 5 chars total]' }],
      other: 'o'.repeat(50),
    });
    expect(header['truncated_fields']).toBe(2);
  });

  it('shrinks an oversized event by cutting its longest strings, and marks it', async () => {
    const { rec, transport } = recorder({ limits: { maxEventBytes: 4096 } });
    rec.record({
      event: 'BIG',
      small: 'keep me',
      a: 'a'.repeat(10_000),
      b: 'b'.repeat(3000),
      truncated: 'mine',
    });
    const { events, upload } = await finishAndRead(rec, transport);
    const line = rawLines(upload.body)[1]!;
    expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(4096);
    const e = events[0]!;
    expect(e).toMatchObject({ event: 'BIG', seq: 0, small: 'keep me', truncated: true });
    expect(e['a']).toMatch(/^a+\.\.\. \[truncated, 10000 chars total\]$/);
    expect(e['b']).toMatch(/^b+\.\.\. \[truncated, 3000 chars total\]$/);
    // Both long strings were cut to the same, largest length that fits.
    expect((e['a'] as string).indexOf('.')).toBe((e['b'] as string).indexOf('.'));
    expect((e['a'] as string).indexOf('.')).toBeGreaterThan(1500);
    expect(rec.stats().oversized).toBe(1);
  });

  it('replaces an event that cannot be shrunk enough with a small marker', async () => {
    const { rec, transport } = recorder({ limits: { maxEventBytes: 4096 } });
    const numbers = Array.from({ length: 5000 }, (_, i) => i);
    rec.record({ event: 'NUMBERS', numbers });
    rec.record({ event: 'MONSTER', numbers: Array.from({ length: 100_000 }, (_, i) => i) });
    const { events } = await finishAndRead(rec, transport);
    expect(events[0]).toEqual({
      event: 'NUMBERS',
      task_id: 'task-1',
      seq: 0,
      ts: 1700000000001,
      truncated: true,
      oversized: true,
      original_bytes:
        JSON.stringify(numbers).length +
        '{"event":"NUMBERS","task_id":"task-1","seq":0,"ts":1700000000001,"numbers":}\n'.length,
    });
    // Too big to even measure: the size is a lower bound.
    expect(events[1]).toMatchObject({
      event: 'MONSTER',
      oversized: true,
      original_bytes_is_lower_bound: true,
    });
    expect(rec.stats().oversized).toBe(2);
  });
});

describe('redaction', () => {
  it('never lets a secret reach the stored bytes, and counts what it replaced', async () => {
    const { rec, transport } = recorder();
    rec.record({
      event: `E-${AKIA}`,
      cmd: `export AWS_ACCESS_KEY_ID=${AKIA}`,
      [GHP]: 'key',
      nested: [{ url: `https://x-access-token:${GHP}@github.com/o/r` }],
    });
    rec.recordTurn({
      turn: 1,
      text: `token ${GHP}`,
      toolCalls: [{ name: 'sh', input: { password: 'hunter2' } }],
    });
    const { upload, header } = await finishAndRead(rec, transport);
    const text = rawLines(upload.body).join('\n');
    for (const secret of [AKIA, GHP, 'hunter2']) expect(text).not.toContain(secret);
    expect(header['redactions']).toBe(rec.stats().redactions);
    // Name, cmd, key, the token in the URL; the turn's text and the password input.
    expect(header['redactions']).toBe(6);
  });

  it('applies user patterns', async () => {
    const { rec, transport } = recorder({ redactPatterns: [{ label: 'ticket', pattern: /TCK-\d+/ }] });
    rec.record({ event: 'E', note: 'see TCK-123 and TCK-456' });
    const { events } = await finishAndRead(rec, transport);
    expect(events[0]?.['note']).toBe('see [REDACTED-TICKET] and [REDACTED-TICKET]');
  });

  it('lets the redact hook rewrite, keep (undefined) or drop (null) an event', async () => {
    const { rec, transport } = recorder({
      redact: (e) => {
        if (e['mode'] === 'drop') return null;
        if (e['mode'] === 'rewrite') return { ...e, user: '<hidden>' };
        return undefined;
      },
    });
    rec.record({ event: 'E', mode: 'rewrite', user: 'alice' });
    expect(rec.record({ event: 'E', mode: 'drop', user: 'bob' })).toBe(false);
    rec.record({ event: 'E', mode: 'keep', user: 'carol' });
    const { events } = await finishAndRead(rec, transport);
    expect(events.map((e) => e['user'])).toEqual(['<hidden>', 'carol']);
    expect(rec.stats().filtered).toBe(1);
  });

  it('masks the whole event when the hook throws', async () => {
    const { rec, transport } = recorder({
      redact: (e) => {
        if (e['boom']) throw new Error(`cannot redact ${String(e['payload'])}`);
        return e;
      },
    });
    rec.record({ event: 'TOOL_OUTPUT', boom: true, payload: 'sensitive-value' });
    rec.record({ event: 'AFTER' });
    const { events, upload } = await finishAndRead(rec, transport);
    expect(events[0]).toEqual({
      event: 'TOOL_OUTPUT',
      task_id: 'task-1',
      seq: 0,
      ts: expect.any(Number),
      redaction_failed: true,
    });
    expect(events[1]).toMatchObject({ event: 'AFTER', seq: 1 });
    expect(rawLines(upload.body).join('\n')).not.toContain('sensitive-value');
    expect(rec.stats().masked).toBe(1);
  });

  it('masks the whole event when a user pattern throws, and does not keep an unsafe name', async () => {
    class Exploding extends RegExp {
      override exec(s: string): RegExpExecArray | null {
        if (s.includes('trigger')) throw new Error('regex engine gave up');
        return super.exec(s);
      }
    }
    const { rec, transport } = recorder({
      redactPatterns: [{ label: 'X', pattern: new Exploding('zzz', 'g') }],
    });
    rec.record({ event: 'E', data: 'trigger sensitive-value' });
    rec.record({ event: 'trigger name', data: 'fine' });
    rec.record({ event: 'E', data: 'zzz' });
    const { events, upload, header } = await finishAndRead(rec, transport);
    expect(events[0]).toMatchObject({ event: 'E', redaction_failed: true });
    expect(events[1]).toMatchObject({ event: 'UNKNOWN', redaction_failed: true });
    expect(events[2]).toMatchObject({ event: 'E', data: '[REDACTED-X]' });
    expect(rawLines(upload.body).join('\n')).not.toContain('sensitive-value');
    expect(header['redactions']).toBe(1);
  });
});

describe('finish', () => {
  it('returns the same promise and result when called twice', async () => {
    const { rec, transport } = recorder();
    rec.record({ event: 'E' });
    const p1 = rec.finish();
    const p2 = rec.finish({ timeoutMs: 5 });
    expect(p2).toBe(p1);
    expect(await p2).toBe(await p1);
    expect(transport.uploads).toHaveLength(1);
  });

  it('passes the artifact (key, ids, sha256, size, content type) and a signal to the transport', async () => {
    const { rec, transport } = recorder();
    rec.record({ event: 'E' });
    const result = await rec.finish({ timeoutMs: 60_000 });
    const { artifact, body, signal } = transport.uploads[0]!;
    expect(artifact).toMatchObject({
      key: 'traces/user-1/task-1.jsonl.gz',
      userId: 'user-1',
      taskId: 'task-1',
      contentType: 'application/gzip',
      byteLength: body.length,
      sha256: result.sha256,
    });
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(result).toMatchObject({
      status: 'uploaded',
      uri: 'memory://traces/user-1/task-1.jsonl.gz',
      attempts: 1,
    });
  });

  it('ignores record() after finish, counts it and warns once at most', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { rec } = recorder();
    await rec.finish();
    expect(rec.record({ event: 'LATE' })).toBe(false);
    expect(rec.recordTurn({ turn: 2 })).toBe(false);
    expect(rec.stats().afterClose).toBe(2);
    expect(warn.mock.calls.length).toBeLessThanOrEqual(1);
  });

  it('skips the upload with transport: null but still seals and measures', async () => {
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport: null, spoolDir });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result).toMatchObject({ status: 'skipped', reason: 'no-transport', events: 1, attempts: 0 });
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.bytes).toBeGreaterThan(0);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('rejects finish options of the wrong type without closing the recorder', async () => {
    const { rec } = recorder();
    await expect(rec.finish({ timeoutMs: '5' as unknown as number })).rejects.toMatchObject({
      variable: 'timeoutMs',
    });
    await expect(rec.finish({ signal: 'x' as unknown as AbortSignal })).rejects.toBeInstanceOf(ConfigError);
    expect(rec.record({ event: 'STILL_OPEN' })).toBe(true);
    await expect(rec.finish()).resolves.toMatchObject({ status: 'uploaded', events: 1 });
  });
});

describe('abort', () => {
  it('discards everything, is idempotent, and finish() then reports skipped', async () => {
    const { rec, transport } = recorder({ limits: { spoolMemoryBytes: 0 } });
    for (let i = 0; i < 2000; i++) rec.record({ event: 'E', i, pad: `${i}`.repeat(200) });
    const a1 = rec.abort();
    expect(rec.abort()).toBe(a1);
    await a1;
    expect(rec.record({ event: 'LATE' })).toBe(false);
    const result = await rec.finish();
    expect(result).toMatchObject({ status: 'skipped', reason: 'aborted', bytes: 0, sha256: '' });
    expect(transport.uploads).toHaveLength(0);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('is a no-op once finish has started', async () => {
    const { rec, transport } = recorder();
    rec.record({ event: 'E' });
    const finished = rec.finish();
    await rec.abort();
    await expect(finished).resolves.toMatchObject({ status: 'uploaded' });
    expect(transport.uploads).toHaveLength(1);
  });
});

describe('fail-open', () => {
  it('keeps the artifact in spoolDir and resolves failed with the typed error', async () => {
    const error = new UploadError('ERR_UPLOAD_HTTP', 'Upload failed with 503', {
      status: 503,
      retryable: true,
      attempts: 4,
    });
    const transport = failingTransport(error);
    const { rec } = recorder({ transport });
    rec.record({ event: 'E', n: 1 });
    const result = await rec.finish();
    expect(result).toMatchObject({ status: 'failed', error, attempts: 4, events: 1 });
    expect(result.spooledPath).toBeDefined();
    const spooled = await readFile(result.spooledPath!);
    expect(createHash('sha256').update(spooled).digest('hex')).toBe(result.sha256);
    const { header, events } = await readBack(spooled);
    expect(header['accumulated_events']).toBe(1);
    expect(events[0]).toMatchObject({ event: 'E', n: 1 });
    const sidecars = (await readdir(spoolDir)).filter((f) => f.endsWith('.json'));
    const sidecar = JSON.parse(await readFile(join(spoolDir, sidecars[0]!), 'utf8'));
    expect(sidecar).toMatchObject({
      key: 'traces/user-1/task-1.jsonl.gz',
      transport: 'failing',
      sha256: result.sha256,
    });
  });

  it('wraps an unknown error in UploadError without leaking a presigned URL', async () => {
    const url =
      'https://bucket.s3.amazonaws.com/traces/u/t.jsonl.gz?X-Amz-Signature=abcdef0123&X-Amz-Credential=AKIA';
    const { rec } = recorder({ transport: failingTransport(new TypeError(`fetch failed for ${url}`)) });
    const result = await rec.finish();
    expect(result.status).toBe('failed');
    expect(result.error).toBeInstanceOf(UploadError);
    // Not a recognisable network failure: the transport failed in a way it did not classify.
    expect(result.error).toMatchObject({
      code: 'ERR_UPLOAD_TRANSPORT',
      transport: 'failing',
      retryable: false,
    });
    expect(result.error?.message).toContain('https://bucket.s3.amazonaws.com/traces/u/t.jsonl.gz?<redacted>');
    expect(result.error?.message).not.toContain('abcdef0123');
    expect((result.error as UploadError).cause).toBeInstanceOf(TypeError);
    // Not even the cause chain, which loggers and util.inspect print, carries the signature.
    expect(inspect(result.error, { depth: 10 })).not.toContain('abcdef0123');
  });

  it('still writes an event whose `event` getter throws, as UNKNOWN', async () => {
    const { rec } = recorder({ transport: null });
    const hostile = {
      get event(): string {
        throw new Error('boom');
      },
      n: 1,
    };
    expect(rec.record(hostile)).toBe(true);
    expect(rec.stats().events).toBe(1);
  });

  it('failOpen: false rejects with the typed error, after spooling', async () => {
    const error = new UploadError('ERR_UPLOAD_HTTP', 'denied', { status: 403 });
    const { rec } = recorder({ transport: failingTransport(error), failOpen: false });
    rec.record({ event: 'E' });
    await expect(rec.finish()).rejects.toBe(error);
    expect((await readdir(spoolDir)).filter((f) => f.endsWith('.jsonl.gz'))).toHaveLength(1);
  });

  it('says so when even spooling fails', async () => {
    const notADir = join(spoolDir, 'file');
    await writeFile(notADir, 'x');
    const { rec } = recorder({
      transport: failingTransport(new UploadError('ERR_UPLOAD_HTTP', 'boom')),
      spoolDir: notADir,
    });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    expect(result.status).toBe('failed');
    expect(result.spooledPath).toBeUndefined();
    expect(result.error).toBeInstanceOf(UploadError);
    expect(result.error?.message).toMatch(/boom; keeping the artifact in .* failed too .*this trace is lost/);
  });

  it('bounds finish with timeoutMs even when the transport ignores its signal', async () => {
    const transport = hangingTransport();
    const { rec } = recorder({ transport });
    rec.record({ event: 'E' });
    const result = await rec.finish({ timeoutMs: 20 });
    expect(result).toMatchObject({ status: 'failed', error: { code: 'ERR_UPLOAD_DEADLINE' } });
    expect(transport.signals[0]?.aborted).toBe(true);
    expect(result.spooledPath).toBeDefined();
  });

  it('counts the time spent sealing against timeoutMs: the upload gets only what is left', async () => {
    const spool = snapshotSpool();
    const seal = spool.seal.bind(spool);
    spool.seal = async (line) => {
      await new Promise((r) => setTimeout(r, 600));
      return seal(line);
    };
    const rec = createRecorderWithSpool({ userId: 'u', taskId: 't', transport: hangingTransport() }, spool);
    rec.record({ event: 'E' });
    const result = await rec.finish({ timeoutMs: 1000 });
    expect(result).toMatchObject({ status: 'failed', error: { code: 'ERR_UPLOAD_DEADLINE' } });
    // The upload was bounded by at most 1000 - 600 ms (or had no time left on a very slow machine).
    const message = result.error?.message ?? '';
    const bound = /within (\d+) ms/.exec(message)?.[1];
    if (bound === undefined) expect(message).toContain('had no time left');
    else expect(Number(bound)).toBeLessThanOrEqual(400);
  });

  it("reports the caller's abort as ERR_UPLOAD_ABORTED", async () => {
    const transport = hangingTransport();
    const { rec } = recorder({ transport });
    const controller = new AbortController();
    const finished = rec.finish({ signal: controller.signal, timeoutMs: 60_000 });
    controller.abort();
    await expect(finished).resolves.toMatchObject({
      status: 'failed',
      error: { code: 'ERR_UPLOAD_ABORTED' },
    });
  });

  it('reports a sealing failure as failed with a SpoolError (or rejects with failOpen: false)', async () => {
    const broken: EventSpool = {
      uncompressedBytes: 0,
      append() {},
      seal: () => Promise.reject(new Error('disk full')),
      discard: () => Promise.resolve(),
    };
    const options = { userId: 'u', taskId: 't', transport: memoryTransport() as TraceTransport };
    const open = createRecorderWithSpool(options, broken);
    await expect(open.finish()).resolves.toMatchObject({ status: 'failed', error: expect.any(SpoolError) });
    const closed = createRecorderWithSpool({ ...options, failOpen: false }, broken);
    await expect(closed.finish()).rejects.toBeInstanceOf(SpoolError);
  });
});

describe('a spill file deleted while recording', () => {
  it('still uploads every event: the body reads the members through a descriptor held open', async () => {
    // 64 KiB in memory, then the spill file; a tmp cleaner (or the agent's own rm -rf) takes the
    // spool directory's contents mid-trace.
    const { rec, transport } = recorder({ limits: { spoolMemoryBytes: 64 * 1024 } });
    // Hex digests: gzip cannot shrink them much, so the members pass 64 KiB soon.
    const text = (i: number) =>
      createHash('sha512').update(String(i)).digest('hex').repeat(4) + `${i} `.repeat(200);
    for (let i = 0; i < 2000; i++) rec.record({ event: 'TOOL_RESULT', i, content: text(i) });
    // Compression runs on the workers: wait (bounded) until the spill file holds members.
    const spilled = async () => (await readdir(spoolDir)).some((f) => f.endsWith('.part'));
    for (let waited = 0; !(await spilled()) && waited < 10_000; waited += 20) await sleep(20);
    expect(await spilled()).toBe(true);
    for (const f of await readdir(spoolDir)) await rm(join(spoolDir, f), { recursive: true, force: true });
    for (let i = 2000; i < 3000; i++) rec.record({ event: 'TOOL_RESULT', i, content: text(i) });
    const { result, events } = await finishAndRead(rec, transport);
    expect(result.events).toBe(3000);
    expect(events.map((e) => e['i'])).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });
});

describe('memory', () => {
  it('keeps memory bounded while recording a large trace in a synchronous loop', async () => {
    const target = 256 * 1024 * 1024;
    const { rec } = recorder({ transport: null, maxBytes: target * 2 });
    const chunk = 'The agent read the file and decided to run the tests again. '.repeat(60);
    const event = (i: number) => ({
      event: 'TRAJECTORY_TURN',
      turn: i,
      thinking: chunk.slice(i % 97),
      text: `${i}`,
    });
    for (let i = 0; i < 200; i++) rec.record(event(i));
    const memory = liveMemoryPeak();
    for (let i = 0; rec.stats().bytes < target; i++) {
      rec.record(event(i));
      if ((i & 4095) === 0) memory.sample();
    }
    const result = await rec.finish();
    expect(result.uncompressedBytes).toBeGreaterThanOrEqual(target);
    // A recorder that kept its input would be past 256 MiB here (RSS for a 1 GiB trace is measured
    // by `pnpm bench --full`).
    expect(memory.growthMiB()).toBeLessThan(64);
  });
});
