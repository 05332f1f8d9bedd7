/**
 * The LangChain adapter against the real packages: `createAgent` (langchain, on LangGraph) runs its
 * tool loop over `fakeModel()` from `@langchain/core/testing`, which replays scripted `AIMessage`s;
 * real tools execute (one throws). The stored artifact is read back and compared with the script.
 */
import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentTraceCallbackHandler } from '../../src/integrations/langchain/index.js';
import { deadTransport, recordAndReadBack, throwingSink } from './support.js';

function scriptedModel() {
  return fakeModel()
    .respond(
      new AIMessage({
        content: [
          { type: 'thinking', thinking: 'Look up the order, then refund it.' },
          { type: 'text', text: 'Checking the order.' },
        ],
        tool_calls: [
          { id: 'call_a', name: 'lookup_order', args: { order: 'A-17' }, type: 'tool_call' },
          { id: 'call_b', name: 'refund', args: { order: 'A-17', cents: 1299 }, type: 'tool_call' },
        ],
        usage_metadata: { input_tokens: 90, output_tokens: 30, total_tokens: 120 },
        response_metadata: { model_name: 'fake-claude' },
      }),
    )
    .respond(
      new AIMessage({
        content: 'Order A-17 found; the refund failed, escalating.',
        usage_metadata: { input_tokens: 150, output_tokens: 12, total_tokens: 162 },
        response_metadata: { model_name: 'fake-claude' },
      }),
    );
}

const tools = [
  tool(async ({ order }) => `order ${order}: 1 item, 12.99 EUR`, {
    name: 'lookup_order',
    description: 'look up an order',
    schema: z.object({ order: z.string() }),
  }),
  tool(
    async (): Promise<string> => {
      throw new Error('payments API unavailable');
    },
    {
      name: 'refund',
      description: 'refund an order',
      schema: z.object({ order: z.string(), cents: z.number() }),
    },
  ),
];

describe('langchain adapter (real createAgent loop over fakeModel())', () => {
  it('records one turn per model call, the tool results and the run totals', async () => {
    let final = '';
    const back = await recordAndReadBack(async (rec) => {
      const agent = createAgent({ model: scriptedModel(), tools });
      const state = await agent.invoke(
        { messages: [{ role: 'user', content: 'refund order A-17' }] },
        { callbacks: [new AgentTraceCallbackHandler(rec)] },
      );
      final = String(state.messages.at(-1)?.content);
    });
    expect(final).toBe('Order A-17 found; the refund failed, escalating.');
    const turns = back.of('TRAJECTORY_TURN');
    expect(turns).toHaveLength(2);
    expect(turns[0]).toEqual({
      event: 'TRAJECTORY_TURN',
      turn: 1,
      model: 'fake-claude',
      thinking: 'Look up the order, then refund it.',
      text: 'Checking the order.',
      tool_calls: [
        { id: 'call_a', name: 'lookup_order', input: { order: 'A-17' } },
        { id: 'call_b', name: 'refund', input: { order: 'A-17', cents: 1299 } },
      ],
      tool_results: [
        { tool_use_id: 'call_a', is_error: false, content: 'order A-17: 1 item, 12.99 EUR' },
        {
          tool_use_id: 'call_b',
          is_error: true,
          content: expect.stringContaining('payments API unavailable'),
        },
      ],
    });
    expect(turns[1]).toEqual({
      event: 'TRAJECTORY_TURN',
      thinking: '',
      turn: 2,
      model: 'fake-claude',
      text: 'Order A-17 found; the refund failed, escalating.',
      tool_calls: [],
      tool_results: [],
    });
    expect(back.of('TRAJECTORY_RESULT')).toEqual([
      {
        event: 'TRAJECTORY_RESULT',
        subtype: 'success',
        num_turns: 2,
        cost_usd: null,
        duration_ms: expect.any(Number),
        duration_api_ms: null,
        session_id: '',
        usage: { input_tokens: 240, output_tokens: 42, total_tokens: 282 },
      },
    ]);
  });

  it('a handler reused for a second invoke counts that run afresh', async () => {
    const back = await recordAndReadBack(async (rec) => {
      const handler = new AgentTraceCallbackHandler(rec);
      for (let i = 0; i < 2; i++)
        await createAgent({ model: scriptedModel(), tools }).invoke(
          { messages: [{ role: 'user', content: 'refund order A-17' }] },
          { callbacks: [handler] },
        );
    });
    expect(back.of('TRAJECTORY_TURN').map((t) => t['turn'])).toEqual([1, 2, 1, 2]);
    expect(back.of('TRAJECTORY_RESULT').map((r) => [r['num_turns'], r['usage']])).toEqual([
      [2, { input_tokens: 240, output_tokens: 42, total_tokens: 282 }],
      [2, { input_tokens: 240, output_tokens: 42, total_tokens: 282 }],
    ]);
  });

  it('a failing run is error_during_execution, and the error still reaches the caller', async () => {
    const back = await recordAndReadBack(async (rec) => {
      const agent = createAgent({ model: fakeModel().alwaysThrow(new Error('model overloaded')), tools });
      await expect(
        agent.invoke(
          { messages: [{ role: 'user', content: 'x' }] },
          { callbacks: [new AgentTraceCallbackHandler(rec)] },
        ),
      ).rejects.toThrow('model overloaded');
    });
    expect(back.of('TRAJECTORY_RESULT')).toMatchObject([{ subtype: 'error_during_execution', num_turns: 0 }]);
  });

  it('never throws into the loop and never changes what the agent returns', async () => {
    const input = { messages: [{ role: 'user', content: 'refund order A-17' }] };
    const plain = await createAgent({ model: scriptedModel(), tools }).invoke(input);
    const errors: unknown[] = [];
    const traced = await createAgent({ model: scriptedModel(), tools }).invoke(input, {
      callbacks: [new AgentTraceCallbackHandler(throwingSink, { onError: (e) => errors.push(e) })],
    });
    expect(traced.messages.map((m) => m.content)).toEqual(plain.messages.map((m) => m.content));
    expect(errors.length).toBeGreaterThanOrEqual(3);

    const dead = await recordAndReadBack(
      async (rec) => {
        const r = await createAgent({ model: scriptedModel(), tools }).invoke(input, {
          callbacks: [new AgentTraceCallbackHandler(rec)],
        });
        expect(r.messages).toHaveLength(plain.messages.length);
      },
      { transport: deadTransport() },
    );
    expect(dead.result.status).toBe('failed');

    const handler = new AgentTraceCallbackHandler(throwingSink);
    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile getter');
        },
      },
    );
    expect(() => handler.handleLLMEnd(trap, 'r1')).not.toThrow();
    expect(() => handler.handleLLMEnd({ generations: [[{ message: trap }]] }, 'r2')).not.toThrow();
    expect(() => handler.handleToolEnd(trap, 'r3')).not.toThrow();
    expect(() => handler.handleToolError(trap, 'r4')).not.toThrow();
    expect(() => handler.handleChainEnd(trap, 'r5')).not.toThrow();
  });
});
