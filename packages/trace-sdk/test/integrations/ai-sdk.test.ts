/**
 * The AI SDK adapter against the real `ai` package: `generateText` / `streamText` run their own
 * tool loop (`stopWhen: stepCountIs(n)`) over the SDK's `MockLanguageModelV4` (from `ai/test`),
 * which plays a scripted conversation; real tools execute (one throws). The stored artifact is
 * read back and compared with the script.
 */
import { generateText, stepCountIs, streamText, ToolLoopAgent, tool } from 'ai';
import { MockLanguageModelV4, simulateReadableStream } from 'ai/test';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { recordAiSdkStep, traceAiSdk } from '../../src/integrations/ai-sdk/index.js';
import { deadTransport, recordAndReadBack, throwingSink } from './support.js';

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});
const finish = (unified: 'stop' | 'tool-calls') => ({ unified, raw: unified });

/** Step 1: think, say, call two tools. Step 2: the final answer. */
function scriptedModel() {
  return new MockLanguageModelV4({
    modelId: 'mock-model-1',
    doGenerate: [
      {
        content: [
          { type: 'reasoning', text: 'Check the weather, then the calendar.' },
          { type: 'text', text: 'Looking it up.' },
          { type: 'tool-call', toolCallId: 'call_1', toolName: 'weather', input: '{"city":"Paris"}' },
          { type: 'tool-call', toolCallId: 'call_2', toolName: 'calendar', input: '{"day":"monday"}' },
        ],
        finishReason: finish('tool-calls'),
        usage: usage(100, 20),
        warnings: [],
      },
      {
        content: [{ type: 'text', text: 'Sunny in Paris; your calendar is unavailable.' }],
        finishReason: finish('stop'),
        usage: usage(160, 12),
        warnings: [],
      },
    ],
  });
}

const tools = {
  weather: tool({
    description: 'weather for a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, sky: 'sunny', celsius: 21 }),
  }),
  calendar: tool({
    description: 'calendar for a day',
    inputSchema: z.object({ day: z.string() }),
    execute: async (): Promise<string> => {
      throw new Error('calendar backend down');
    },
  }),
};

const EXPECTED_TURNS = [
  {
    event: 'TRAJECTORY_TURN',
    turn: 1,
    model: 'mock-model-1',
    thinking: 'Check the weather, then the calendar.',
    text: 'Looking it up.',
    tool_calls: [
      { id: 'call_1', name: 'weather', input: { city: 'Paris' } },
      { id: 'call_2', name: 'calendar', input: { day: 'monday' } },
    ],
    tool_results: [
      { tool_use_id: 'call_1', is_error: false, content: '{"city":"Paris","sky":"sunny","celsius":21}' },
      { tool_use_id: 'call_2', is_error: true, content: 'Error: calendar backend down' },
    ],
  },
  {
    event: 'TRAJECTORY_TURN',
    thinking: '',
    turn: 2,
    model: 'mock-model-1',
    text: 'Sunny in Paris; your calendar is unavailable.',
    tool_calls: [],
    tool_results: [],
  },
];

function expectResult(events: Record<string, unknown>[]) {
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    event: 'TRAJECTORY_RESULT',
    subtype: 'success',
    finish_reason: 'stop',
    num_turns: 2,
    usage: expect.objectContaining({ inputTokens: 260, outputTokens: 32, totalTokens: 292 }),
    // Every field the Python agent writes, so Python consumers indexing them meet no KeyError.
    cost_usd: null,
    duration_api_ms: null,
    session_id: '',
  });
  expect(events[0]?.['duration_ms']).toEqual(expect.any(Number));
}

describe('ai-sdk adapter (real generateText/streamText tool loop over MockLanguageModelV4)', () => {
  it('generateText: one turn per step, tool results and errors, and the totals', async () => {
    let text = '';
    const userSteps: number[] = [];
    const back = await recordAndReadBack(async (rec) => {
      const result = await generateText(
        traceAiSdk(rec, {
          model: scriptedModel(),
          tools,
          stopWhen: stepCountIs(5),
          prompt: 'weather and calendar?',
          onStepFinish: (step) => {
            userSteps.push(step.stepNumber);
          },
        }),
      );
      text = result.text;
    });
    expect(text).toBe('Sunny in Paris; your calendar is unavailable.');
    expect(userSteps).toEqual([0, 1]); // the caller's own callback still runs
    expect(back.of('TRAJECTORY_TURN')).toEqual(EXPECTED_TURNS);
    expectResult(back.of('TRAJECTORY_RESULT'));
  });

  it('streamText and a ToolLoopAgent record the same trajectory', async () => {
    const streamed = await recordAndReadBack(async (rec) => {
      const model = scriptedModel();
      // Serve the same script as streams.
      const generate = model.doGenerate;
      model.doStream = async (options) => {
        const r = await generate(options);
        const parts: unknown[] = [{ type: 'stream-start', warnings: [] }];
        r.content.forEach((c, i) => {
          if (c.type === 'text')
            parts.push(
              { type: 'text-start', id: `t${i}` },
              { type: 'text-delta', id: `t${i}`, delta: c.text },
              { type: 'text-end', id: `t${i}` },
            );
          else if (c.type === 'reasoning')
            parts.push(
              { type: 'reasoning-start', id: `r${i}` },
              { type: 'reasoning-delta', id: `r${i}`, delta: c.text },
              { type: 'reasoning-end', id: `r${i}` },
            );
          else parts.push(c);
        });
        parts.push({ type: 'finish', finishReason: r.finishReason, usage: r.usage });
        return { stream: simulateReadableStream({ chunks: parts as never[] }) };
      };
      const result = streamText(
        traceAiSdk(rec, { model, tools, stopWhen: stepCountIs(5), prompt: 'weather?' }),
      );
      expect(await result.text).toBe('Sunny in Paris; your calendar is unavailable.');
    });
    expect(streamed.of('TRAJECTORY_TURN')).toEqual(EXPECTED_TURNS);
    expectResult(streamed.of('TRAJECTORY_RESULT'));

    const agentRun = await recordAndReadBack(async (rec) => {
      const agent = new ToolLoopAgent(
        traceAiSdk(rec, { model: scriptedModel(), tools, stopWhen: stepCountIs(5) }),
      );
      await agent.generate({ prompt: 'weather?' });
    });
    expect(agentRun.of('TRAJECTORY_TURN')).toEqual(EXPECTED_TURNS);
    expectResult(agentRun.of('TRAJECTORY_RESULT'));
  });

  it('a loop cut short by stopWhen is error_max_turns', async () => {
    const back = await recordAndReadBack(async (rec) => {
      await generateText(
        traceAiSdk(rec, { model: scriptedModel(), tools, stopWhen: stepCountIs(1), prompt: 'x' }),
      );
    });
    expect(back.of('TRAJECTORY_TURN')).toHaveLength(1);
    expect(back.of('TRAJECTORY_RESULT')[0]).toMatchObject({
      subtype: 'error_max_turns',
      finish_reason: 'tool-calls',
      num_turns: 1,
    });
  });

  it('a ToolLoopAgent reused for two runs: each result times and counts its own run', async () => {
    const pause = () => new Promise((resolve) => setTimeout(resolve, 700));
    const back = await recordAndReadBack(async (rec) => {
      const answer = new MockLanguageModelV4({
        modelId: 'mock-model-1',
        doGenerate: async () => ({
          content: [{ type: 'text', text: 'Done.' }],
          finishReason: finish('stop'),
          usage: usage(10, 2),
          warnings: [],
        }),
      });
      const agent = new ToolLoopAgent(traceAiSdk(rec, { model: answer, stopWhen: stepCountIs(5) }));
      await pause(); // the agent is built before the task's input arrives
      await agent.generate({ prompt: 'first' });
      await pause(); // waiting for the follow-up
      await agent.generate({ prompt: 'second' });
    });
    expect(back.of('TRAJECTORY_TURN').map((t) => t['turn'])).toEqual([1, 1]);
    const results = back.of('TRAJECTORY_RESULT');
    expect(results.map((r) => r['num_turns'])).toEqual([1, 1]);
    // A mock run takes milliseconds; the pauses before each run are not part of it.
    for (const r of results) expect(r['duration_ms']).toBeLessThan(700);
  });

  it("the caller's prepareStep still runs and decides the step", async () => {
    const other = new MockLanguageModelV4({
      modelId: 'other-model',
      doGenerate: async () => ({
        content: [{ type: 'text', text: 'From the other model.' }],
        finishReason: finish('stop'),
        usage: usage(1, 1),
        warnings: [],
      }),
    });
    const seen: number[] = [];
    const back = await recordAndReadBack(async (rec) => {
      const result = await generateText(
        traceAiSdk(rec, {
          model: scriptedModel(),
          prompt: 'x',
          prepareStep: (step: { stepNumber: number }) => {
            seen.push(step.stepNumber);
            return { model: other };
          },
        }),
      );
      expect(result.text).toBe('From the other model.');
    });
    expect(seen).toEqual([0]);
    expect(back.of('TRAJECTORY_TURN')).toMatchObject([{ turn: 1, model: 'other-model' }]);
  });

  it('never throws into the loop and never changes what the SDK returns', async () => {
    const plain = await generateText({
      model: scriptedModel(),
      tools,
      stopWhen: stepCountIs(5),
      prompt: 'x',
    });
    const errors: unknown[] = [];
    const traced = await generateText(
      traceAiSdk(
        throwingSink,
        { model: scriptedModel(), tools, stopWhen: stepCountIs(5), prompt: 'x' },
        { onError: (e) => errors.push(e) },
      ),
    );
    expect(traced.text).toBe(plain.text);
    expect(traced.steps.map((s) => s.toolResults.length)).toEqual(
      plain.steps.map((s) => s.toolResults.length),
    );
    expect(errors).toHaveLength(3); // two turns and the result, each swallowed

    const dead = await recordAndReadBack(
      async (rec) => {
        const r = await generateText(
          traceAiSdk(rec, { model: scriptedModel(), tools, stopWhen: stepCountIs(5), prompt: 'x' }),
        );
        expect(r.text).toBe(plain.text);
      },
      { transport: deadTransport() },
    );
    expect(dead.result.status).toBe('failed');

    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile getter');
        },
      },
    );
    for (const step of [
      null,
      'x',
      trap,
      { toolCalls: [trap], content: [trap] },
      { stepNumber: Number.NaN, toolCalls: 'no' },
    ]) {
      expect(() => recordAiSdkStep(throwingSink, step)).not.toThrow();
    }
  });
});
