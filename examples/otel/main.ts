/**
 * OpenTelemetry: the SDK uses `@opentelemetry/api` only, so it does nothing until the application
 * registers an SDK. Here the application registers the real one — a tracer provider with an
 * in-memory exporter, a meter provider with a reader we collect from, and the AsyncLocalStorage
 * context manager — then records a task inside an active span and prints what the SDK reported.
 *
 * Run: `pnpm build && node examples/otel/main.ts`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTraceRecorder, fileTransport, readTrace } from '@agent-trace/trace-sdk';
import { type Attributes, context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type CollectionResult,
  DataPointType,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { check, runExample } from '../shared/run.ts';
import { recordCodingTask } from '../shared/trajectory.ts';

const SDK_SCOPE = '@agent-trace/trace-sdk';
/** What the SDK reports (names from packages/trace-sdk/src/telemetry/otel.ts). */
const EXPECTED_METRICS = [
  'agent_trace.events.recorded',
  'agent_trace.events.dropped',
  'agent_trace.redactions',
  'agent_trace.bytes.uncompressed',
  'agent_trace.bytes.uploaded',
  'agent_trace.upload.duration',
];
const EXPECTED_SPAN_ATTRIBUTES = [
  'agent_trace.transport',
  'agent_trace.bytes',
  'agent_trace.attempts',
  'agent_trace.outcome',
];

/** A pull reader: metrics are gathered only when we call `collect()`. */
class OnDemandMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

runExample('otel', async () => {
  // ── the application's OpenTelemetry setup (agent-trace itself depends on the API only) ──────
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new OnDemandMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);

  const dir = await mkdtemp(join(tmpdir(), 'agent-trace-otel-'));
  try {
    const tracer = trace.getTracer('coding-agent');
    // Each task runs inside its own span, as an instrumented agent would.
    const runTask = (taskId: string, maxBytes?: number) =>
      tracer.startActiveSpan('agent.task', { attributes: { 'task.id': taskId } }, async (span) => {
        try {
          const rec = createTraceRecorder({
            userId: 'otel-user-1',
            taskId,
            transport: fileTransport({ dir }),
            spoolDir: join(dir, '.spool'),
            maxBytes,
          });
          recordCodingTask(rec);
          return { result: await rec.finish(), taskSpan: span.spanContext() };
        } finally {
          span.end();
        }
      });
    const { result, taskSpan } = await runTask('01JD4QB0000000000000000001');
    check(result.status === 'uploaded', `upload ${result.status}: ${result.error?.message ?? ''}`);
    // A second task with a tight maxBytes cap, so the dropped-events counter has something to show.
    const capped = await runTask('01JD4QB0000000000000000002', 2048);
    check(capped.result.dropped > 0, 'the 2 KiB cap dropped nothing');

    // ── events carry the ids of the span that was active when they were recorded ────────────
    let events = 0;
    let stamped = 0;
    let header = true;
    for await (const line of readTrace(join(dir, result.key))) {
      if (header) {
        header = false;
        continue;
      }
      events += 1;
      const ids = line as { trace_id?: string; span_id?: string };
      if (ids.trace_id === taskSpan.traceId && ids.span_id === taskSpan.spanId) stamped += 1;
    }
    check(events > 0 && stamped === events, `${stamped} of ${events} events carry the task span's ids`);

    // ── the upload span ───────────────────────────────────────────────────────────────────────
    const upload = spans
      .getFinishedSpans()
      .find((s) => s.name === 'agent_trace.upload' && s.parentSpanContext?.spanId === taskSpan.spanId);
    check(upload !== undefined, 'no agent_trace.upload span was exported under the task span');

    // ── the SDK's metrics ─────────────────────────────────────────────────────────────────────
    const collected = await reader.collect();
    const sdkMetrics = metricsOf(collected, SDK_SCOPE);
    check(sdkMetrics.length > 0, `no metrics from the ${SDK_SCOPE} meter`);
    const names = new Set(sdkMetrics.map((m) => m.descriptor.name));
    const missing = EXPECTED_METRICS.filter((name) => !names.has(name));
    check(missing.length === 0, `metrics missing: ${missing.join(', ')}`);
    const missingAttrs = EXPECTED_SPAN_ATTRIBUTES.filter((name) => upload.attributes[name] === undefined);
    check(missingAttrs.length === 0, `upload span attributes missing: ${missingAttrs.join(', ')}`);

    console.log(
      `every event carries trace_id ${taskSpan.traceId} span_id ${taskSpan.spanId} (${stamped}/${events} events)`,
    );
    console.log(`span ${describeSpan(upload)}`);
    for (const [key, value] of Object.entries(upload.attributes)) console.log(`  ${key} = ${String(value)}`);
    console.log(
      `metrics (${SDK_SCOPE}), two tasks, the second capped at maxBytes 2048 (${capped.result.dropped} events dropped):`,
    );
    for (const metric of sdkMetrics) console.log(`  ${describeMetric(metric)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
    contextManager.disable();
  }
});

function describeSpan(span: ReadableSpan): string {
  const [seconds, nanos] = span.duration;
  const ms = seconds * 1e3 + nanos / 1e6;
  const status = ['UNSET', 'OK', 'ERROR'][span.status.code] ?? String(span.status.code);
  return `${span.name}  status ${status}  ${ms.toFixed(1)} ms  parent ${span.parentSpanContext?.spanId ?? '-'}`;
}

function metricsOf(collected: CollectionResult, scope: string): MetricData[] {
  return collected.resourceMetrics.scopeMetrics
    .filter((s) => s.scope.name === scope)
    .flatMap((s) => s.metrics)
    .sort((a, b) => a.descriptor.name.localeCompare(b.descriptor.name));
}

function describeMetric(metric: MetricData): string {
  const unit = metric.descriptor.unit ? ` ${metric.descriptor.unit}` : '';
  const points = metric.dataPoints.map((point) => {
    const attrs = formatAttributes(point.attributes);
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      const h = point.value as { count: number; sum?: number };
      return `count ${h.count} sum ${(h.sum ?? 0).toFixed(4)}${unit}${attrs}`;
    }
    return `${String(point.value)}${unit}${attrs}`;
  });
  return `${metric.descriptor.name.padEnd(30)} ${points.length > 0 ? points.join('; ') : '(no data)'}`;
}

function formatAttributes(attributes: Attributes): string {
  const entries = Object.entries(attributes);
  return entries.length === 0 ? '' : ` {${entries.map(([k, v]) => `${k}=${String(v)}`).join(', ')}}`;
}
