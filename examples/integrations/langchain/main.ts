/**
 * Record a LangChain.js agent (`createAgent` from `langchain`) with the callback handler from
 * `@agent-trace/trace-sdk/langchain`. The integration is `runAgent` below: three lines.
 *
 * Offline: the chat model is `fakeModel()` from `@langchain/core/testing` replaying scripted
 * messages; the trace goes to a SigV4-verifying local S3 through a presigned PUT URL.
 *
 * Run: `pnpm build && node examples/integrations/langchain/main.ts`
 */
import { createTraceRecorder, type TraceTransport } from '@agent-trace/trace-sdk';
import { AgentTraceCallbackHandler } from '@agent-trace/trace-sdk/langchain';
import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { z } from 'zod';
import { runIntegrationExample, USER_ID } from '../shared.ts';

const TASK_ID = '01JD4Q9Z6XKQ2V8N5R3T7W1Y1B';

async function runAgent(transport: TraceTransport) {
  const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport });
  await agent().invoke(
    { messages: [{ role: 'user', content: 'Refund order A-17' }] },
    { callbacks: [new AgentTraceCallbackHandler(rec)] },
  );
  return rec.finish();
}

// ── the agent: real createAgent loop, real tools, a scripted chat model ────────────────────────
function agent() {
  const lookup = tool(async ({ order }) => `order ${order}: 1 item, 12.99 EUR, paid by card`, {
    name: 'lookup_order',
    description: 'look up an order',
    schema: z.object({ order: z.string() }),
  });
  const refund = tool(async ({ order, cents }) => `refunded ${cents} cents on ${order}`, {
    name: 'refund',
    description: 'refund an order',
    schema: z.object({ order: z.string(), cents: z.number() }),
  });
  const model = fakeModel()
    .respond(
      new AIMessage({
        content: 'Looking up the order.',
        tool_calls: [{ id: 'call_1', name: 'lookup_order', args: { order: 'A-17' }, type: 'tool_call' }],
        usage_metadata: { input_tokens: 90, output_tokens: 14, total_tokens: 104 },
        response_metadata: { model_name: 'scripted-chat' },
      }),
    )
    .respond(
      new AIMessage({
        content: 'Refunding it.',
        tool_calls: [
          { id: 'call_2', name: 'refund', args: { order: 'A-17', cents: 1299 }, type: 'tool_call' },
        ],
        usage_metadata: { input_tokens: 130, output_tokens: 16, total_tokens: 146 },
        response_metadata: { model_name: 'scripted-chat' },
      }),
    )
    .respond(
      new AIMessage({
        content: 'Order A-17 was refunded (12.99 EUR).',
        usage_metadata: { input_tokens: 170, output_tokens: 11, total_tokens: 181 },
        response_metadata: { model_name: 'scripted-chat' },
      }),
    );
  return createAgent({ model, tools: [lookup, refund] });
}

runIntegrationExample('langchain', TASK_ID, runAgent, { turns: 3, toolCalls: 2, subtype: 'success' });
