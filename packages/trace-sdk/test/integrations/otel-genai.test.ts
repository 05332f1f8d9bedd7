/**
 * The OpenTelemetry GenAI adapter on the real `@opentelemetry/sdk-trace-base` pipeline: a small
 * instrumented agent loop emits `invoke_agent` / `chat` / `execute_tool` spans with the GenAI
 * semantic-convention attributes, as instrumented frameworks do; the processor is registered on a
 * `BasicTracerProvider` beside an in-memory exporter. The stored artifact is read back and compared.
 */
import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { TurnInput } from '../../src/index.js';
import { GenAiSpanProcessor, type TraceSink } from '../../src/integrations/otel-genai/index.js';
import { deadTransport, recordAndReadBack, throwingSink } from './support.js';

interface ModelCall {
  readonly text?: string;
  readonly reasoning?: string;
  readonly calls?: readonly {
    id: string;
    name: string;
    args: Record<string, unknown>;
    result: string;
    fails?: boolean;
  }[];
  readonly inputTokens: number;
  readonly outputTokens: number;
}

const SCRIPT: readonly ModelCall[] = [
  {
    reasoning: 'List the bucket, then read the config.',
    text: 'Listing files.',
    calls: [
      { id: 'tc_1', name: 'list_files', args: { dir: 'conf' }, result: 'app.yaml' },
      { id: 'tc_2', name: 'read_file', args: { path: 'conf/app.yaml' }, result: '', fails: true },
    ],
    inputTokens: 50,
    outputTokens: 10,
  },
  { text: 'The config could not be read.', inputTokens: 80, outputTokens: 7 },
];

/** An agent loop instrumented per the GenAI semantic conventions (content capture on). */
async function instrumentedAgent(provider: BasicTracerProvider, script = SCRIPT): Promise<string> {
  const tracer = provider.getTracer('instrumented-agent');
  const agent = tracer.startSpan('invoke_agent ops-bot', {
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'ops-bot',
      'gen_ai.conversation.id': 'conv-9',
    },
  });
  const inAgent = trace.setSpan(context.active(), agent);
  let last = '';
  for (const step of script) {
    const chat: Span = tracer.startSpan(
      'chat gpt-test',
      {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-test',
        },
      },
      inAgent,
    );
    const parts = [
      ...(step.reasoning === undefined ? [] : [{ type: 'reasoning', content: step.reasoning }]),
      ...(step.text === undefined ? [] : [{ type: 'text', content: step.text }]),
      ...(step.calls ?? []).map((c) => ({ type: 'tool_call', id: c.id, name: c.name, arguments: c.args })),
    ];
    chat.setAttributes({
      'gen_ai.response.model': 'gpt-test-2026',
      'gen_ai.usage.input_tokens': step.inputTokens,
      'gen_ai.usage.output_tokens': step.outputTokens,
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts, finish_reason: 'stop' }]),
    });
    chat.end();
    last = step.text ?? '';
    for (const call of step.calls ?? []) {
      const span = tracer.startSpan(
        `execute_tool ${call.name}`,
        {
          attributes: {
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': call.name,
            'gen_ai.tool.call.id': call.id,
            'gen_ai.tool.call.arguments': JSON.stringify(call.args),
          },
        },
        inAgent,
      );
      if (call.fails) {
        span.setAttribute('error.type', 'PermissionError');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'permission denied: conf/app.yaml' });
      } else span.setAttribute('gen_ai.tool.call.result', call.result);
      span.end();
    }
  }
  agent.end();
  return last;
}

describe('otel-genai adapter (real BasicTracerProvider, GenAI semantic-convention spans)', () => {
  it('records turns, tool results and the agent result, beside the existing exporters', async () => {
    const exporter = new InMemorySpanExporter();
    let exported = 0;
    const back = await recordAndReadBack(async (rec) => {
      const provider = new BasicTracerProvider({
        spanProcessors: [new GenAiSpanProcessor(rec), new SimpleSpanProcessor(exporter)],
      });
      await instrumentedAgent(provider);
      await provider.forceFlush();
      exported = exporter.getFinishedSpans().length;
      await provider.shutdown();
    });
    expect(exported).toBe(5); // the other exporter still sees every span
    expect(back.of('TRAJECTORY_TURN')).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        turn: 1,
        model: 'gpt-test-2026',
        thinking: 'List the bucket, then read the config.',
        text: 'Listing files.',
        tool_calls: [
          { id: 'tc_1', name: 'list_files', input: { dir: 'conf' } },
          { id: 'tc_2', name: 'read_file', input: { path: 'conf/app.yaml' } },
        ],
        tool_results: [
          { tool_use_id: 'tc_1', is_error: false, content: 'app.yaml' },
          { tool_use_id: 'tc_2', is_error: true, content: 'permission denied: conf/app.yaml' },
        ],
      },
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        turn: 2,
        model: 'gpt-test-2026',
        text: 'The config could not be read.',
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
        session_id: 'conv-9',
        usage: { input_tokens: 130, output_tokens: 17 },
        agent_name: 'ops-bot',
      },
    ]);
  });

  it('model spans without an agent span are written on forceFlush; non-GenAI spans are ignored', async () => {
    const back = await recordAndReadBack(async (rec) => {
      const provider = new BasicTracerProvider({ spanProcessors: [new GenAiSpanProcessor(rec)] });
      const tracer = provider.getTracer('t');
      tracer.startSpan('GET /health').end();
      tracer
        .startSpan('chat', { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' } })
        .end();
      await provider.forceFlush();
      await provider.shutdown();
    });
    expect(back.events).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        thinking: '',
        text: '',
        turn: 1,
        model: 'm',
        tool_calls: [],
        tool_results: [],
      },
    ]);
  });

  it('a run without an agent span is written when its root span ends; concurrent runs stay open', async () => {
    // Two tasks at once on one provider, routed per trace; chat-only instrumentation under each
    // task's own root span, as instrumentations that emit no invoke_agent span produce.
    const turns = new Map<string, TurnInput[]>();
    const routes = new Map<string, TraceSink>();
    const provider = new BasicTracerProvider({
      spanProcessors: [new GenAiSpanProcessor((span) => routes.get(span.spanContext().traceId))],
    });
    const tracer = provider.getTracer('t');
    const task = (name: string) => {
      const list: TurnInput[] = [];
      turns.set(name, list);
      const root = tracer.startSpan(`task ${name}`);
      routes.set(root.spanContext().traceId, {
        record: () => true,
        recordTurn: (t) => list.push(t) > 0,
        recordResult: () => true,
        recordPolicyDecision: () => true,
      });
      const inRoot = trace.setSpan(context.active(), root);
      const span = (attributes: Record<string, string>) =>
        tracer.startSpan('s', { attributes }, inRoot).end();
      return {
        chat: () =>
          span({
            'gen_ai.operation.name': 'chat',
            'gen_ai.request.model': `m-${name}`,
            'gen_ai.output.messages': JSON.stringify([
              {
                role: 'assistant',
                parts: [{ type: 'tool_call', id: `c-${name}`, name: 'ls', arguments: '{}' }],
              },
            ]),
          }),
        tool: () =>
          span({
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': 'ls',
            'gen_ai.tool.call.id': `c-${name}`,
            'gen_ai.tool.call.result': `files of ${name}`,
          }),
        end: () => root.end(),
      };
    };
    const a = task('a');
    const b = task('b');
    a.chat();
    b.chat();
    a.tool();
    a.end();
    const oneTurn = (name: string) => [
      {
        turn: 1,
        model: `m-${name}`,
        thinking: undefined,
        text: undefined,
        toolCalls: [{ id: `c-${name}`, name: 'ls', input: {} }],
        toolResults: [{ toolUseId: `c-${name}`, isError: false, content: `files of ${name}` }],
      },
    ];
    expect(turns.get('a')).toEqual(oneTurn('a')); // no forceFlush needed
    expect(turns.get('b')).toEqual([]); // b's turn still waits for its tool result
    b.tool();
    b.end();
    expect(turns.get('b')).toEqual(oneTurn('b'));
    await provider.shutdown();
    expect(turns.get('a')).toHaveLength(1);
  });

  it('spans under a remote parent (a propagated trace context) stay one run', async () => {
    const back = await recordAndReadBack(async (rec) => {
      const provider = new BasicTracerProvider({ spanProcessors: [new GenAiSpanProcessor(rec)] });
      const tracer = provider.getTracer('t');
      const remote = trace.setSpanContext(context.active(), {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: 1,
        isRemote: true,
      });
      tracer
        .startSpan(
          'chat',
          {
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': 'm',
              'gen_ai.output.messages': JSON.stringify([
                { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'ls', arguments: '{}' }] },
              ]),
            },
          },
          remote,
        )
        .end();
      tracer
        .startSpan(
          'execute_tool ls',
          {
            attributes: {
              'gen_ai.operation.name': 'execute_tool',
              'gen_ai.tool.name': 'ls',
              'gen_ai.tool.call.id': 'c1',
              'gen_ai.tool.call.result': 'a.ts',
            },
          },
          remote,
        )
        .end();
      await provider.shutdown();
    });
    expect(back.of('TRAJECTORY_TURN')).toMatchObject([
      {
        turn: 1,
        tool_calls: [{ id: 'c1', name: 'ls' }],
        tool_results: [{ tool_use_id: 'c1', content: 'a.ts' }],
      },
    ]);
  });

  it('never throws into the instrumented code', async () => {
    const errors: unknown[] = [];
    const provider = new BasicTracerProvider({
      spanProcessors: [new GenAiSpanProcessor(throwingSink, { onError: (e) => errors.push(e) })],
    });
    await expect(instrumentedAgent(provider)).resolves.toBe('The config could not be read.');
    await provider.shutdown();
    expect(errors).toHaveLength(3);

    const dead = await recordAndReadBack(
      async (rec) => {
        const p = new BasicTracerProvider({ spanProcessors: [new GenAiSpanProcessor(rec)] });
        await instrumentedAgent(p);
        await p.shutdown();
      },
      { transport: deadTransport() },
    );
    expect(dead.result.status).toBe('failed');

    const processor = new GenAiSpanProcessor(throwingSink);
    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile getter');
        },
      },
    ) as never;
    expect(() => processor.onEnd(trap)).not.toThrow();
    const span = (attributes: Record<string, unknown>) => ({
      name: 'x',
      attributes,
      status: { code: 0 },
      duration: [0, 0] as const,
      spanContext: () => ({ traceId: 't', spanId: 's' }),
    });
    for (const attributes of [
      { 'gen_ai.operation.name': 'chat', 'gen_ai.output.messages': '{not json' },
      { 'gen_ai.operation.name': 'chat', 'gen_ai.output.messages': [trap] },
      { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.result': trap },
      { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 'many' },
    ])
      expect(() => processor.onEnd(span(attributes))).not.toThrow();
  });
});
