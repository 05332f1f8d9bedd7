/**
 * Record any framework that emits OpenTelemetry GenAI spans (`gen_ai.*`) with the span processor
 * from `@agent-trace/trace-sdk/otel-genai`. The integration is `runAgent` below: three lines
 * (register the processor beside your exporters, flush before finishing).
 *
 * Offline: a small agent loop instrumented per the GenAI semantic conventions stands in for an
 * instrumented framework; the trace goes to a SigV4-verifying local S3 through a presigned PUT URL.
 *
 * Run: `pnpm build && node examples/integrations/otel-genai/main.ts`
 */
import { createTraceRecorder, type TraceTransport } from '@agent-trace/trace-sdk';
import { GenAiSpanProcessor } from '@agent-trace/trace-sdk/otel-genai';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { runIntegrationExample, USER_ID } from '../shared.ts';

const TASK_ID = '01JD4Q9Z6XKQ2V8N5R3T7W1Y1C';

async function runAgent(transport: TraceTransport) {
  const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport });
  const provider = new BasicTracerProvider({ spanProcessors: [new GenAiSpanProcessor(rec)] });
  await instrumentedAgent(provider);
  await provider.forceFlush();
  return rec.finish();
}

// ── an agent loop instrumented with GenAI semantic-convention spans (your framework's job) ─────
const STEPS = [
  {
    text: 'Checking disk usage.',
    call: { id: 'tc_1', name: 'df', args: { path: '/var' }, result: '/var 97% used' },
  },
  {
    text: 'Finding what grew.',
    call: { id: 'tc_2', name: 'du', args: { path: '/var/log' }, error: 'EACCES' },
  },
  { text: '/var is 97% full; /var/log needs root to inspect.' },
];

async function instrumentedAgent(provider: BasicTracerProvider): Promise<void> {
  const tracer = provider.getTracer('ops-bot');
  const agentSpan = tracer.startSpan('invoke_agent ops-bot', {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'ops-bot' },
  });
  const inAgent = trace.setSpan(context.active(), agentSpan);
  for (const [i, step] of STEPS.entries()) {
    const parts: unknown[] = [{ type: 'text', content: step.text }];
    if (step.call)
      parts.push({ type: 'tool_call', id: step.call.id, name: step.call.name, arguments: step.call.args });
    tracer
      .startSpan(
        'chat scripted-model',
        {
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.request.model': 'scripted-model',
            'gen_ai.usage.input_tokens': 100 + 40 * i,
            'gen_ai.usage.output_tokens': 12,
            'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts }]),
          },
        },
        inAgent,
      )
      .end();
    if (!step.call) continue;
    const tool = tracer.startSpan(
      `execute_tool ${step.call.name}`,
      {
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': step.call.name,
          'gen_ai.tool.call.id': step.call.id,
        },
      },
      inAgent,
    );
    if ('error' in step.call) tool.setStatus({ code: SpanStatusCode.ERROR, message: step.call.error });
    else tool.setAttribute('gen_ai.tool.call.result', step.call.result);
    tool.end();
  }
  agentSpan.end();
}

runIntegrationExample('otel-genai', TASK_ID, runAgent, { turns: 3, toolCalls: 2, subtype: 'success' });
