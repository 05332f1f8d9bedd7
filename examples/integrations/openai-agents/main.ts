/**
 * Record an OpenAI Agents SDK run (`run(agent, input)`) with the tracing processor from
 * `@agent-trace/trace-sdk/openai-agents`. The integration is `runAgent` below: three lines.
 * (`addTraceProcessor` keeps the SDK's own OpenAI exporter; this offline example replaces it with
 * `setTraceProcessors` so nothing tries to reach api.openai.com.)
 *
 * Offline: the model is a scripted implementation of the SDK's `Model` interface that reports each
 * call on a generation span, as the SDK's Chat Completions model does; the trace goes to a
 * SigV4-verifying local S3 through a presigned PUT URL.
 *
 * Run: `pnpm build && node examples/integrations/openai-agents/main.ts`
 */
import { createTraceRecorder, type TraceTransport } from '@agent-trace/trace-sdk';
import { AgentTraceProcessor } from '@agent-trace/trace-sdk/openai-agents';
import {
  Agent,
  type Model,
  type ModelResponse,
  run,
  setTraceProcessors,
  tool,
  Usage,
  withGenerationSpan,
} from '@openai/agents';
import { z } from 'zod';
import { runIntegrationExample, USER_ID } from '../shared.ts';

const TASK_ID = '01JD4Q9Z6XKQ2V8N5R3T7W1Y1D';

async function runAgent(transport: TraceTransport) {
  const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport });
  setTraceProcessors([new AgentTraceProcessor(rec)]);
  await run(agent(), 'Find me a flight from CDG to SFO on Monday.');
  return rec.finish();
}

// ── the agent: real run() loop, real function tools, a scripted model ─────────────────────────
const SCRIPT = [
  {
    text: 'Searching flights.',
    call: { id: 'call_1', name: 'search_flights', args: { from: 'CDG', to: 'SFO' } },
  },
  { text: 'Checking seats on AF84.', call: { id: 'call_2', name: 'seat_map', args: { flight: 'AF84' } } },
  { text: 'AF84 leaves Monday 10:40 with 12 seats left.' },
];

class ScriptedModel implements Model {
  #turn = 0;
  async getResponse(): Promise<ModelResponse> {
    const step = SCRIPT[Math.min(this.#turn++, SCRIPT.length - 1)]!;
    const output: ModelResponse['output'] = [
      {
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: step.text }],
      },
    ];
    if (step.call)
      output.push({
        type: 'function_call',
        callId: step.call.id,
        name: step.call.name,
        arguments: JSON.stringify(step.call.args),
        status: 'completed',
      });
    return withGenerationSpan(async (span) => {
      span.spanData.model = 'scripted-gpt';
      span.spanData.output = output;
      return {
        usage: new Usage({ requests: 1, inputTokens: 150, outputTokens: 20, totalTokens: 170 }),
        output,
      };
    });
  }
  // biome-ignore lint/correctness/useYield: this scripted model only answers getResponse
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('streaming is not scripted');
  }
}

function agent() {
  const search = tool({
    name: 'search_flights',
    description: 'search flights',
    parameters: z.object({ from: z.string(), to: z.string() }),
    execute: async ({ from, to }) => `AF84 ${from}->${to} Mon 10:40`,
  });
  const seats = tool({
    name: 'seat_map',
    description: 'free seats on a flight',
    parameters: z.object({ flight: z.string() }),
    execute: async ({ flight }) => `${flight}: 12 seats free`,
  });
  return new Agent({
    name: 'travel',
    instructions: 'Book travel.',
    model: new ScriptedModel(),
    tools: [search, seats],
  });
}

runIntegrationExample('openai-agents', TASK_ID, runAgent, { turns: 3, toolCalls: 2, subtype: 'success' });
