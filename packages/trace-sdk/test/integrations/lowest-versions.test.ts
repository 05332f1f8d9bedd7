/**
 * The adapters against the LOWEST framework versions their peer ranges admit, installed beside the
 * newest under npm aliases (`claude-agent-sdk-lowest` = 0.1.0, `ai-lowest` = 6.0.0,
 * `otel-sdk-trace-base-lowest` = 2.0.0, `langchain-core-lowest` = 1.0.0):
 * the same scripted runs must record the same events as on the newest versions.
 * `@langchain/core` 1.0.0 (`langchain-core-lowest`) runs a hand-written tool loop on its own runnables
 * (langchain's `createAgent` would bind the workspace's newest core). The OpenAI Agents SDK range is
 * one minor; see docs/integrations.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query as newestQuery } from '@anthropic-ai/claude-agent-sdk';
import { context, trace } from '@opentelemetry/api';
import { generateText, stepCountIs, tool } from 'ai-lowest';
import { MockLanguageModelV3 } from 'ai-lowest/test';
import { query as lowestQuery } from 'claude-agent-sdk-lowest';
import { BaseChatModel } from 'langchain-core-lowest/language_models/chat_models';
import { AIMessage, type BaseMessage, HumanMessage } from 'langchain-core-lowest/messages';
import { RunnableLambda } from 'langchain-core-lowest/runnables';
import { tool as lcTool } from 'langchain-core-lowest/tools';
import { BasicTracerProvider } from 'otel-sdk-trace-base-lowest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { traceAiSdk } from '../../src/integrations/ai-sdk/index.js';
import { traceOptions, traceQuery } from '../../src/integrations/claude-agent-sdk/index.js';
import { AgentTraceCallbackHandler } from '../../src/integrations/langchain/index.js';
import { GenAiSpanProcessor } from '../../src/integrations/otel-genai/index.js';
import { recordAndReadBack } from './support.js';

const FAKE_CLI = fileURLToPath(new URL('./fixtures/fake-claude-code.mjs', import.meta.url));

let dir: string;
let scriptPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lowest-'));
  scriptPath = join(dir, 'script.json');
  await writeFile(
    scriptPath,
    JSON.stringify({
      session_id: 'sess-low',
      model: 'claude-sonnet-4-5',
      turns: [
        {
          id: 'msg_1',
          thinking: 'Look first.',
          text: 'Listing.',
          tools: [
            { id: 'toolu_1', name: 'Bash', input: { command: 'ls' }, result: 'a.ts' },
            { id: 'toolu_2', name: 'WebFetch', input: { url: 'https://example.com' }, result: 'x' },
          ],
        },
        { id: 'msg_2', text: 'Done.' },
      ],
      result: {
        subtype: 'success',
        duration_ms: 900,
        duration_api_ms: 700,
        is_error: false,
        num_turns: 2,
        result: 'Done.',
        total_cost_usd: 0.002,
        usage: { input_tokens: 50, output_tokens: 9 },
      },
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Without seq/ts/duration the events of two runs are comparable. */
const comparable = (events: Record<string, unknown>[]) => events.map(({ duration_ms, ...rest }) => rest);

describe('claude-agent-sdk adapter on @anthropic-ai/claude-agent-sdk 0.1.0 (lowest) and the newest', () => {
  it('records the same events from the same scripted Claude Code', async () => {
    const hooks = {
      PreToolUse: [
        {
          hooks: [
            async (input: { tool_name?: string }) => ({
              hookSpecificOutput: {
                hookEventName: 'PreToolUse' as const,
                permissionDecision: input.tool_name === 'WebFetch' ? ('deny' as const) : ('allow' as const),
                permissionDecisionReason: 'policy',
              },
            }),
          ],
        },
      ],
    };
    const env = { ...process.env, FAKE_CLAUDE_SCRIPT: scriptPath };
    const runs = [];
    for (const query of [lowestQuery, newestQuery] as const) {
      runs.push(
        await recordAndReadBack(async (rec) => {
          const options = traceOptions(rec, { pathToClaudeCodeExecutable: FAKE_CLI, env, hooks });
          for await (const _ of traceQuery(rec, query({ prompt: 'go', options: options as never }))) {
            // drain
          }
        }),
      );
    }
    const [lowest, newest] = runs;
    expect(lowest?.events.map((e) => e['event'])).toEqual([
      'POLICY_DECISION',
      'POLICY_DECISION',
      'TRAJECTORY_TURN',
      'TRAJECTORY_TURN',
      'TRAJECTORY_RESULT',
    ]);
    expect(lowest?.of('TRAJECTORY_TURN')[0]).toMatchObject({
      tool_results: [
        { tool_use_id: 'toolu_1', is_error: false, content: 'a.ts' },
        { tool_use_id: 'toolu_2', is_error: true, content: 'policy' },
      ],
    });
    expect(comparable(lowest?.events ?? [])).toEqual(comparable(newest?.events ?? []));
  });
});

describe('ai-sdk adapter on ai 6.0.0 (lowest: generateText has onFinish since 6.0)', () => {
  it('records the same turns and result', async () => {
    const usage = (input: number, output: number) => ({
      inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: output, text: output, reasoning: 0 },
    });
    const v6 = await recordAndReadBack(async (rec) => {
      const script = [
        {
          content: [
            { type: 'reasoning', text: 'Need the weather.' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: '{"city":"Oslo"}' },
          ],
          finishReason: { unified: 'tool-calls', raw: 'tool_use' },
          usage: usage(10, 4),
          warnings: [],
        },
        {
          content: [{ type: 'text', text: 'Snow in Oslo.' }],
          finishReason: { unified: 'stop', raw: 'end_turn' },
          usage: usage(20, 4),
          warnings: [],
        },
      ] as const;
      let call = 0;
      const model = new MockLanguageModelV3({
        modelId: 'mock-v3',
        doGenerate: async () => structuredClone(script[Math.min(call++, script.length - 1)]!) as never,
      });
      const weather = tool({
        description: 'weather',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => `snow in ${city}`,
      });
      const result = await generateText(
        traceAiSdk(rec, { model, tools: { weather }, stopWhen: stepCountIs(5), prompt: 'weather?' }),
      );
      expect(result.text).toBe('Snow in Oslo.');
    });
    expect(v6.of('TRAJECTORY_TURN')).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        turn: 1,
        model: 'mock-v3',
        thinking: 'Need the weather.',
        text: 'Checking.',
        tool_calls: [{ id: 'c1', name: 'weather', input: { city: 'Oslo' } }],
        tool_results: [{ tool_use_id: 'c1', is_error: false, content: 'snow in Oslo' }],
      },
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        turn: 2,
        model: 'mock-v3',
        text: 'Snow in Oslo.',
        tool_calls: [],
        tool_results: [],
      },
    ]);
    expect(v6.of('TRAJECTORY_RESULT')).toMatchObject([
      {
        subtype: 'success',
        num_turns: 2,
        finish_reason: 'stop',
        usage: expect.objectContaining({ inputTokens: 30, outputTokens: 8, totalTokens: 38 }),
      },
    ]);
  });

  it('params reused for a second run: ai 6 steps carry no number, so turns restart with each run', async () => {
    const back = await recordAndReadBack(async (rec) => {
      const model = new MockLanguageModelV3({
        modelId: 'mock-v3',
        doGenerate: async () =>
          ({
            content: [{ type: 'text', text: 'Done.' }],
            finishReason: { unified: 'stop', raw: 'end_turn' },
            usage: {
              inputTokens: { total: 5, noCache: 5, cacheRead: 0, cacheWrite: 0 },
              outputTokens: { total: 1, text: 1, reasoning: 0 },
            },
            warnings: [],
          }) as never,
      });
      const params = traceAiSdk(rec, { model, stopWhen: stepCountIs(5), prompt: 'x' });
      await generateText(params);
      await generateText(params);
    });
    expect(back.of('TRAJECTORY_TURN').map((t) => t['turn'])).toEqual([1, 1]);
    expect(back.of('TRAJECTORY_RESULT').map((r) => r['num_turns'])).toEqual([1, 1]);
  });
});

describe('otel-genai adapter on @opentelemetry/sdk-trace-base 2.0.0 (lowest)', () => {
  it('records a chat turn, its tool result and the agent result', async () => {
    const back = await recordAndReadBack(async (rec) => {
      const provider = new BasicTracerProvider({ spanProcessors: [new GenAiSpanProcessor(rec)] });
      const tracer = provider.getTracer('t');
      const agent = tracer.startSpan('invoke_agent', {
        attributes: { 'gen_ai.operation.name': 'invoke_agent' },
      });
      const inAgent = trace.setSpan(context.active(), agent);
      const output = [
        { role: 'assistant', parts: [{ type: 'tool_call', id: 't1', name: 'ls', arguments: { dir: '.' } }] },
      ];
      tracer
        .startSpan(
          'chat',
          {
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': 'm',
              'gen_ai.usage.input_tokens': 7,
              'gen_ai.output.messages': JSON.stringify(output),
            },
          },
          inAgent,
        )
        .end();
      tracer
        .startSpan(
          'execute_tool ls',
          {
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.call.id': 't1',
              'gen_ai.tool.call.result': 'a.ts',
            },
          },
          inAgent,
        )
        .end();
      agent.end();
      await provider.shutdown();
    });
    expect(back.events).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        text: '',
        turn: 1,
        model: 'm',
        tool_calls: [{ id: 't1', name: 'ls', input: { dir: '.' } }],
        tool_results: [{ tool_use_id: 't1', is_error: false, content: 'a.ts' }],
      },
      {
        event: 'TRAJECTORY_RESULT',
        subtype: 'success',
        num_turns: 1,
        cost_usd: null,
        duration_ms: expect.any(Number),
        duration_api_ms: null,
        session_id: '',
        usage: { input_tokens: 7, output_tokens: 0 },
      },
    ]);
  });
});

/** A chat model on @langchain/core 1.0.0 that replays scripted messages. */
class ScriptedChatModel extends BaseChatModel {
  #i = 0;
  readonly #script: readonly AIMessage[];
  constructor(script: readonly AIMessage[]) {
    super({});
    this.#script = script;
  }
  _llmType(): string {
    return 'scripted';
  }
  async _generate(): Promise<{ generations: { message: AIMessage; text: string }[] }> {
    const message = this.#script[Math.min(this.#i++, this.#script.length - 1)]!;
    return { generations: [{ message, text: typeof message.content === 'string' ? message.content : '' }] };
  }
}

describe('langchain adapter on @langchain/core 1.0.0 (lowest)', () => {
  it('records the turns, tool results and totals of a tool loop built on core 1.0 runnables', async () => {
    const lookup = lcTool(async ({ id }: { id: string }) => `user ${id}: active`, {
      name: 'lookup_user',
      description: 'look up a user',
      schema: z.object({ id: z.string() }),
    });
    const model = new ScriptedChatModel([
      new AIMessage({
        content: 'Looking up.',
        tool_calls: [{ id: 'call_u', name: 'lookup_user', args: { id: 'u7' }, type: 'tool_call' }],
        usage_metadata: { input_tokens: 11, output_tokens: 3, total_tokens: 14 },
        response_metadata: { model_name: 'scripted-1.0' },
      }),
      new AIMessage({
        content: 'u7 is active.',
        usage_metadata: { input_tokens: 20, output_tokens: 4, total_tokens: 24 },
        response_metadata: { model_name: 'scripted-1.0' },
      }),
    ]);
    const loop = RunnableLambda.from(async (question: string, config) => {
      const messages: BaseMessage[] = [new HumanMessage(question)];
      for (let turn = 0; turn < 4; turn++) {
        const reply = await model.invoke(messages, config);
        messages.push(reply);
        if (!reply.tool_calls?.length) return reply.content;
        for (const call of reply.tool_calls)
          messages.push(await lookup.invoke({ ...call, type: 'tool_call' }, config));
      }
      return 'gave up';
    });
    const back = await recordAndReadBack(async (rec) => {
      expect(await loop.invoke('is u7 active?', { callbacks: [new AgentTraceCallbackHandler(rec)] })).toBe(
        'u7 is active.',
      );
    });
    expect(back.events).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        turn: 1,
        model: 'scripted-1.0',
        text: 'Looking up.',
        tool_calls: [{ id: 'call_u', name: 'lookup_user', input: { id: 'u7' } }],
        tool_results: [{ tool_use_id: 'call_u', is_error: false, content: 'user u7: active' }],
      },
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        turn: 2,
        model: 'scripted-1.0',
        text: 'u7 is active.',
        tool_calls: [],
        tool_results: [],
      },
      {
        event: 'TRAJECTORY_RESULT',
        subtype: 'success',
        num_turns: 2,
        cost_usd: null,
        duration_ms: expect.any(Number),
        duration_api_ms: null,
        session_id: '',
        usage: { input_tokens: 31, output_tokens: 7, total_tokens: 38 },
      },
    ]);
  });
});
