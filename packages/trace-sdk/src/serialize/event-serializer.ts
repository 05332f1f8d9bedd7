/**
 * Serialization policy for one trace: how an event becomes one JSONL line. The stamps (`event`,
 * `task_id`, `seq`, `ts`, and the active span's ids) come first and replace fields of the same
 * name; the event's own fields follow, redacted and truncated by the {@link JsonWriter}; an event
 * over the per-event limit is shrunk (its longest strings cut to the largest length that fits) or
 * replaced by an `oversized` marker; an event whose redaction failed becomes a `redaction_failed`
 * marker that keeps none of its fields.
 *
 * Counts of what a line cost (redactions, truncated fields) live on the writer; {@link
 * EventSerializer.mark} and {@link EventSerializer.rollback} make "count only what is kept" one call.
 *
 * @packageDocumentation
 */
import { activeSpanIds } from '../telemetry/otel.js';
import { RedactionFailure, type RedactionPattern, Redactor, warmUpRedaction } from './redact.js';
import { type FieldShape, fieldShape, JsonWriter, SizeBudgetExceeded } from './safe-json.js';
import { redactAndTruncate } from './truncate.js';

/** The name written for an event without a usable `event` field. */
export const UNKNOWN_EVENT = 'UNKNOWN';

const RESERVED = new Set(['event', 'task_id', 'seq', 'ts']);
const RESERVED_WITH_SPAN = new Set([...RESERVED, 'trace_id', 'span_id']);
const RESERVED_SHRUNK = new Set([...RESERVED, 'truncated']);
const RESERVED_WITH_SPAN_SHRUNK = new Set([...RESERVED_WITH_SPAN, 'truncated']);
/** Event names longer than this are truncated. */
const MAX_NAME_CHARS = 256;
/** Event names written as is in a `redaction_failed` marker; anything else becomes `UNKNOWN`. */
const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
/** Quoted event names cached per serializer. */
const NAME_CACHE_MAX = 256;

/** One serialized line and its UTF-8 size. */
export interface Serialized {
  readonly line: string;
  readonly bytes: number;
}

/** Span ids stamped onto an event. */
export type SpanIds = { readonly traceId: string; readonly spanId: string } | undefined;

/** The limits the serializer applies. */
export interface SerializerLimits {
  readonly taskId: string;
  readonly maxEventBytes: number;
  readonly maxTextChars: number;
  readonly maxToolResultChars: number;
  readonly maxDepth: number;
  readonly redactPatterns?: readonly RedactionPattern[] | undefined;
}

/** Counts that describe kept lines only; see {@link EventSerializer.rollback}. */
export interface CountMark {
  readonly redactions: number;
  readonly truncated: number;
}

/** Turns events into JSONL lines for one trace. */
export class EventSerializer {
  /** Events shrunk or replaced by an `oversized` marker. */
  oversized = 0;
  /** Events replaced by a `redaction_failed` marker. */
  masked = 0;

  private readonly limits: SerializerLimits;
  private readonly writer: JsonWriter;
  private readonly rootShape: FieldShape;
  private readonly taskPart: string;
  private readonly names = new Map<string, string>();

  /** @throws ConfigError when a user redaction pattern is malformed. */
  constructor(limits: SerializerLimits) {
    this.limits = limits;
    this.writer = new JsonWriter(new Redactor(limits.redactPatterns), { maxDepth: limits.maxDepth });
    // Here, when the agent creates its recorder, rather than in its first record() calls.
    warmUpRedaction();
    this.rootShape = fieldShape({
      thinking: limits.maxTextChars,
      text: limits.maxTextChars,
      tool_results: fieldShape({ content: limits.maxToolResultChars }),
    });
    this.taskPart = `,"task_id":${JSON.stringify(limits.taskId)},"seq":`;
  }

  /** Secrets replaced so far. */
  get redactions(): number {
    return this.writer.redactor.count;
  }

  /** Strings truncated so far. */
  get truncated(): number {
    return this.writer.truncated;
  }

  /** The counts now, to {@link rollback} to when a line is not kept. */
  mark(): CountMark {
    return { redactions: this.writer.redactor.count, truncated: this.writer.truncated };
  }

  /** Forgets what lines serialized since `mark` counted. */
  rollback(mark: CountMark): void {
    this.writer.redactor.count = mark.redactions;
    this.writer.truncated = mark.truncated;
  }

  /**
   * The line for `event` as number `seq`, or `undefined` when not even its stamps fit in `remaining`
   * bytes. The line may still exceed `remaining`: the caller decides. Never throws for any input.
   */
  line(event: unknown, seq: number, ts: number, ids: SpanIds, remaining: number): Serialized | undefined {
    const mark = this.mark();
    try {
      const name = this.nameJson(readName(event));
      const head = this.head(name, seq, ts, ids);
      if (head.length + 2 > remaining) return undefined;
      let first: Serialized | undefined;
      try {
        first = this.serialize(event, head);
      } catch (err) {
        if (!(err instanceof SizeBudgetExceeded)) throw err;
      }
      return first !== undefined && first.bytes <= this.limits.maxEventBytes
        ? first
        : this.shrink(event, head, name, seq, ts, ids, first?.bytes);
    } catch (err) {
      if (!(err instanceof RedactionFailure)) throw err;
      this.rollback(mark);
      return this.maskedLine(event, seq, ts);
    }
  }

  /** The marker written instead of an event whose redaction failed: no field of it is kept. */
  maskedLine(event: unknown, seq: number, ts: number): Serialized {
    this.masked++;
    let name = UNKNOWN_EVENT;
    try {
      const raw = readName(event);
      // Only a plain identifier that the built-in patterns leave alone is safe to keep.
      if (PLAIN_NAME.test(raw) && new Redactor().redact(raw) === raw) name = raw;
    } catch {
      // Keep UNKNOWN.
    }
    const line = `${this.head(JSON.stringify(name), seq, ts, activeSpanIdsSafe())},"redaction_failed":true}\n`;
    return { line, bytes: Buffer.byteLength(line, 'utf8') };
  }

  /** The quoted, redacted event name (cached for clean names). */
  private nameJson(name: string): string {
    const cached = this.names.get(name);
    if (cached !== undefined) return cached;
    const redactor = this.writer.redactor;
    const before = redactor.count;
    const r = redactAndTruncate(name, MAX_NAME_CHARS, (s) => redactor.redact(s));
    if (r.truncated) this.writer.truncated++;
    const json = JSON.stringify(r.text);
    if (redactor.count === before && !r.truncated && this.names.size < NAME_CACHE_MAX)
      this.names.set(name, json);
    return json;
  }

  private head(nameJson: string, seq: number, ts: number, ids: SpanIds): string {
    const head = `{"event":${nameJson}${this.taskPart}${seq},"ts":${ts}`;
    return ids === undefined ? head : `${head},"trace_id":"${ids.traceId}","span_id":"${ids.spanId}"`;
  }

  /** One line for `event`: the stamps in `head`, then the event's own fields. */
  private serialize(event: unknown, head: string, stringCap?: number, shrunk = false): Serialized {
    const writer = this.writer;
    const max = this.limits.maxEventBytes;
    // First pass: stop early on a monster event instead of building it whole.
    writer.reset(stringCap, stringCap === undefined ? max * 16 : max * 2);
    const withSpan = head.includes(',"trace_id":');
    const skip = shrunk
      ? withSpan
        ? RESERVED_WITH_SPAN_SHRUNK
        : RESERVED_SHRUNK
      : withSpan
        ? RESERVED_WITH_SPAN
        : RESERVED;
    let body = '';
    if (event !== null && typeof event === 'object') {
      try {
        body = writer.members(event, 0, this.rootShape, skip);
      } catch (err) {
        if (err instanceof RedactionFailure || err instanceof SizeBudgetExceeded) throw err;
        // The event object itself cannot be read (e.g. a Proxy whose ownKeys trap throws).
        body = `"unserializable":${writer.marker(`[Unserializable: ${err instanceof Error ? err.name : 'Error'}]`)}`;
      }
    } else if (event !== undefined) {
      body = `"value":${writer.value(event, 0) ?? 'null'}`;
    }
    if (shrunk) body = body === '' ? '"truncated":true' : `${body},"truncated":true`;
    const line = body === '' ? `${head}}\n` : `${head},${body}}\n`;
    return { line, bytes: Buffer.byteLength(line, 'utf8') };
  }

  /**
   * Fits an oversized event under `maxEventBytes` by cutting its longest strings to the largest
   * common length that fits (binary search), marked `"truncated": true`. When even empty strings
   * do not fit (too many keys or numbers), writes a small `oversized` marker instead.
   */
  private shrink(
    event: unknown,
    head: string,
    nameJson: string,
    seq: number,
    ts: number,
    ids: SpanIds,
    originalBytes: number | undefined,
  ): Serialized {
    this.oversized++;
    const max = this.limits.maxEventBytes;
    const mark = this.mark();
    const attempt = (cap: number): Serialized | undefined => {
      this.rollback(mark);
      try {
        const out = this.serialize(event, head, cap, true);
        return out.bytes <= max ? out : undefined;
      } catch (err) {
        if (err instanceof SizeBudgetExceeded) return undefined;
        throw err;
      }
    };
    let best = attempt(0);
    if (best !== undefined) {
      let lo = 0;
      // attempt(0) met every string, so this is the longest one: caps at or above it cut nothing.
      let hi = this.writer.longestString;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        const out = attempt(mid);
        if (out !== undefined) {
          lo = mid;
          best = out;
        } else hi = mid - 1;
      }
      // Re-run the winner so the counts are those of the line kept.
      return attempt(lo) ?? best;
    }
    this.rollback(mark);
    const size =
      originalBytes === undefined
        ? `"original_bytes":${max * 16},"original_bytes_is_lower_bound":true`
        : `"original_bytes":${originalBytes}`;
    const line = `${this.head(nameJson, seq, ts, ids)},"truncated":true,"oversized":true,${size}}\n`;
    return { line, bytes: Buffer.byteLength(line, 'utf8') };
  }
}

/** The event's `event` name, or `UNKNOWN` when missing, empty or unreadable. */
export function readName(event: unknown): string {
  if (event === null || typeof event !== 'object') return UNKNOWN_EVENT;
  let name: unknown;
  try {
    name = (event as { event?: unknown }).event;
  } catch {
    // A throwing getter or Proxy trap: still write the event (as UNKNOWN) rather than lose it silently.
    return UNKNOWN_EVENT;
  }
  return typeof name === 'string' && name !== '' ? name : UNKNOWN_EVENT;
}

/** The active span's ids, or none when the OpenTelemetry API itself misbehaves. */
export function activeSpanIdsSafe(): SpanIds {
  try {
    return activeSpanIds();
  } catch {
    return undefined;
  }
}
