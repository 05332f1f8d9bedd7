import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTraceRecorder,
  OUTPUT_SCREENING,
  type OutputScreeningEvent,
  POLICY_DECISION,
  type PolicyDecisionEvent,
  TRAJECTORY_RESULT,
  TRAJECTORY_TURN,
  type TrajectoryResultEvent,
  type TrajectoryTurnEvent,
  type TurnInput,
} from '../src/index.js';
import { outputScreeningEvent, policyDecisionEvent, resultEvent, turnEvent } from '../src/record/events.js';
import { fakeClock, memoryTransport, readBack, tempDir } from './recorder-support.js';

let spoolDir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir: spoolDir, cleanup } = await tempDir());
});

afterEach(async () => {
  await cleanup();
});

async function recordAndRead(fn: (rec: ReturnType<typeof createTraceRecorder>) => void) {
  const transport = memoryTransport();
  const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir, now: fakeClock() });
  fn(rec);
  await rec.finish();
  return (await readBack(transport.uploads[0]!.body)).events;
}

/** The line minus the recorder's stamps. */
function fields(e: Record<string, unknown> | undefined): Record<string, unknown> {
  const { task_id: _t, seq: _s, ts: _ts, ...rest } = e ?? {};
  return rest;
}

describe('typed helpers write the Python agent snake_case fields', () => {
  it('recordTurn → TRAJECTORY_TURN', async () => {
    const events = await recordAndRead((rec) => {
      expect(
        rec.recordTurn({
          turn: 3,
          model: 'claude-sonnet-4',
          thinking: 'Let me look at the file.',
          text: 'Reading it now.',
          toolCalls: [
            { id: 'toolu_1', name: 'read_file', input: { path: 'a.ts' } },
            { name: 'bash', input: { cmd: 'ls' } },
          ],
          toolResults: [
            { toolUseId: 'toolu_1', isError: false, content: 'export {}' },
            { toolUseId: 'toolu_2', isError: true, content: [{ type: 'text', text: 'not found' }] },
          ],
        }),
      ).toBe(true);
    });
    expect(fields(events[0])).toEqual({
      event: 'TRAJECTORY_TURN',
      turn: 3,
      model: 'claude-sonnet-4',
      thinking: 'Let me look at the file.',
      text: 'Reading it now.',
      tool_calls: [
        { id: 'toolu_1', name: 'read_file', input: { path: 'a.ts' } },
        { name: 'bash', input: { cmd: 'ls' } },
      ],
      tool_results: [
        { tool_use_id: 'toolu_1', is_error: false, content: 'export {}' },
        { tool_use_id: 'toolu_2', is_error: true, content: [{ type: 'text', text: 'not found' }] },
      ],
    });
  });

  it('recordTurn writes every field the Python agent writes, "" for strings not given', async () => {
    const events = await recordAndRead((rec) => {
      rec.recordTurn({ turn: 1 });
      rec.recordTurn({ turn: 2, toolResults: [{ toolUseId: 'x' }] });
    });
    expect(fields(events[0])).toEqual({
      event: 'TRAJECTORY_TURN',
      turn: 1,
      model: '',
      thinking: '',
      text: '',
      tool_calls: [],
      tool_results: [],
    });
    expect(events[1]?.['tool_results']).toEqual([{ tool_use_id: 'x', is_error: false, content: '' }]);
  });

  it('recordResult → TRAJECTORY_RESULT', async () => {
    const usage = { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 0 };
    const events = await recordAndRead((rec) => {
      rec.recordResult({
        subtype: 'success',
        numTurns: 7,
        costUsd: 0.0123,
        durationMs: 45_000,
        durationApiMs: 30_000,
        sessionId: 'sess-1',
        usage,
      });
    });
    expect(fields(events[0])).toEqual({
      event: 'TRAJECTORY_RESULT',
      subtype: 'success',
      num_turns: 7,
      cost_usd: 0.0123,
      duration_ms: 45_000,
      duration_api_ms: 30_000,
      session_id: 'sess-1',
      usage,
    });
  });

  it('recordPolicyDecision → POLICY_DECISION', async () => {
    const events = await recordAndRead((rec) => {
      rec.recordPolicyDecision({
        toolName: 'bash',
        allowed: false,
        reason: 'rm -rf is not allowed',
        durationMs: 2,
      });
    });
    expect(fields(events[0])).toEqual({
      event: 'POLICY_DECISION',
      tool_name: 'bash',
      allowed: false,
      reason: 'rm -rf is not allowed',
      duration_ms: 2,
    });
  });

  it('recordOutputScreening → OUTPUT_SCREENING', async () => {
    const findings = [{ type: 'pii', field: 'email' }];
    const events = await recordAndRead((rec) => {
      rec.recordOutputScreening({ toolName: 'web_fetch', findings, redacted: true, durationMs: 5 });
      rec.recordOutputScreening({ toolName: 'bash', redacted: false });
    });
    expect(fields(events[0])).toEqual({
      event: 'OUTPUT_SCREENING',
      tool_name: 'web_fetch',
      findings,
      redacted: true,
      duration_ms: 5,
    });
    expect(fields(events[1])).toEqual({
      event: 'OUTPUT_SCREENING',
      tool_name: 'bash',
      findings: [],
      redacted: false,
      duration_ms: null,
    });
  });

  it('exports the builders and types (the helpers are record(builder(input)))', () => {
    const turn: TrajectoryTurnEvent = turnEvent({ turn: 1, text: 'hi' });
    const result: TrajectoryResultEvent = resultEvent({ subtype: 'error_max_turns', numTurns: 50 });
    const policy: PolicyDecisionEvent = policyDecisionEvent({ toolName: 'x', allowed: true });
    const screening: OutputScreeningEvent = outputScreeningEvent({
      toolName: 'x',
      redacted: false,
      findings: [],
    });
    expect([turn.event, result.event, policy.event, screening.event]).toEqual([
      TRAJECTORY_TURN,
      TRAJECTORY_RESULT,
      POLICY_DECISION,
      OUTPUT_SCREENING,
    ]);
    expect(result.num_turns).toBe(50);
  });
});

describe('typed helpers and the default limits', () => {
  it('truncates thinking and text at 4000 chars and tool result content at 2000, not tool inputs', async () => {
    const events = await recordAndRead((rec) => {
      rec.recordTurn({
        turn: 1,
        thinking: 't'.repeat(4001),
        text: 'x'.repeat(4000),
        toolCalls: [{ name: 'write_file', input: { content: 'w'.repeat(5000) } }],
        toolResults: [
          { toolUseId: 'a', content: 'c'.repeat(2500) },
          {
            toolUseId: 'b',
            content: [
              { type: 'text', text: 'd'.repeat(2001) },
              { type: 'image', source: 'e'.repeat(2500) },
            ],
          },
        ],
      });
    });
    const e = events[0] as Record<string, unknown> & {
      tool_calls: { input: { content: string } }[];
      tool_results: { content: unknown }[];
    };
    expect(e['thinking']).toBe(`${'t'.repeat(4000)}... [truncated, 4001 chars total]`);
    expect(e['text']).toBe('x'.repeat(4000));
    expect(e.tool_calls[0]?.input.content).toBe('w'.repeat(5000));
    expect(e.tool_results[0]?.content).toBe(`${'c'.repeat(2000)}... [truncated, 2500 chars total]`);
    expect(e.tool_results[1]?.content).toEqual([
      { type: 'text', text: `${'d'.repeat(2000)}... [truncated, 2001 chars total]` },
      { type: 'image', source: 'e'.repeat(2500) },
    ]);
  });

  it('never throws on hostile helper input and keeps a marker event', async () => {
    const hostile = {
      get turn(): number {
        throw new RangeError('getter');
      },
    } as unknown as TurnInput;
    const events = await recordAndRead((rec) => {
      expect(rec.recordTurn(hostile)).toBe(true);
      expect(rec.recordResult(null as never)).toBe(true);
      expect(rec.recordPolicyDecision(undefined as never)).toBe(true);
    });
    expect(events.map(fields)).toEqual([
      { event: 'TRAJECTORY_TURN', input_error: '[Unserializable: RangeError]' },
      { event: 'TRAJECTORY_RESULT', input_error: '[Unserializable: TypeError]' },
      { event: 'POLICY_DECISION', input_error: '[Unserializable: TypeError]' },
    ]);
  });
});
