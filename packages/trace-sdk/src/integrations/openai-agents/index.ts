/**
 * `@agent-trace/trace-sdk/openai-agents`: a tracing processor for the OpenAI Agents SDK
 * (`@openai/agents`), registered with its tracing API, that records each run's turns and result.
 *
 * ```ts
 * const rec = createTraceRecorder({ userId, taskId, transport });
 * addTraceProcessor(new AgentTraceProcessor(rec));   // or setTraceProcessors([...]) to replace the OpenAI exporter
 * await run(agent, input);
 * await rec.finish();
 * ```
 *
 * Mapping (from the spans the runner and the model emit):
 * - each `turn` span → `TRAJECTORY_TURN`: `turn` from the span; `model`, `text`, `thinking` and
 *   `tool_calls[{id,name,input}]` from the model's `generation` span (`output`: Chat Completions
 *   responses or Responses/Agents items) or `response` span (`_response`), both of which the OpenAI
 *   models fill only with `traceIncludeSensitiveData` (the default); `tool_results` from the turn's
 *   `function` spans (`output`, span error → `is_error`), matched to the calls by name and
 *   arguments, then by name in call order;
 *   without model content the calls come from the function spans (`input` parsed as JSON);
 * - the `task` span (one `run()`) → `TRAJECTORY_RESULT`: `subtype` `success`, `error_max_turns` or
 *   `error_during_execution` (from the span's error), `num_turns`, `duration_ms` from the span's
 *   start and end, `usage` from the span (`input_tokens`, `output_tokens`, `cached_input_tokens`,
 *   `cache_write_input_tokens`, `requests`, `total_tokens`). The SDK reports no cost.
 *
 * The processor is process-wide, like every tracing processor: pass one sink to record every run,
 * or a function choosing the sink per trace (e.g. from `traceMetadata`) when tasks run concurrently.
 * Its methods never reject. Loads nothing from `@openai/agents` at run time.
 *
 * @packageDocumentation
 */
import type { ToolCallInput, ToolResultInput } from '../../record/events.js';
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

/** What the processor reads of a trace: its id, name, group and metadata. */
export interface AgentsTraceInfo {
  readonly traceId: string;
  readonly name?: string | undefined;
  readonly groupId?: string | null | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
}

/** What the processor reads of a span (an `@openai/agents` `Span` has all of it). */
export interface AgentsSpanInfo {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string | null;
  readonly spanData: { readonly type: string; readonly [field: string]: unknown };
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly error: { readonly message: string; readonly data?: Record<string, unknown> } | null;
}

/** Where a trace's events go: one sink for every run, or one chosen per trace (`undefined` skips it). */
export type AgentsSinkTarget = TraceSink | ((trace: AgentsTraceInfo) => TraceSink | undefined);

interface TurnState {
  model: string | undefined;
  readonly thinking: string[];
  readonly text: string[];
  readonly calls: ToolCallInput[];
  readonly functions: { name: string; input: unknown; output: unknown; error: string | undefined }[];
}

interface TraceState {
  readonly sink: TraceSink;
  readonly turns: Map<string, TurnState>;
  count: number;
  /** An agent span ended with the runner's max-turns error. */
  maxTurns: boolean;
}

function newTurn(): TurnState {
  return { model: undefined, thinking: [], text: [], calls: [], functions: [] };
}

/** Reads model output in the shapes the SDK's models put on spans into `turn`. */
function collect(items: unknown, turn: TurnState): void {
  if (!Array.isArray(items)) return;
  for (const raw of items) {
    const item = rec(raw);
    if (item === undefined) continue;
    turn.model ??= str(item['model']);
    const choices = item['choices'];
    if (Array.isArray(choices)) {
      chatMessage(rec(rec(choices[0])?.['message']), turn); // a Chat Completions response
    } else if (item['role'] === 'assistant' && item['type'] === undefined) {
      chatMessage(item, turn); // a Chat Completions message
    } else if (item['type'] === 'message') {
      const content = item['content'];
      if (typeof content === 'string') turn.text.push(content);
      for (const part of Array.isArray(content) ? content : []) {
        const p = rec(part);
        const text = str(p?.['text']) ?? str(p?.['refusal']);
        if (text !== undefined) turn.text.push(text);
      }
    } else if (item['type'] === 'reasoning') {
      for (const key of ['summary', 'content']) {
        const parts = item[key];
        for (const part of Array.isArray(parts) ? parts : []) {
          const text = str(rec(part)?.['text']);
          if (text !== undefined) turn.thinking.push(text);
        }
      }
    } else if (item['type'] === 'function_call') {
      turn.calls.push({
        id: str(item['call_id']) ?? str(item['callId']),
        name: str(item['name']) ?? '',
        input: parseJsonArgs(item['arguments']),
      });
    }
  }
}

function chatMessage(message: Record<string, unknown> | undefined, turn: TurnState): void {
  if (message === undefined) return;
  const content = str(message['content']);
  if (content !== undefined) turn.text.push(content);
  const reasoning = str(message['reasoning_content']) ?? str(message['reasoning']);
  if (reasoning !== undefined) turn.thinking.push(reasoning);
  const calls = message['tool_calls'];
  for (const raw of Array.isArray(calls) ? calls : []) {
    const call = rec(raw);
    const fn = rec(call?.['function']);
    turn.calls.push({
      id: str(call?.['id']),
      name: str(fn?.['name']) ?? '',
      input: parseJsonArgs(fn?.['arguments']),
    });
  }
}

/** The runner marks the agent span `Max turns exceeded`; the task span carries the error's text. */
function isMaxTurns(error: AgentsSpanInfo['error']): boolean {
  if (error === null) return false;
  return /max turns/i.test(`${error.message} ${str(rec(error.data)?.['error']) ?? ''}`);
}

/** A test for "the same JSON as `value`" (false for anything JSON cannot write). */
function sameJsonAs(value: unknown): (other: unknown) => boolean {
  const json = (v: unknown): string | undefined => {
    try {
      return JSON.stringify(v);
    } catch {
      return undefined;
    }
  };
  const expected = json(value);
  return (other) => expected !== undefined && json(other) === expected;
}

function durationMs(span: AgentsSpanInfo): number | undefined {
  if (span.startedAt === null || span.endedAt === null) return undefined;
  const ms = Date.parse(span.endedAt) - Date.parse(span.startedAt);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * An OpenAI Agents SDK `TracingProcessor` that records runs on a trace recorder. Structurally
 * typed, so it satisfies the SDK's interface without importing it.
 */
export class AgentTraceProcessor {
  readonly #target: AgentsSinkTarget;
  readonly #onError: AdapterOptions['onError'];
  readonly #traces = new Map<string, TraceState>();

  constructor(target: AgentsSinkTarget, options: AdapterOptions = {}) {
    this.#target = target;
    this.#onError = options.onError;
  }

  async onTraceStart(trace: AgentsTraceInfo): Promise<void> {
    guarded(this.#onError, () => {
      const sink = typeof this.#target === 'function' ? this.#target(trace) : this.#target;
      if (sink !== undefined)
        this.#traces.set(trace.traceId, { sink, turns: new Map(), count: 0, maxTurns: false });
    });
  }

  async onTraceEnd(trace: AgentsTraceInfo): Promise<void> {
    guarded(this.#onError, () => {
      this.#traces.delete(trace.traceId);
    });
  }

  async onSpanStart(_span: AgentsSpanInfo): Promise<void> {}

  async onSpanEnd(span: AgentsSpanInfo): Promise<void> {
    guarded(this.#onError, () => {
      const state = this.#traces.get(span.traceId);
      if (state === undefined) return;
      const data = span.spanData;
      const turnOf = (): TurnState => {
        const id = span.parentId ?? '';
        let turn = state.turns.get(id);
        if (turn === undefined) {
          turn = newTurn();
          state.turns.set(id, turn);
        }
        return turn;
      };
      switch (data.type) {
        case 'generation': {
          const turn = turnOf();
          turn.model ??= str(data['model']);
          collect(data['output'], turn);
          break;
        }
        case 'response': {
          const response = rec(data['_response']);
          const turn = turnOf();
          turn.model ??= str(response?.['model']);
          collect(response?.['output'], turn);
          break;
        }
        case 'function':
          turnOf().functions.push({
            name: str(data['name']) ?? '',
            input: data['input'],
            output: data['output'],
            error: span.error === null ? undefined : span.error.message,
          });
          break;
        case 'turn':
          this.#writeTurn(state, span);
          break;
        case 'agent':
          if (isMaxTurns(span.error)) state.maxTurns = true;
          break;
        case 'task':
          this.#writeResult(state, span);
          break;
      }
    });
  }

  async shutdown(_timeout?: number): Promise<void> {
    this.#traces.clear();
  }

  async forceFlush(): Promise<void> {}

  #writeTurn(state: TraceState, span: AgentsSpanInfo): void {
    const turn = state.turns.get(span.spanId) ?? newTurn();
    state.turns.delete(span.spanId);
    state.count += 1;
    const fromModel = turn.calls.length > 0;
    const calls: ToolCallInput[] = fromModel
      ? turn.calls
      : turn.functions.map((f) => ({ name: f.name, input: parseJsonArgs(f.input) }));
    const unmatched = [...calls];
    const results: ToolResultInput[] = turn.functions.map((f, i) => {
      // Function spans end in completion order: parallel calls of one tool are told apart by
      // their arguments first, then taken in call order.
      const args = sameJsonAs(parseJsonArgs(f.input));
      let at = unmatched.findIndex((c) => c.name === f.name && args(c.input));
      if (at < 0) at = unmatched.findIndex((c) => c.name === f.name);
      const call = at < 0 ? undefined : unmatched.splice(at, 1)[0];
      return {
        toolUseId: call?.id ?? `${span.spanId}:${i}`,
        isError: f.error !== undefined,
        content:
          f.error !== undefined && (f.output === undefined || f.output === '')
            ? f.error
            : toolContent(f.output),
      };
    });
    state.sink.recordTurn({
      turn: num(span.spanData['turn']) ?? state.count,
      model: turn.model,
      thinking: turn.thinking.length > 0 ? turn.thinking.join('\n') : undefined,
      text: turn.text.length > 0 ? turn.text.join('\n') : undefined,
      toolCalls: calls,
      toolResults: results,
    });
  }

  #writeResult(state: TraceState, span: AgentsSpanInfo): void {
    const error = span.error;
    state.sink.recordResult({
      subtype:
        error === null
          ? 'success'
          : state.maxTurns || isMaxTurns(error)
            ? 'error_max_turns'
            : 'error_during_execution',
      numTurns: state.count,
      durationMs: durationMs(span),
      usage: rec(span.spanData['usage']),
    });
    state.count = 0;
    state.maxTurns = false;
  }
}
