/**
 * The OpenAI Agents adapter against the real `@openai/agents`: `run()` drives its agent loop over a
 * scripted implementation of the SDK's `Model` interface, which — like the SDK's own Chat
 * Completions model — reports each call on a `generation` span. Real function tools execute (one
 * throws). The processor is registered with `setTraceProcessors`; the stored artifact is read back
 * and compared with the script.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Agent,
  type Model,
  type ModelRequest,
  type ModelResponse,
  run,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  Usage,
  withGenerationSpan,
  withTrace,
} from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTraceRecorder, fileTransport, readTrace } from '../../src/index.js';
import { AgentTraceProcessor } from '../../src/integrations/openai-agents/index.js';
import { deadTransport, recordAndReadBack, throwingSink } from './support.js';

interface ScriptedCall {
  readonly text?: string;
  readonly reasoning?: string;
  readonly tools?: readonly { id: string; name: string; args: Record<string, unknown> }[];
}

const SCRIPT: readonly ScriptedCall[] = [
  {
    reasoning: 'Find the flight, then book it.',
    text: 'Searching flights.',
    tools: [
      { id: 'call_s', name: 'search_flights', args: { from: 'CDG', to: 'SFO' } },
      { id: 'call_b', name: 'book', args: { flight: 'AF84' } },
    ],
  },
  { text: 'AF84 found, but booking failed: the card was declined.' },
];

/** A scripted `Model`: plays SCRIPT, reporting each call on a generation span as a Chat Completions response. */
class ScriptedModel implements Model {
  #i = 0;
  readonly #spans: boolean;
  readonly #script: readonly ScriptedCall[];
  constructor(spans = true, script = SCRIPT) {
    this.#spans = spans;
    this.#script = script;
  }

  async getResponse(_request: ModelRequest): Promise<ModelResponse> {
    const step = this.#script[Math.min(this.#i++, this.#script.length - 1)]!;
    const output: ModelResponse['output'] = [];
    if (step.text !== undefined)
      output.push({
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: step.text }],
      });
    for (const t of step.tools ?? [])
      output.push({
        type: 'function_call',
        callId: t.id,
        name: t.name,
        arguments: JSON.stringify(t.args),
        status: 'completed',
      });
    const response: ModelResponse = {
      usage: new Usage({ requests: 1, inputTokens: 100, outputTokens: 20, totalTokens: 120 }),
      output,
      responseId: `resp_${this.#i}`,
    };
    if (!this.#spans) return response;
    return withGenerationSpan(async (span) => {
      span.spanData.model = 'scripted-gpt';
      span.spanData.output = [
        {
          model: 'scripted-gpt',
          choices: [
            {
              message: {
                role: 'assistant',
                content: step.text ?? null,
                reasoning_content: step.reasoning,
                tool_calls: (step.tools ?? []).map((t) => ({
                  id: t.id,
                  type: 'function',
                  function: { name: t.name, arguments: JSON.stringify(t.args) },
                })),
              },
            },
          ],
        },
      ];
      return response;
    });
  }

  // biome-ignore lint/correctness/useYield: the scripted model only answers getResponse
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('streaming is not scripted');
  }
}

const tools = [
  tool({
    name: 'search_flights',
    description: 'search flights',
    parameters: z.object({ from: z.string(), to: z.string() }),
    execute: async ({ from, to }) => `AF84 ${from}->${to} 10:40`,
  }),
  tool({
    name: 'book',
    description: 'book a flight',
    parameters: z.object({ flight: z.string() }),
    execute: async (): Promise<string> => {
      throw new Error('card declined');
    },
    errorFunction: (_ctx, error) => `booking failed: ${(error as Error).message}`,
  }),
];

const agent = (spans = true) =>
  new Agent({ name: 'travel', instructions: 'book travel', model: new ScriptedModel(spans), tools });

beforeAll(() => {
  setTracingDisabled(false); // the SDK switches tracing off under NODE_ENV=test
});
afterAll(() => {
  setTraceProcessors([]);
  setTracingDisabled(true);
});

describe('openai-agents adapter (real run() loop over a scripted Model)', () => {
  it('records each turn from its generation and function spans, and the run totals', async () => {
    let final: unknown;
    const back = await recordAndReadBack(async (rec) => {
      setTraceProcessors([new AgentTraceProcessor(rec)]);
      final = (await run(agent(), 'fly me to SFO')).finalOutput;
    });
    expect(final).toBe('AF84 found, but booking failed: the card was declined.');
    expect(back.of('TRAJECTORY_TURN')).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        turn: 1,
        model: 'scripted-gpt',
        thinking: 'Find the flight, then book it.',
        text: 'Searching flights.',
        tool_calls: [
          { id: 'call_s', name: 'search_flights', input: { from: 'CDG', to: 'SFO' } },
          { id: 'call_b', name: 'book', input: { flight: 'AF84' } },
        ],
        tool_results: [
          { tool_use_id: 'call_s', is_error: false, content: 'AF84 CDG->SFO 10:40' },
          { tool_use_id: 'call_b', is_error: true, content: expect.stringContaining('card declined') },
        ],
      },
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        turn: 2,
        model: 'scripted-gpt',
        text: 'AF84 found, but booking failed: the card was declined.',
        tool_calls: [],
        tool_results: [],
      },
    ]);
    expect(back.of('TRAJECTORY_RESULT')).toEqual([
      {
        event: 'TRAJECTORY_RESULT',
        subtype: 'success',
        num_turns: 2,
        cost_usd: null,
        duration_ms: expect.any(Number),
        duration_api_ms: null,
        session_id: '',
        usage: expect.objectContaining({
          input_tokens: 200,
          output_tokens: 40,
          requests: 2,
          total_tokens: 240,
        }),
      },
    ]);
  });

  it('without model spans, tool calls come from the function spans; max turns is error_max_turns', async () => {
    const back = await recordAndReadBack(async (rec) => {
      setTraceProcessors([new AgentTraceProcessor(rec)]);
      await expect(run(agent(false), 'fly me to SFO', { maxTurns: 1 })).rejects.toThrow(/max turns/i);
    });
    const [turn] = back.of('TRAJECTORY_TURN');
    expect(turn).toMatchObject({
      turn: 1,
      tool_calls: [
        { name: 'search_flights', input: { from: 'CDG', to: 'SFO' } },
        { name: 'book', input: { flight: 'AF84' } },
      ],
      tool_results: [{ is_error: false, content: 'AF84 CDG->SFO 10:40' }, { is_error: true }],
    });
    // No model text without model spans: written as "" (the Python agent's empty string).
    expect(turn).toHaveProperty('text', '');
    expect(back.of('TRAJECTORY_RESULT')).toMatchObject([{ subtype: 'error_max_turns', num_turns: 1 }]);
  });

  it('routes concurrent runs to their own recorder by trace metadata', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agents-routing-'));
    try {
      const tasks = ['task-a', 'task-b'];
      const recorders = new Map(
        tasks.map((taskId) => [
          taskId,
          createTraceRecorder({
            userId: 'user-1',
            taskId,
            transport: fileTransport({ dir }),
            spoolDir: join(dir, 'spool'),
          }),
        ]),
      );
      setTraceProcessors([
        new AgentTraceProcessor((trace) => recorders.get(String(trace.metadata?.['task_id']))),
      ]);
      await Promise.all(
        tasks.map((taskId) =>
          withTrace('task', () => run(agent(), 'fly'), { metadata: { task_id: taskId } }),
        ),
      );
      for (const [taskId, rec] of recorders) {
        const result = await rec.finish();
        const lines: Record<string, unknown>[] = [];
        for await (const line of readTrace(join(dir, result.key))) lines.push(line);
        expect(lines.map((l) => [l['task_id'], l['event']])).toEqual([
          [taskId, 'TRAJECTORY_ARTIFACT_HEADER'],
          [taskId, 'TRAJECTORY_TURN'],
          [taskId, 'TRAJECTORY_TURN'],
          [taskId, 'TRAJECTORY_RESULT'],
        ]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parallel calls of one tool: each result goes to its own call, whichever finishes first', async () => {
    const script: readonly ScriptedCall[] = [
      {
        text: 'Reading both.',
        tools: [
          { id: 'call_slow', name: 'read', args: { path: 'big.log' } },
          { id: 'call_fast', name: 'read', args: { path: 'small.txt' } },
        ],
      },
      { text: 'Done.' },
    ];
    const read = tool({
      name: 'read',
      description: 'read a file',
      parameters: z.object({ path: z.string() }),
      execute: async ({ path }) => {
        // The first call finishes last, so its function span ends second.
        if (path === 'big.log') await new Promise((resolve) => setTimeout(resolve, 50));
        return `contents of ${path}`;
      },
    });
    const back = await recordAndReadBack(async (rec) => {
      setTraceProcessors([new AgentTraceProcessor(rec)]);
      await run(
        new Agent({
          name: 'reader',
          instructions: 'read',
          model: new ScriptedModel(true, script),
          tools: [read],
        }),
        'read both',
      );
    });
    const [first] = back.of('TRAJECTORY_TURN');
    const byId = Object.fromEntries(
      ((first?.['tool_results'] ?? []) as { tool_use_id: string; content: string }[]).map((r) => [
        r.tool_use_id,
        r.content,
      ]),
    );
    expect(byId).toEqual({ call_slow: 'contents of big.log', call_fast: 'contents of small.txt' });
  });

  it('never throws into the loop and never changes what run() returns', async () => {
    setTraceProcessors([]);
    const plain = await run(agent(), 'fly me to SFO');
    const errors: unknown[] = [];
    setTraceProcessors([new AgentTraceProcessor(throwingSink, { onError: (e) => errors.push(e) })]);
    const traced = await run(agent(), 'fly me to SFO');
    expect(traced.finalOutput).toBe(plain.finalOutput);
    expect(traced.newItems.length).toBe(plain.newItems.length);
    expect(errors).toHaveLength(3);

    const dead = await recordAndReadBack(
      async (rec) => {
        setTraceProcessors([new AgentTraceProcessor(rec)]);
        expect((await run(agent(), 'fly')).finalOutput).toBe(plain.finalOutput);
      },
      { transport: deadTransport() },
    );
    expect(dead.result.status).toBe('failed');

    const processor = new AgentTraceProcessor(throwingSink);
    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile getter');
        },
      },
    ) as never;
    await expect(processor.onTraceStart(trap)).resolves.toBeUndefined();
    await expect(processor.onSpanEnd(trap)).resolves.toBeUndefined();
    await processor.onTraceStart({ traceId: 't' });
    for (const spanData of [
      trap,
      { type: 'generation', output: [trap] },
      { type: 'turn', turn: 'x' },
      { type: 'task', usage: trap },
    ])
      await expect(
        processor.onSpanEnd({
          traceId: 't',
          spanId: 's',
          parentId: null,
          spanData,
          startedAt: 'x',
          endedAt: null,
          error: null,
        }),
      ).resolves.toBeUndefined();
  });
});
