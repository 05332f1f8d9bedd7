/**
 * `@agent-trace/trace-sdk/otel-genai`: an OpenTelemetry `SpanProcessor` that records the spans any
 * framework emits under the OpenTelemetry GenAI semantic conventions (`gen_ai.*`), so frameworks
 * without their own adapter still produce a trajectory.
 *
 * ```ts
 * const rec = createTraceRecorder({ userId, taskId, transport });
 * const provider = new BasicTracerProvider({ spanProcessors: [new GenAiSpanProcessor(rec), ...yours] });
 * // ... run the instrumented agent ...; then await provider.forceFlush(); await rec.finish();
 * ```
 *
 * Mapping (by `gen_ai.operation.name`, per OpenTelemetry trace):
 * - `chat` / `text_completion` / `generate_content` → a `TRAJECTORY_TURN`: `model` from
 *   `gen_ai.response.model` (else `gen_ai.request.model`); `text`, `thinking` and
 *   `tool_calls[{id,name,input}]` from `gen_ai.output.messages` parts (`text`, `reasoning`,
 *   `tool_call`);
 * - `execute_tool` → a `tool_results` entry of the current turn: `gen_ai.tool.call.id` →
 *   `tool_use_id`, `gen_ai.tool.call.result` → `content`, span status ERROR or `error.type` →
 *   `is_error` (and a `tool_calls` entry from `gen_ai.tool.name` / `gen_ai.tool.call.arguments` when
 *   the model span did not list the call);
 * - a turn is written when the next model span of its trace ends, when the agent span or the
 *   trace's root span ends, or on `forceFlush()` / `shutdown()`;
 * - `invoke_agent` → `TRAJECTORY_RESULT`: `subtype` `success` or `error_during_execution` (span
 *   status), `num_turns`, `duration_ms` (span duration), `session_id` from `gen_ai.conversation.id`,
 *   `usage` `{input_tokens, output_tokens}` summed from the model spans' `gen_ai.usage.*`.
 *
 * Message contents are opt-in in most instrumentations (they are sensitive); without them turns
 * carry the model, tool calls and results but no text. Loads nothing from OpenTelemetry at run time.
 *
 * @packageDocumentation
 */
import { resultEvent, type ToolCallInput, type ToolResultInput } from '../../record/events.js';
import {
  type AdapterOptions,
  guarded,
  num,
  parseJsonArgs,
  rec,
  str,
  type TraceSink,
  toolContent,
} from '../shared/sink.js';

export type { AdapterOptions, TraceSink } from '../shared/sink.js';

/** What the processor reads of an ended span (an OpenTelemetry `ReadableSpan` has all of it). */
export interface GenAiReadableSpan {
  readonly name: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly status: { readonly code: number; readonly message?: string | undefined };
  /** `[seconds, nanoseconds]`. */
  readonly duration: readonly [number, number];
  spanContext(): { readonly traceId: string; readonly spanId: string };
  /** The parent's context; absent on a trace's root span. */
  readonly parentSpanContext?: object | undefined;
}

/** Where a span's events go: one sink, or one chosen per span (`undefined` skips it). */
export type GenAiSinkTarget = TraceSink | ((span: GenAiReadableSpan) => TraceSink | undefined);

const MODEL_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content']);
/** `SpanStatusCode.ERROR`. */
const STATUS_ERROR = 2;

interface OpenTurn {
  readonly model: string | undefined;
  readonly thinking: string[];
  readonly text: string[];
  readonly calls: ToolCallInput[];
  readonly results: ToolResultInput[];
}

interface TraceState {
  readonly sink: TraceSink;
  turns: number;
  open: OpenTurn | undefined;
  readonly usage: { input_tokens: number; output_tokens: number };
}

/** `gen_ai.output.messages`: a JSON string (span attribute) or the structured value. */
function outputMessages(value: unknown): unknown[] {
  const parsed = typeof value === 'string' ? parseJsonArgs(value) : value;
  return Array.isArray(parsed) ? parsed : [];
}

/**
 * An OpenTelemetry `SpanProcessor` recording GenAI spans on a trace recorder. Structurally typed,
 * so it satisfies `@opentelemetry/sdk-trace-base`'s interface without importing it.
 */
export class GenAiSpanProcessor {
  readonly #target: GenAiSinkTarget;
  readonly #onError: AdapterOptions['onError'];
  readonly #traces = new Map<string, TraceState>();

  constructor(target: GenAiSinkTarget, options: AdapterOptions = {}) {
    this.#target = target;
    this.#onError = options.onError;
  }

  onStart(_span: unknown, _parentContext: unknown): void {}

  onEnd(span: GenAiReadableSpan): void {
    guarded(this.#onError, () => {
      const attrs = span.attributes;
      const op = str(attrs['gen_ai.operation.name']);
      if (op === undefined) return;
      if (MODEL_OPERATIONS.has(op)) this.#model(span, attrs);
      else if (op === 'execute_tool') this.#tool(span, attrs);
      else if (op === 'invoke_agent') this.#agent(span, attrs);
    });
    // The root span ending ends the run even without an agent span: write its open turn and forget
    // the trace (else it, and its recorder, were kept until forceFlush, which writes every
    // concurrent run's open turn too). A span under a remote parent is not taken for a root: its
    // siblings may still belong to the same run.
    guarded(this.#onError, () => {
      if (span.parentSpanContext !== undefined) return;
      const traceId = span.spanContext().traceId;
      const state = this.#traces.get(traceId);
      if (state === undefined) return;
      this.#traces.delete(traceId);
      this.#flush(state);
    });
  }

  /** Writes every open turn. */
  async forceFlush(): Promise<void> {
    for (const state of this.#traces.values()) this.#flush(state);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.#traces.clear();
  }

  #state(span: GenAiReadableSpan): TraceState | undefined {
    const traceId = span.spanContext().traceId;
    let state = this.#traces.get(traceId);
    if (state === undefined) {
      const sink = typeof this.#target === 'function' ? this.#target(span) : this.#target;
      if (sink === undefined) return undefined;
      state = { sink, turns: 0, open: undefined, usage: { input_tokens: 0, output_tokens: 0 } };
      this.#traces.set(traceId, state);
    }
    return state;
  }

  #flush(state: TraceState): void {
    const turn = state.open;
    if (turn === undefined) return;
    state.open = undefined;
    guarded(this.#onError, () =>
      state.sink.recordTurn({
        turn: state.turns,
        model: turn.model,
        thinking: turn.thinking.length > 0 ? turn.thinking.join('\n') : undefined,
        text: turn.text.length > 0 ? turn.text.join('\n') : undefined,
        toolCalls: turn.calls,
        toolResults: turn.results,
      }),
    );
  }

  #open(state: TraceState, model: string | undefined): OpenTurn {
    this.#flush(state);
    state.turns += 1;
    const turn: OpenTurn = { model, thinking: [], text: [], calls: [], results: [] };
    state.open = turn;
    return turn;
  }

  #model(span: GenAiReadableSpan, attrs: Readonly<Record<string, unknown>>): void {
    const state = this.#state(span);
    if (state === undefined) return;
    const turn = this.#open(state, str(attrs['gen_ai.response.model']) ?? str(attrs['gen_ai.request.model']));
    state.usage.input_tokens += num(attrs['gen_ai.usage.input_tokens']) ?? 0;
    state.usage.output_tokens += num(attrs['gen_ai.usage.output_tokens']) ?? 0;
    for (const raw of outputMessages(attrs['gen_ai.output.messages'])) {
      const parts = rec(raw)?.['parts'];
      for (const p of Array.isArray(parts) ? parts : []) {
        const part = rec(p);
        const type = part?.['type'];
        if (type === 'text') turn.text.push(str(part?.['content']) ?? '');
        else if (type === 'reasoning') turn.thinking.push(str(part?.['content']) ?? '');
        else if (type === 'tool_call')
          turn.calls.push({
            id: str(part?.['id']),
            name: str(part?.['name']) ?? '',
            input: parseJsonArgs(part?.['arguments']),
          });
      }
    }
  }

  #tool(span: GenAiReadableSpan, attrs: Readonly<Record<string, unknown>>): void {
    const state = this.#state(span);
    if (state === undefined) return;
    const turn = state.open ?? this.#open(state, undefined);
    const id = str(attrs['gen_ai.tool.call.id']) ?? span.spanContext().spanId;
    if (!turn.calls.some((c) => c.id === id))
      turn.calls.push({
        id,
        name: str(attrs['gen_ai.tool.name']) ?? '',
        input: parseJsonArgs(attrs['gen_ai.tool.call.arguments']),
      });
    const failed = span.status.code === STATUS_ERROR || attrs['error.type'] !== undefined;
    const result = attrs['gen_ai.tool.call.result'];
    turn.results.push({
      toolUseId: id,
      isError: failed,
      content:
        result === undefined && failed
          ? (span.status.message ?? str(attrs['error.type']) ?? '')
          : toolContent(result),
    });
  }

  #agent(span: GenAiReadableSpan, attrs: Readonly<Record<string, unknown>>): void {
    const state = this.#state(span);
    if (state === undefined) return;
    this.#flush(state);
    const [seconds, nanos] = span.duration;
    // Every field the Python agent writes (via resultEvent), plus the agent's name.
    state.sink.record({
      ...resultEvent({
        subtype: span.status.code === STATUS_ERROR ? 'error_during_execution' : 'success',
        numTurns: state.turns,
        durationMs: Math.round(seconds * 1000 + nanos / 1e6),
        sessionId: str(attrs['gen_ai.conversation.id']),
        usage: { ...state.usage },
      }),
      agent_name: str(attrs['gen_ai.agent.name']),
    });
    this.#traces.delete(span.spanContext().traceId);
  }
}
