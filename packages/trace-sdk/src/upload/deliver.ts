/**
 * The one delivery boundary. `finish()` and `uploadSpooled()` both hand an artifact to a transport
 * through {@link deliver}, which owns what every delivery needs exactly once: the deadline and the
 * caller's abort, the `agent_trace.upload` span and the upload metrics, attempt counting, the error
 * classification (so a custom transport's plain error means the same thing wherever it surfaces),
 * and keeping the artifact when delivery fails, through an injected {@link ArtifactStore} (as Sentry's
 * offline transport is handed its store): upload/ never imports spool/.
 *
 * Nothing outside this module sees a transport's raw error: the span, the metrics, the result and
 * the store all get the classified, sanitized {@link UploadError}.
 *
 * @packageDocumentation
 */
import { performance } from 'node:perf_hooks';
import type { Span } from '@opentelemetry/api';
import { SpoolError, type TraceError, UploadError } from '../errors.js';
import { describeUrl, safeCause, safeErrorMessage } from '../sanitize.js';
import { inSpan, instruments } from '../telemetry/otel.js';
import { abortedError, classifyUploadError } from './classify.js';
import { DEFAULT_RETRY_POLICY } from './retry.js';
import type { TraceArtifact, TraceTransport, UploadReceipt } from './types.js';
import { untilAborted } from './until-aborted.js';

/**
 * Default bound on one delivery when the caller gives none: the retry policy's own deadline plus a
 * grace, so a transport or provider that never answers cannot keep `finish()` pending forever.
 */
export const DEFAULT_DELIVERY_TIMEOUT_MS = DEFAULT_RETRY_POLICY.deadlineMs + 10_000;
/** Longest delay a Node timer can hold (about 24.8 days); longer bounds mean "no bound". */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a delivery failed, as handed to an {@link ArtifactStore}. */
export interface DeliveryFailure {
  /** The classified error; its message is safe to store and log. */
  readonly error: UploadError;
  /** Attempts made. */
  readonly attempts: number;
  /** Name of the transport that failed. */
  readonly transport: string;
}

/** Where an artifact goes when its delivery fails (the spool directory, for the recorder). */
export interface ArtifactStore {
  /** Where it keeps artifacts, for messages (e.g. the spool directory). */
  readonly location?: string | undefined;
  /**
   * Keeps `artifact` for a later delivery and returns where it is.
   * @throws when it cannot be kept; the failure is then reported with the delivery's error.
   */
  keep(artifact: TraceArtifact, failure: DeliveryFailure): Promise<string | undefined>;
}

/** Options of {@link deliver}. */
export interface DeliverOptions {
  /** Cancels the delivery (`ERR_UPLOAD_ABORTED`). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Upper bound in ms (`ERR_UPLOAD_DEADLINE`); default {@link DEFAULT_DELIVERY_TIMEOUT_MS}, `Infinity`
   * for none. Zero, negative or NaN means "no time left": nothing is attempted and the artifact goes
   * straight to the store.
   */
  readonly timeoutMs?: number | undefined;
  /** Keeps the artifact when delivery fails. Without one, a failed artifact is the caller's to keep. */
  readonly store?: ArtifactStore | undefined;
  /**
   * Whether the time bound keeps the process alive until it fires (default true). A caller awaiting
   * the result (`finish()`, a flush) needs it: a transport whose promise holds no handle (a provider
   * waiting on nothing) would otherwise let the process exit with the delivery pending and the
   * artifact never kept. Background work (checkpoints) passes false.
   */
  readonly keepAlive?: boolean | undefined;
}

/** What {@link deliver} reports. Never rejects. */
export type Delivery =
  | {
      readonly status: 'uploaded';
      readonly receipt: UploadReceipt;
      /** Attempts made, counting the successful one. */
      readonly attempts: number;
    }
  | {
      readonly status: 'failed';
      /** Classified and sanitized: an {@link UploadError}, or a {@link SpoolError}-caused one when keeping failed too. */
      readonly error: TraceError;
      /** Attempts made (0 when there was no time for one). */
      readonly attempts: number;
      /** Where the store kept the artifact. */
      readonly keptAt?: string | undefined;
    };

/** Delivers `artifact` through `transport`; see the module comment. */
export async function deliver(
  transport: TraceTransport,
  artifact: TraceArtifact,
  opts: DeliverOptions = {},
): Promise<Delivery> {
  const name = safeName(transport);
  const bound = deliveryBound(opts);
  const m = instruments();
  const metricAttrs = { 'agent_trace.transport': name };
  const started = performance.now();
  let outcome: { receipt: UploadReceipt; attempts: number } | { error: UploadError; attempts: number };
  try {
    outcome = await inSpan(
      'agent_trace.upload',
      {
        'agent_trace.transport': name,
        'agent_trace.bytes': artifact.byteLength,
        // The legacy transport holds a bucket-wide grant: say so wherever the upload is seen.
        ...(transport.bucketWide === true ? { 'agent_trace.legacy': true } : {}),
      },
      (span) => attempt(transport, name, artifact, bound, span),
    );
  } catch (err) {
    outcome =
      err instanceof SpanFailure ? err.outcome : { error: classifyUploadError(err, name), attempts: 1 };
  } finally {
    bound.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  try {
    const outcomeAttr = 'receipt' in outcome ? 'uploaded' : 'failed';
    m.uploadDuration.record(seconds, { ...metricAttrs, 'agent_trace.outcome': outcomeAttr });
    if ('receipt' in outcome) m.bytesOut.add(artifact.byteLength, metricAttrs);
    else m.uploadFailures.add(1, metricAttrs);
  } catch {
    // Metrics are best effort.
  }
  if ('receipt' in outcome) return { status: 'uploaded', ...outcome };
  return keep(opts.store, artifact, { error: outcome.error, attempts: outcome.attempts, transport: name });
}

/** One transport call inside the span; the span only ever sees the classified error. */
async function attempt(
  transport: TraceTransport,
  name: string,
  artifact: TraceArtifact,
  bound: Bound,
  span: Span,
): Promise<{ receipt: UploadReceipt; attempts: number } | { error: UploadError; attempts: number }> {
  let result: { receipt: UploadReceipt; attempts: number } | { error: UploadError; attempts: number };
  if (bound.signal.aborted) {
    result = {
      error: bound.stopped(name, undefined) ?? classifyUploadError(bound.signal.reason, name),
      attempts: 0,
    };
  } else {
    try {
      // Promise.resolve().then: a transport that throws synchronously is classified like any other.
      const upload = Promise.resolve().then(() => transport.upload(artifact, { signal: bound.signal }));
      const receipt = safeReceipt(await untilAborted(upload, bound.signal));
      result = { receipt, attempts: positive(receipt?.attempts) ?? 1 };
    } catch (err) {
      const error = bound.stopped(name, err) ?? classifyUploadError(err, name, bound.signal);
      result = { error, attempts: positive(error.attempts) ?? attemptsOf(err) };
    }
  }
  span.setAttribute('agent_trace.attempts', result.attempts);
  span.setAttribute('agent_trace.outcome', 'receipt' in result ? 'uploaded' : 'failed');
  if ('error' in result) {
    span.setAttribute('agent_trace.error_code', result.error.code);
    // inSpan records the exception and status from this, already sanitized.
    throw new SpanFailure(result);
  }
  return result;
}

/**
 * The receipt with a `uri` that carries a query string or user info (a custom transport returning
 * the presigned URL it used) reduced by {@link describeUrl}: the result is logged as it is.
 */
function safeReceipt(receipt: UploadReceipt): UploadReceipt {
  try {
    const uri: unknown = receipt?.uri;
    if (typeof uri !== 'string' || !/[?@]/.test(uri)) return receipt;
    return { ...receipt, uri: describeUrl(uri) };
  } catch {
    return receipt;
  }
}

/** Carries a classified failure out of the span callback so the span ends with ERROR status. */
class SpanFailure extends Error {
  readonly outcome: { error: UploadError; attempts: number };
  constructor(outcome: { error: UploadError; attempts: number }) {
    super(outcome.error.message);
    this.name = outcome.error.name;
    this.outcome = outcome;
  }
}

async function keep(
  store: ArtifactStore | undefined,
  artifact: TraceArtifact,
  failure: DeliveryFailure,
): Promise<Delivery> {
  const base = { status: 'failed' as const, error: failure.error, attempts: failure.attempts };
  if (store === undefined) return base;
  try {
    const keptAt = await store.keep(artifact, failure);
    return keptAt === undefined ? base : { ...base, keptAt };
  } catch (storeErr) {
    return { ...base, error: withKeepFailure(failure.error, store.location ?? 'the store', storeErr) };
  }
}

/** A new error saying that the artifact could not be kept either (the original is not mutated). */
function withKeepFailure(error: UploadError, location: string, storeErr: unknown): UploadError {
  const why = storeErr instanceof SpoolError ? storeErr.message : safeErrorMessage(storeErr);
  return new UploadError(
    error.code,
    `${error.message}; keeping the artifact in ${location} failed too (${why}), so this trace is lost`,
    {
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.s3Code === undefined ? {} : { s3Code: error.s3Code }),
      retryable: error.retryable,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      ...(error.transport === undefined ? {} : { transport: error.transport }),
      ...(error.attempts === undefined ? {} : { attempts: error.attempts }),
      cause: safeCause(storeErr),
    },
  );
}

interface Bound {
  readonly signal: AbortSignal;
  /** The abort or deadline error when the bound fired, else undefined. */
  stopped(transport: string, cause: unknown): UploadError | undefined;
  dispose(): void;
}

/** The caller's signal combined with the delivery's time bound. */
function deliveryBound(opts: DeliverOptions): Bound {
  const userSignal = opts.signal;
  const requested = opts.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
  const timeoutMs = Number.isNaN(requested) ? 0 : Math.max(0, requested);
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs === 0) deadline.abort();
  else if (timeoutMs < MAX_TIMER_MS) {
    timer = setTimeout(() => deadline.abort(), timeoutMs);
    if (opts.keepAlive === false) timer.unref();
  }
  const signal = userSignal === undefined ? deadline.signal : AbortSignal.any([userSignal, deadline.signal]);
  return {
    signal,
    stopped(transport, cause) {
      if (userSignal?.aborted === true) {
        const aborted = abortedError(transport, cause);
        aborted.attempts = attemptsOf(cause);
        return aborted;
      }
      if (deadline.signal.aborted) {
        const text =
          timeoutMs === 0
            ? `Upload through ${transport} had no time left (timeoutMs ${String(opts.timeoutMs)})`
            : `Upload through ${transport} did not finish within ${timeoutMs} ms`;
        return new UploadError('ERR_UPLOAD_DEADLINE', text, {
          transport,
          attempts: attemptsOf(cause),
          cause: safeCause(cause),
        });
      }
      return undefined;
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

function positive(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function attemptsOf(err: unknown): number {
  try {
    return positive((err as { attempts?: unknown } | null)?.attempts) ?? 1;
  } catch {
    return 1;
  }
}

/** A transport's name, safe to use as a metric attribute and in messages. */
function safeName(transport: TraceTransport): string {
  try {
    const name = transport.name;
    return typeof name === 'string' && name !== '' ? name.slice(0, 64) : 'custom';
  } catch {
    return 'custom';
  }
}
