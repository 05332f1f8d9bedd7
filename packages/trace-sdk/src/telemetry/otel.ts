/**
 * OpenTelemetry integration through `@opentelemetry/api` only: every call here is a no-op until
 * the application registers an SDK. The one place the SDK touches OTel; other modules call these.
 *
 * @packageDocumentation
 */
import { type Attributes, metrics, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { SDK_NAME, SDK_VERSION } from '../version.js';

const tracer = () => trace.getTracer(SDK_NAME, SDK_VERSION);
// Resolved lazily and cached per MeterProvider, so an SDK registered after import still gets the data.
let cachedProvider: unknown;
let cached: ReturnType<typeof createInstruments> | undefined;

function createInstruments() {
  const meter = metrics.getMeter(SDK_NAME, SDK_VERSION);
  return {
    eventsRecorded: meter.createCounter('agent_trace.events.recorded', {
      description: 'Events written to a trace',
    }),
    eventsDropped: meter.createCounter('agent_trace.events.dropped', {
      description: 'Events dropped by the maxBytes cap or the per-event limit',
    }),
    redactions: meter.createCounter('agent_trace.redactions', {
      description: 'Secrets replaced by redaction',
    }),
    bytesIn: meter.createCounter('agent_trace.bytes.uncompressed', {
      unit: 'By',
      description: 'Uncompressed JSONL bytes kept',
    }),
    bytesOut: meter.createCounter('agent_trace.bytes.uploaded', {
      unit: 'By',
      description: 'Compressed artifact bytes uploaded',
    }),
    uploadDuration: meter.createHistogram('agent_trace.upload.duration', {
      unit: 's',
      description: 'Wall time of one artifact upload, retries included',
    }),
    uploadFailures: meter.createCounter('agent_trace.upload.failures', {
      description: 'Artifacts whose upload failed (and were spooled)',
    }),
  };
}

/** The SDK's metric instruments (no-ops without a registered MeterProvider). */
export function instruments(): ReturnType<typeof createInstruments> {
  const provider = metrics.getMeterProvider();
  if (cached === undefined || provider !== cachedProvider) {
    cachedProvider = provider;
    cached = createInstruments();
  }
  return cached;
}

/** The active span's ids, for stamping onto events; `undefined` when no valid span is active. */
export function activeSpanIds(): { traceId: string; spanId: string } | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const ctx = span.spanContext();
  if (!trace.isSpanContextValid(ctx)) return undefined;
  return { traceId: ctx.traceId, spanId: ctx.spanId };
}

/**
 * Runs `fn` inside a span named `name`, ending it with OK or ERROR status. Attributes must never
 * carry URLs with query strings, grants or credentials.
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await fn(span);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  });
}
