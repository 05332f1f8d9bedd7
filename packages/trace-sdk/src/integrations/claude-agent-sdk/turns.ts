/**
 * Claude Agent SDK messages → `TRAJECTORY_TURN` / `TRAJECTORY_RESULT`, the mapping the Python agent
 * applied to the same messages.
 *
 * - A turn is one model response: an `assistant` message opens it; further `assistant` messages
 *   with the same `message.id` (Claude Code streams one response as one message per content block)
 *   add to it; the `tool_result` blocks of the `user` messages that follow are its results.
 * - `thinking` blocks joined by `\n` → `thinking`; `text` blocks joined by `\n` → `text` (both
 *   always present, `''` when the turn had none); `tool_use` blocks → `tool_calls[{name,input}]`;
 *   `tool_result` blocks → `tool_results[{tool_use_id,is_error,content}]`; `message.model` → `model`.
 * - A turn is written when the next response starts, at the `result` message, or when the stream
 *   ends or fails. Turns are numbered from 1.
 * - `result` → `TRAJECTORY_RESULT`: `subtype`, `num_turns`, `total_cost_usd` → `cost_usd`,
 *   `duration_ms`, `duration_api_ms`, `session_id`, `usage` (as the SDK reports it).
 * - Every other message type (system, stream events, status, ...) is not recorded.
 *
 * @packageDocumentation
 */
import type { ToolCallInput, ToolResultInput } from '../../record/events.js';
import { type AdapterOptions, guarded, num, rec, str, type TraceSink, toolContent } from '../shared/sink.js';

interface OpenTurn {
  readonly messageId: string | undefined;
  model: string | undefined;
  readonly thinking: string[];
  readonly text: string[];
  readonly toolCalls: ToolCallInput[];
  readonly toolResults: ToolResultInput[];
}

const TOOL_USE_TYPES = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);

/**
 * Folds a Claude Agent SDK message stream into trace events. Feed it every message with
 * {@link ClaudeTurnRecorder.observe}; call {@link ClaudeTurnRecorder.flush} when the stream ends.
 * Never throws: a malformed or hostile message is skipped (and reported to `onError`).
 */
export class ClaudeTurnRecorder {
  readonly #sink: TraceSink;
  readonly #onError: AdapterOptions['onError'];
  #turns = 0;
  #open: OpenTurn | undefined;

  constructor(sink: TraceSink, options: AdapterOptions = {}) {
    this.#sink = sink;
    this.#onError = options.onError;
  }

  /** Turns written so far (the open one excluded). */
  get turns(): number {
    return this.#turns - (this.#open === undefined ? 0 : 1);
  }

  /** Records what `message` contributes. */
  observe(message: unknown): void {
    guarded(this.#onError, () => {
      const m = rec(message);
      if (m === undefined) return;
      if (m['type'] === 'assistant') this.#assistant(rec(m['message']));
      else if (m['type'] === 'user') this.#user(rec(m['message']));
      else if (m['type'] === 'result') this.#result(m);
    });
  }

  /** Writes the open turn, if any. Safe to call more than once. */
  flush(): void {
    const turn = this.#open;
    if (turn === undefined) return;
    this.#open = undefined;
    guarded(this.#onError, () => {
      this.#sink.recordTurn({
        turn: this.#turns,
        model: turn.model,
        thinking: turn.thinking.join('\n'),
        text: turn.text.join('\n'),
        toolCalls: turn.toolCalls,
        toolResults: turn.toolResults,
      });
    });
  }

  #assistant(message: Record<string, unknown> | undefined): void {
    const id = str(message?.['id']);
    const open = this.#open;
    // Same response, still streaming its blocks: keep adding. Anything else starts a new turn.
    const turn =
      open !== undefined && id !== undefined && open.messageId === id && open.toolResults.length === 0
        ? open
        : this.#start(id);
    turn.model ??= str(message?.['model']);
    const content = message?.['content'];
    if (!Array.isArray(content)) return;
    for (const raw of content) {
      const block = rec(raw);
      if (block === undefined) continue;
      const type = block['type'];
      if (type === 'thinking') {
        const thinking = str(block['thinking']);
        if (thinking !== undefined) turn.thinking.push(thinking);
      } else if (type === 'text') {
        const text = str(block['text']);
        if (text !== undefined) turn.text.push(text);
      } else if (typeof type === 'string' && TOOL_USE_TYPES.has(type)) {
        turn.toolCalls.push({ name: str(block['name']) ?? '', input: block['input'] });
      } else if (type === 'tool_result') {
        turn.toolResults.push(toolResult(block));
      }
    }
  }

  #user(message: Record<string, unknown> | undefined): void {
    const content = message?.['content'];
    if (!Array.isArray(content)) return;
    for (const raw of content) {
      const block = rec(raw);
      if (block?.['type'] !== 'tool_result') continue;
      (this.#open ?? this.#start(undefined)).toolResults.push(toolResult(block));
    }
  }

  #result(m: Record<string, unknown>): void {
    this.flush();
    this.#sink.recordResult({
      subtype: str(m['subtype']) ?? 'unknown',
      numTurns: num(m['num_turns']) ?? this.#turns,
      costUsd: num(m['total_cost_usd']),
      durationMs: num(m['duration_ms']),
      durationApiMs: num(m['duration_api_ms']),
      sessionId: str(m['session_id']),
      usage: rec(m['usage']),
    });
  }

  #start(messageId: string | undefined): OpenTurn {
    this.flush();
    this.#turns += 1;
    const turn: OpenTurn = {
      messageId,
      model: undefined,
      thinking: [],
      text: [],
      toolCalls: [],
      toolResults: [],
    };
    this.#open = turn;
    return turn;
  }
}

function toolResult(block: Record<string, unknown>): ToolResultInput {
  return {
    toolUseId: str(block['tool_use_id']) ?? '',
    isError: block['is_error'] === true,
    content: toolContent(block['content']),
  };
}
