/**
 * `@agent-trace/trace-sdk/langchain`: a LangChain.js (`@langchain/core`) callback handler that
 * records an agent run — `createAgent` from `langchain`, a LangGraph graph, or any runnable that
 * calls a chat model and tools.
 *
 * ```ts
 * const rec = createTraceRecorder({ userId, taskId, transport });
 * await agent.invoke(input, { callbacks: [new AgentTraceCallbackHandler(rec)] });
 * await rec.finish();
 * ```
 *
 * Mapping:
 * - each chat-model call → `TRAJECTORY_TURN`: `model` from the response metadata (`model_name` /
 *   `model`) or the model's own parameters, `text` from the message's text content, `thinking` from
 *   its `thinking` / `reasoning` blocks (or `additional_kwargs.reasoning_content`),
 *   `tool_calls[{id,name,input}]` from `tool_calls` (`args` → `input`), and
 *   `tool_results[{tool_use_id,is_error,content}]` from the tool runs that answer those calls
 *   (`ToolMessage.content`, `status: 'error'` or a tool error → `is_error`). A turn is written when
 *   the next model call ends, or when the run ends;
 * - the end of the outermost run → `TRAJECTORY_RESULT`: `subtype` `success` (or
 *   `error_during_execution` when it failed), `num_turns`, `duration_ms`, and `usage` summed from the
 *   messages' `usage_metadata` (`input_tokens`, `output_tokens`, `total_tokens`). LangChain reports
 *   no cost.
 *
 * The handler sets `awaitHandlers` so events are written before `invoke` returns, and never throws
 * (LangChain would surface a handler error only with `raiseError`, which it leaves off).
 *
 * @packageDocumentation
 */
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { ToolCallInput, ToolResultInput } from '../../record/events.js';
import { type AdapterOptions, guarded, num, rec, str, type TraceSink, toolContent } from '../shared/sink.js';

export type { AdapterOptions, TraceSink } from '../shared/sink.js';

interface OpenTurn {
  readonly model: string | undefined;
  readonly thinking: string | undefined;
  readonly text: string | undefined;
  readonly toolCalls: ToolCallInput[];
  readonly toolResults: ToolResultInput[];
}

const USAGE_FIELDS = ['input_tokens', 'output_tokens', 'total_tokens'] as const;

/** Records a LangChain run on a trace recorder. One handler per run (per task). */
export class AgentTraceCallbackHandler extends BaseCallbackHandler {
  override name = 'agent_trace';
  override awaitHandlers = true;
  readonly #sink: TraceSink;
  readonly #onError: AdapterOptions['onError'];
  #root: string | undefined;
  #started = 0;
  #turns = 0;
  #open: OpenTurn | undefined;
  #failed = false;
  readonly #usage: Record<string, number> = {};
  /** Model name per chat-model run, from its start parameters (the response may not say). */
  readonly #models = new Map<string, string>();
  /** Tool-call id per tool run. */
  readonly #toolCallIds = new Map<string, string>();

  constructor(sink: TraceSink, options: AdapterOptions = {}) {
    super();
    this.#sink = sink;
    this.#onError = options.onError;
  }

  #enter(runId: string, parentRunId: string | undefined): void {
    if (this.#root === undefined && parentRunId === undefined) {
      // A new outermost run: a handler reused for another invoke starts counting afresh.
      this.#root = runId;
      this.#started = performance.now();
      this.#turns = 0;
      this.#failed = false;
      for (const field of USAGE_FIELDS) delete this.#usage[field];
    }
  }

  #exit(runId: string, failed: boolean): void {
    if (runId !== this.#root) return;
    this.#root = undefined;
    this.#flush();
    guarded(this.#onError, () => {
      this.#sink.recordResult({
        subtype: failed || this.#failed ? 'error_during_execution' : 'success',
        numTurns: this.#turns,
        durationMs: Math.round(performance.now() - this.#started),
        usage: { ...this.#usage },
      });
    });
  }

  #flush(): void {
    const turn = this.#open;
    if (turn === undefined) return;
    this.#open = undefined;
    guarded(this.#onError, () => this.#sink.recordTurn({ turn: this.#turns, ...turn }));
  }

  // The callback manager passes the parent run id fourth (as BaseTracer reads it), whatever the
  // declared parameter names say.
  override handleChainStart(_chain: unknown, _inputs: unknown, runId: string, parentRunId?: string): void {
    guarded(this.#onError, () => this.#enter(runId, parentRunId));
  }

  override handleChainEnd(_outputs: unknown, runId: string): void {
    guarded(this.#onError, () => this.#exit(runId, false));
  }

  override handleChainError(_err: unknown, runId: string): void {
    guarded(this.#onError, () => this.#exit(runId, true));
  }

  override handleChatModelStart(
    llm: unknown,
    _messages: unknown,
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
  ): void {
    guarded(this.#onError, () => {
      this.#enter(runId, parentRunId);
      const params = rec(extraParams?.['invocation_params']);
      const kwargs = rec(rec(llm)?.['kwargs']);
      const model =
        str(params?.['model']) ??
        str(params?.['model_name']) ??
        str(kwargs?.['model']) ??
        str(kwargs?.['model_name']);
      if (model !== undefined) this.#models.set(runId, model);
    });
  }

  override handleLLMStart(_llm: unknown, _prompts: unknown, runId: string, parentRunId?: string): void {
    guarded(this.#onError, () => this.#enter(runId, parentRunId));
  }

  override handleLLMEnd(output: unknown, runId: string): void {
    guarded(this.#onError, () => {
      const generations = rec(output)?.['generations'];
      const first =
        Array.isArray(generations) && Array.isArray(generations[0]) ? rec(generations[0][0]) : undefined;
      const message = rec(first?.['message']);
      this.#flush();
      this.#turns += 1;
      this.#open = this.#turnFrom(message, str(first?.['text']), this.#models.get(runId));
      this.#models.delete(runId);
      this.#addUsage(rec(message?.['usage_metadata']));
    });
    guarded(this.#onError, () => this.#exit(runId, false));
  }

  override handleLLMError(_err: unknown, runId: string): void {
    guarded(this.#onError, () => {
      this.#models.delete(runId);
      this.#failed = true;
      this.#exit(runId, true);
    });
  }

  override handleToolStart(
    _tool: unknown,
    _input: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    _metadata?: Record<string, unknown>,
    _runName?: string,
    toolCallId?: string,
  ): void {
    guarded(this.#onError, () => {
      this.#enter(runId, parentRunId);
      if (typeof toolCallId === 'string') this.#toolCallIds.set(runId, toolCallId);
    });
  }

  override handleToolEnd(output: unknown, runId: string): void {
    guarded(this.#onError, () => {
      const message = rec(output);
      const id = str(message?.['tool_call_id']) ?? this.#toolCallIds.get(runId) ?? runId;
      const content = message !== undefined && 'content' in message ? message['content'] : output;
      this.#result({
        toolUseId: id,
        isError: message?.['status'] === 'error',
        content: toolContent(content),
      });
    });
    guarded(this.#onError, () => {
      this.#toolCallIds.delete(runId);
      this.#exit(runId, false);
    });
  }

  override handleToolError(err: unknown, runId: string): void {
    guarded(this.#onError, () => {
      const id = this.#toolCallIds.get(runId) ?? runId;
      const content = err instanceof Error ? `${err.name}: ${err.message}` : toolContent(err);
      this.#result({ toolUseId: id, isError: true, content });
    });
    guarded(this.#onError, () => {
      this.#toolCallIds.delete(runId);
      this.#exit(runId, true);
    });
  }

  #result(result: ToolResultInput): void {
    if (this.#open === undefined) {
      this.#turns += 1;
      this.#open = { model: undefined, thinking: undefined, text: undefined, toolCalls: [], toolResults: [] };
    }
    this.#open.toolResults.push(result);
  }

  #turnFrom(
    message: Record<string, unknown> | undefined,
    fallbackText: string | undefined,
    model: string | undefined,
  ): OpenTurn {
    const meta = rec(message?.['response_metadata']);
    const thinking: string[] = [];
    const text: string[] = [];
    const content = message?.['content'];
    if (typeof content === 'string') text.push(content);
    else if (Array.isArray(content)) {
      for (const raw of content) {
        const block = rec(raw);
        if (block?.['type'] === 'text') text.push(str(block['text']) ?? '');
        else if (block?.['type'] === 'thinking') thinking.push(str(block['thinking']) ?? '');
        else if (block?.['type'] === 'reasoning') thinking.push(str(block['reasoning']) ?? '');
      }
    }
    const reasoning = str(rec(message?.['additional_kwargs'])?.['reasoning_content']);
    if (reasoning !== undefined && thinking.length === 0) thinking.push(reasoning);
    const toolCalls: ToolCallInput[] = [];
    const calls = message?.['tool_calls'];
    for (const raw of Array.isArray(calls) ? calls : []) {
      const call = rec(raw);
      if (call !== undefined)
        toolCalls.push({ id: str(call['id']), name: str(call['name']) ?? '', input: call['args'] });
    }
    return {
      model: str(meta?.['model_name']) ?? str(meta?.['model']) ?? model,
      thinking: thinking.length > 0 ? thinking.join('\n') : undefined,
      text: text.length > 0 ? text.join('\n') : message === undefined ? fallbackText : undefined,
      toolCalls,
      toolResults: [],
    };
  }

  #addUsage(usage: Record<string, unknown> | undefined): void {
    if (usage === undefined) return;
    for (const field of USAGE_FIELDS) {
      const n = num(usage[field]);
      if (n !== undefined) this.#usage[field] = (this.#usage[field] ?? 0) + n;
    }
  }
}
