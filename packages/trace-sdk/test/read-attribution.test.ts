import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readTrace, readTraceHeader, TraceFormatError, traceAttribution } from '../src/index.js';

const KEY = 'traces/user-1/task-1.jsonl.gz';
const META = {
  'agent-trace-user-id': 'user-1',
  'agent-trace-task-id': 'task-1',
  'agent-trace-operator': 'alice',
  'agent-trace-attribution': 'uploader-lambda',
};

function trace(header: Record<string, unknown>): Buffer {
  const h = { event: 'TRAJECTORY_ARTIFACT_HEADER', accumulated_events: 1, ...header };
  const e = { event: 'TRAJECTORY_TURN', task_id: header['task_id'], seq: 0, ts: 1 };
  return Buffer.concat([gzipSync(`${JSON.stringify(h)}\n`), gzipSync(`${JSON.stringify(e)}\n`)]);
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TraceFormatError);
    return (err as TraceFormatError).code;
  }
}

const drain = async (source: Buffer, opts: Parameters<typeof readTrace>[1]) => {
  const lines = [];
  for await (const line of readTrace(source, opts)) lines.push(line);
  return lines;
};

describe('trusted vs claimed attribution', () => {
  it('reports attested when the header agrees with the key and metadata', () => {
    const report = traceAttribution(
      {
        event: 'TRAJECTORY_ARTIFACT_HEADER',
        task_id: 'task-1',
        user_id: 'user-1',
        attribution: { operator: 'alice' },
      },
      { key: KEY, metadata: META },
    );
    expect(report).toEqual({
      status: 'attested',
      trusted: { source: 'uploader-lambda', userId: 'user-1', taskId: 'task-1', operator: 'alice' },
      claimed: { userId: 'user-1', taskId: 'task-1', operator: 'alice' },
      mismatches: [],
    });
  });

  it('flags a header that names another user, task or operator than the trusted side', () => {
    const report = traceAttribution(
      {
        event: 'TRAJECTORY_ARTIFACT_HEADER',
        task_id: 'task-2',
        user_id: 'user-2',
        attribution: { operator: 'mallory' },
      },
      { key: KEY, metadata: META },
    );
    expect(report.status).toBe('mismatch');
    expect(report.mismatches).toHaveLength(3);
    expect(report.mismatches.join('\n')).toMatch(/user "user-2".*"user-1"/);
  });

  it('escapes control and bidi characters of claimed values in its messages', () => {
    const report = traceAttribution(
      {
        event: 'TRAJECTORY_ARTIFACT_HEADER',
        task_id: 'task-1',
        user_id: '\u001b]0;owned\u0007\u202euser-1\u009b',
      },
      { key: KEY },
    );
    const text = report.mismatches.join('\n');
    expect(text).not.toMatch(/[\u001b\u0007\u202e\u009b]/);
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\u009b');
  });

  it('flags metadata that disagrees with the key', () => {
    const report = traceAttribution(
      { event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-1', user_id: 'user-1' },
      { key: 'traces/user-9/task-1.jsonl.gz', metadata: META },
    );
    expect(report.status).toBe('mismatch');
  });

  it('tells key-only, unattributed and unknown apart', () => {
    const header = { event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-1', user_id: 'user-1' };
    expect(traceAttribution(header, { key: KEY }).status).toBe('key-only');
    expect(
      traceAttribution(header, { key: KEY, metadata: { 'agent-trace-attribution': 'unattributed' } }).status,
    ).toBe('unattributed');
    expect(traceAttribution(header).status).toBe('unknown');
    // Metadata with the x-amz-meta- prefix (raw HTTP headers) reads the same.
    const raw = Object.fromEntries(Object.entries(META).map(([k, v]) => [`x-amz-meta-${k}`, v]));
    expect(traceAttribution(header, { metadata: raw }).status).toBe('attested');
  });

  it('trusts nothing of an unattributed object, not even its key (its runtime chose both)', () => {
    const legacy = { 'agent-trace-attribution': 'unattributed' };
    const header = { event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: 'task-1', user_id: 'user-1' };
    expect(traceAttribution(header, { key: KEY, metadata: legacy })).toEqual({
      status: 'unattributed',
      trusted: undefined,
      claimed: { userId: 'user-1', taskId: 'task-1' },
      mismatches: [],
    });
    // A header that disagrees with the key is still flagged, without calling the key trusted.
    const other = traceAttribution({ ...header, user_id: 'user-2' }, { key: KEY, metadata: legacy });
    expect(other.status).toBe('mismatch');
    expect(other.trusted).toBeUndefined();
    expect(other.mismatches).toEqual([
      'the header claims user "user-2", the key of this unattributed object names user "user-1"',
    ]);
  });

  it('readTraceHeader and readTrace refuse a header that contradicts the trusted metadata', async () => {
    const forged = trace({ task_id: 'task-1', user_id: 'user-2' });
    expect(await codeOf(readTraceHeader(forged, { metadata: META }))).toBe('ERR_TRACE_ATTRIBUTION');
    expect(await codeOf(drain(forged, { key: KEY }))).toBe('ERR_TRACE_ATTRIBUTION');
    // Without trusted context the reader reads it as before.
    expect((await readTraceHeader(forged))['user_id']).toBe('user-2');
    const honest = trace({ task_id: 'task-1', user_id: 'user-1' });
    expect(await drain(honest, { key: KEY, metadata: META })).toHaveLength(2);
  });
});
