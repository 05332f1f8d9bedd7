import { context, metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type CollectionResult,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTraceRecorder, UploadError } from '../src/index.js';
import { failingTransport, memoryTransport, readBack, tempDir } from './recorder-support.js';

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const reader = new OnDemandReader();
const tracer = () => trace.getTracer('agent-under-test');

let spoolDir: string;
let cleanup: () => Promise<void>;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

afterAll(() => {
  trace.disable();
  context.disable();
  metrics.disable();
});

beforeEach(async () => {
  ({ dir: spoolDir, cleanup } = await tempDir());
  spans.reset();
});

afterEach(async () => {
  await cleanup();
});

function metricsByName(result: CollectionResult): Map<string, MetricData> {
  const out = new Map<string, MetricData>();
  for (const scope of result.resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== '@agent-trace/trace-sdk') continue;
    for (const m of scope.metrics) out.set(m.descriptor.name, m);
  }
  return out;
}

function sum(m: MetricData | undefined): number {
  return (m?.dataPoints ?? []).reduce((n, p) => n + (typeof p.value === 'number' ? p.value : 0), 0);
}

describe('OpenTelemetry ids on events', () => {
  it('stamps trace_id and span_id of the active span, and leaves them out otherwise', async () => {
    const transport = memoryTransport();
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir });
    rec.record({ event: 'BEFORE' });
    const ids = tracer().startActiveSpan('agent.task', (outer) => {
      rec.record({ event: 'IN_OUTER', trace_id: 'user-supplied' });
      const inner = tracer().startActiveSpan('agent.turn', (span) => {
        rec.record({ event: 'IN_INNER' });
        span.end();
        return span.spanContext();
      });
      outer.end();
      return { outer: outer.spanContext(), inner };
    });
    rec.record({ event: 'AFTER', trace_id: 'abc', span_id: 'def' });
    await rec.finish();
    const { events } = await readBack(transport.uploads[0]!.body);
    const byName = Object.fromEntries(events.map((e) => [e['event'], e]));
    expect(byName['BEFORE']).not.toHaveProperty('trace_id');
    expect(byName['BEFORE']).not.toHaveProperty('span_id');
    expect(byName['IN_OUTER']).toMatchObject({ trace_id: ids.outer.traceId, span_id: ids.outer.spanId });
    expect(byName['IN_INNER']).toMatchObject({ trace_id: ids.inner.traceId, span_id: ids.inner.spanId });
    expect(ids.inner.traceId).toBe(ids.outer.traceId);
    expect(ids.inner.spanId).not.toBe(ids.outer.spanId);
    // Without an active span, ids an event carries itself are kept as written.
    expect(byName['AFTER']).toMatchObject({ trace_id: 'abc', span_id: 'def' });
  });

  it('follows the active span across awaits (AsyncLocalStorage context)', async () => {
    const transport = memoryTransport();
    const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir });
    const spanId = await tracer().startActiveSpan('agent.task', async (span) => {
      await new Promise((r) => setTimeout(r, 1));
      rec.record({ event: 'LATER' });
      span.end();
      return span.spanContext().spanId;
    });
    await rec.finish();
    const { events } = await readBack(transport.uploads[0]!.body);
    expect(events[0]?.['span_id']).toBe(spanId);
  });
});

describe('OpenTelemetry upload span and metrics', () => {
  it('wraps the upload in an agent_trace.upload span with transport, bytes, attempts and outcome', async () => {
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: memoryTransport('mem'),
      spoolDir,
    });
    rec.record({ event: 'E' });
    const result = await rec.finish();
    const span = spans.getFinishedSpans().find((s) => s.name === 'agent_trace.upload');
    expect(span?.attributes).toEqual({
      'agent_trace.transport': 'mem',
      'agent_trace.bytes': result.bytes,
      'agent_trace.attempts': 1,
      'agent_trace.outcome': 'uploaded',
    });
    expect(span?.status.code).toBe(SpanStatusCode.OK);
  });

  it('marks a failed upload on the span with its attempts', async () => {
    const error = new UploadError('ERR_UPLOAD_HTTP', 'server said 500', { status: 500, attempts: 3 });
    const rec = createTraceRecorder({
      userId: 'u',
      taskId: 't',
      transport: failingTransport(error),
      spoolDir,
    });
    await rec.finish();
    const span = spans.getFinishedSpans().find((s) => s.name === 'agent_trace.upload');
    expect(span?.attributes).toMatchObject({ 'agent_trace.attempts': 3, 'agent_trace.outcome': 'failed' });
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('reports events, drops, redactions, bytes in/out, upload duration and failures', async () => {
    const before = metricsByName(await reader.collect());
    const ok = createTraceRecorder({
      userId: 'u',
      taskId: 'ok',
      transport: memoryTransport(),
      spoolDir,
      maxBytes: 400,
    });
    for (let i = 0; i < 10; i++)
      ok.record({ event: 'E', i, pad: 'p'.repeat(50), key: i === 0 ? `AKIA${'IOSFODNN7EXAMPLE'}` : '' });
    const okResult = await ok.finish();
    const bad = createTraceRecorder({
      userId: 'u',
      taskId: 'bad',
      transport: failingTransport(new UploadError('ERR_UPLOAD_HTTP', 'no')),
      spoolDir,
    });
    bad.record({ event: 'E' });
    const badResult = await bad.finish();
    const after = metricsByName(await reader.collect());
    const delta = (name: string) => sum(after.get(name)) - sum(before.get(name));
    const stats = ok.stats();
    expect(delta('agent_trace.events.recorded')).toBe(stats.events + badResult.events);
    expect(delta('agent_trace.events.dropped')).toBe(stats.dropped);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(delta('agent_trace.redactions')).toBe(1);
    expect(delta('agent_trace.bytes.uncompressed')).toBe(
      okResult.uncompressedBytes + badResult.uncompressedBytes,
    );
    expect(delta('agent_trace.bytes.uploaded')).toBe(okResult.bytes);
    expect(delta('agent_trace.upload.failures')).toBe(1);
    const duration = after.get('agent_trace.upload.duration');
    const count = (duration?.dataPoints ?? []).reduce(
      (n, p) => n + ((p.value as { count?: number }).count ?? 0),
      0,
    );
    expect(count).toBeGreaterThanOrEqual(2);
  });
});
