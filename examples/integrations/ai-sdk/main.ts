/**
 * Record a Vercel AI SDK tool loop (`generateText` with tools and `stopWhen`) with
 * `@agent-trace/trace-sdk/ai-sdk`. The integration is `runAgent` below: three lines.
 *
 * Offline: the model is the AI SDK's own `MockLanguageModelV4` playing a scripted conversation; the
 * trace goes to a SigV4-verifying local S3 through a presigned PUT URL.
 *
 * Run: `pnpm build && node examples/integrations/ai-sdk/main.ts`
 */
import { createTraceRecorder, type TraceTransport } from '@agent-trace/trace-sdk';
import { traceAiSdk } from '@agent-trace/trace-sdk/ai-sdk';
import { generateText, stepCountIs, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { z } from 'zod';
import { runIntegrationExample, USER_ID } from '../shared.ts';

const TASK_ID = '01JD4Q9Z6XKQ2V8N5R3T7W1Y1A';

async function runAgent(transport: TraceTransport) {
  const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport });
  await generateText(
    traceAiSdk(rec, { model: model(), tools, stopWhen: stepCountIs(8), prompt: 'Is main green?' }),
  );
  return rec.finish();
}

// ── the agent's tools and a scripted model (a real provider model in production) ──────────────
const tools = {
  ci_status: tool({
    description: 'CI status of a branch',
    inputSchema: z.object({ branch: z.string() }),
    execute: async ({ branch }) => ({ branch, status: 'failed', failing: ['billing/invoice.test.ts'] }),
  }),
  read_log: tool({
    description: 'the log of a failing test',
    inputSchema: z.object({ test: z.string() }),
    execute: async ({ test }) => `${test}: expected 10.01 to be 10.00`,
  }),
};

function model() {
  const usage = (input: number, output: number) => ({
    inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: output, text: output, reasoning: 0 },
  });
  return new MockLanguageModelV4({
    modelId: 'scripted-model',
    doGenerate: [
      {
        content: [
          { type: 'text', text: 'Checking CI for main.' },
          { type: 'tool-call', toolCallId: 'call_1', toolName: 'ci_status', input: '{"branch":"main"}' },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(120, 18),
        warnings: [],
      },
      {
        content: [
          {
            type: 'tool-call',
            toolCallId: 'call_2',
            toolName: 'read_log',
            input: '{"test":"billing/invoice.test.ts"}',
          },
        ],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(180, 12),
        warnings: [],
      },
      {
        content: [{ type: 'text', text: 'main is red: invoice rounding is off by a cent.' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: usage(230, 15),
        warnings: [],
      },
    ],
  });
}

runIntegrationExample('ai-sdk', TASK_ID, runAgent, { turns: 3, toolCalls: 2, subtype: 'success' });
