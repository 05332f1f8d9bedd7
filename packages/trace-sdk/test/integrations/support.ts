/**
 * Helpers shared by the framework-adapter tests: a recorder that uploads through `fileTransport`
 * into a temp directory, read back with `readTrace` exactly as a consumer would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTraceRecorder,
  type FinishResult,
  fileTransport,
  readTrace,
  type TraceRecorder,
  type TraceTransport,
} from '../../src/index.js';

/** Fields the recorder stamps on every line; dropped by {@link fields} so tests compare content. */
const STAMPED = new Set(['task_id', 'seq', 'ts', 'trace_id', 'span_id']);

/** An event without its stamped fields. */
export function fields(event: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([k]) => !STAMPED.has(k)));
}

export interface ReadBack {
  readonly result: FinishResult;
  readonly header: Record<string, unknown>;
  /** Every event line after the header, stamped fields removed. */
  readonly events: Record<string, unknown>[];
  /** The events of one type. */
  of(event: string): Record<string, unknown>[];
}

/**
 * Runs `body` with a fresh recorder, finishes it (upload through `fileTransport`, or `transport`
 * when given) and reads the stored artifact back.
 */
export async function recordAndReadBack(
  body: (rec: TraceRecorder) => Promise<void>,
  opts: { transport?: TraceTransport } = {},
): Promise<ReadBack> {
  const dir = await mkdtemp(join(tmpdir(), 'trace-integration-'));
  try {
    const rec = createTraceRecorder({
      userId: 'user-1',
      taskId: 'task-1',
      transport: opts.transport ?? fileTransport({ dir }),
      spoolDir: join(dir, 'spool'),
    });
    await body(rec);
    const result = await rec.finish();
    if (result.status !== 'uploaded') return { result, header: {}, events: [], of: () => [] };
    const lines: Record<string, unknown>[] = [];
    for await (const line of readTrace(join(dir, result.key))) lines.push(line);
    const [header = {}, ...rest] = lines;
    const events = rest.map(fields);
    return { result, header, events, of: (name) => events.filter((e) => e['event'] === name) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A transport whose every upload fails, as a dead network would. */
export function deadTransport(): TraceTransport {
  return {
    name: 'dead',
    async upload() {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    },
  };
}

/** A sink whose every method throws: what an adapter must survive. */
export const throwingSink = {
  record(): boolean {
    throw new Error('sink exploded');
  },
  recordTurn(): boolean {
    throw new Error('sink exploded');
  },
  recordResult(): boolean {
    throw new Error('sink exploded');
  },
  recordPolicyDecision(): boolean {
    throw new Error('sink exploded');
  },
};
