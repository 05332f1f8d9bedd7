/**
 * The event types the Python agent writes, as TypeScript types, and builders that turn the typed
 * helpers' camelCase input into the artifact's snake_case fields.
 *
 * Field mapping (helper input → line field):
 *
 * | Helper                  | Event               | Mapping                                                                                              |
 * | ----------------------- | ------------------- | ---------------------------------------------------------------------------------------------------- |
 * | `recordTurn`            | `TRAJECTORY_TURN`   | `turn`, `model`, `thinking`, `text` as is; `toolCalls[{id?,name,input}]` → `tool_calls[{id?,name,input}]`; `toolResults[{toolUseId,isError,content}]` → `tool_results[{tool_use_id,is_error,content}]` |
 * | `recordResult`          | `TRAJECTORY_RESULT` | `subtype`; `numTurns` → `num_turns`; `costUsd` → `cost_usd`; `durationMs` → `duration_ms`; `durationApiMs` → `duration_api_ms`; `sessionId` → `session_id`; `usage` as is |
 * | `recordPolicyDecision`  | `POLICY_DECISION`   | `toolName` → `tool_name`; `allowed`, `reason` as is; `durationMs` → `duration_ms`                    |
 * | `recordOutputScreening` | `OUTPUT_SCREENING`  | `toolName` → `tool_name`; `findings`, `redacted` as is; `durationMs` → `duration_ms`                 |
 *
 * Optional inputs left `undefined` are omitted from the line, except `tool_calls`/`tool_results`
 * (always arrays) and `is_error` (defaults to `false`). Every line also carries `event`, `task_id`,
 * `seq`, `ts` and, when an OpenTelemetry span is active, `trace_id`/`span_id`.
 *
 * @packageDocumentation
 */

/** Event name of one agent turn. */
export const TRAJECTORY_TURN = 'TRAJECTORY_TURN';
/** Event name of the run's final result. */
export const TRAJECTORY_RESULT = 'TRAJECTORY_RESULT';
/** Event name of a tool-use policy decision. */
export const POLICY_DECISION = 'POLICY_DECISION';
/** Event name of an output-screening pass. */
export const OUTPUT_SCREENING = 'OUTPUT_SCREENING';
/** Event name of the first line of every artifact. */
export const TRAJECTORY_ARTIFACT_HEADER = 'TRAJECTORY_ARTIFACT_HEADER';
/** Written as `event` when an event has no string `event` name. */
export { UNKNOWN_EVENT } from '../serialize/event-serializer.js';

/** Any event passed to `record`: an `event` name plus JSON-able fields (anything else is coerced). */
export interface TraceEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** Fields the recorder writes on every line; values with these names in an event are replaced. */
export interface StampedFields {
  readonly event: string;
  readonly task_id: string;
  /** 0-based, dense among kept events. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly ts: number;
  /** Active OpenTelemetry trace id (32 hex), when a span was active. */
  readonly trace_id?: string;
  /** Active OpenTelemetry span id (16 hex), when a span was active. */
  readonly span_id?: string;
}

/** Content of a tool result: a string, or content blocks such as `{ type: 'text', text }`. */
export type ToolResultContent = string | readonly unknown[];

/** A tool call as written: `{ name, input }` (and `id` when given). */
export interface ToolCallRecord {
  readonly id?: string;
  readonly name: string;
  readonly input: unknown;
}

/** A tool result as written. `content` strings (and text blocks) over 2000 chars are truncated. */
export interface ToolResultRecord {
  readonly tool_use_id: string;
  readonly is_error: boolean;
  readonly content: ToolResultContent;
}

/** `TRAJECTORY_TURN`: one model turn. `thinking`/`text` over 4000 chars are truncated. */
export interface TrajectoryTurnEvent extends TraceEvent {
  readonly event: typeof TRAJECTORY_TURN;
  readonly turn: number;
  readonly model: string;
  readonly thinking: string;
  readonly text: string;
  readonly tool_calls: readonly ToolCallRecord[];
  readonly tool_results: readonly ToolResultRecord[];
}

/** `TRAJECTORY_RESULT`: how the run ended. */
export interface TrajectoryResultEvent extends TraceEvent {
  readonly event: typeof TRAJECTORY_RESULT;
  /** E.g. `success`, `error_max_turns`. */
  readonly subtype: string;
  readonly num_turns: number;
  readonly cost_usd: number | null;
  readonly duration_ms: number | null;
  readonly duration_api_ms: number | null;
  readonly session_id: string;
  /** Token usage as reported by the model API (field names as given). */
  readonly usage: Readonly<Record<string, unknown>> | null;
}

/** `POLICY_DECISION`: whether a tool call was allowed. */
export interface PolicyDecisionEvent extends TraceEvent {
  readonly event: typeof POLICY_DECISION;
  readonly tool_name: string;
  readonly allowed: boolean;
  readonly reason: string;
  readonly duration_ms: number | null;
}

/** `OUTPUT_SCREENING`: what screening a tool's output found. */
export interface OutputScreeningEvent extends TraceEvent {
  readonly event: typeof OUTPUT_SCREENING;
  readonly tool_name: string;
  readonly findings: readonly unknown[];
  /** Whether the screened output was redacted before the model saw it. */
  readonly redacted: boolean;
  readonly duration_ms: number | null;
}

/** One of the four event types the typed helpers write. */
export type KnownTraceEvent =
  | TrajectoryTurnEvent
  | TrajectoryResultEvent
  | PolicyDecisionEvent
  | OutputScreeningEvent;

/** Input of `recordTurn`. */
export interface TurnInput {
  /** Turn number (the Python agent counts from 1). */
  readonly turn: number;
  readonly model?: string | undefined;
  readonly thinking?: string | undefined;
  readonly text?: string | undefined;
  readonly toolCalls?: readonly ToolCallInput[] | undefined;
  readonly toolResults?: readonly ToolResultInput[] | undefined;
}

/** A tool call in {@link TurnInput}. */
export interface ToolCallInput {
  /** The tool-use id, when the model API gives one. */
  readonly id?: string | undefined;
  readonly name: string;
  readonly input?: unknown;
}

/** A tool result in {@link TurnInput}. */
export interface ToolResultInput {
  readonly toolUseId: string;
  /** Default `false`. */
  readonly isError?: boolean | undefined;
  /** Default `''`. */
  readonly content?: ToolResultContent | undefined;
}

/** Input of `recordResult`. */
export interface ResultInput {
  readonly subtype: string;
  readonly numTurns: number;
  readonly costUsd?: number | undefined;
  readonly durationMs?: number | undefined;
  readonly durationApiMs?: number | undefined;
  readonly sessionId?: string | undefined;
  readonly usage?: Readonly<Record<string, unknown>> | undefined;
}

/** Input of `recordPolicyDecision`. */
export interface PolicyDecisionInput {
  readonly toolName: string;
  readonly allowed: boolean;
  readonly reason?: string | undefined;
  readonly durationMs?: number | undefined;
}

/** Input of `recordOutputScreening`. */
export interface OutputScreeningInput {
  readonly toolName: string;
  readonly findings?: readonly unknown[] | undefined;
  readonly redacted: boolean;
  readonly durationMs?: number | undefined;
}

function toolCall(c: ToolCallInput): ToolCallRecord {
  return c.id === undefined ? { name: c.name, input: c.input } : { id: c.id, name: c.name, input: c.input };
}

function toolResult(r: ToolResultInput): ToolResultRecord {
  return { tool_use_id: r.toolUseId, is_error: r.isError ?? false, content: r.content ?? '' };
}

/** Builds a `TRAJECTORY_TURN` event from camelCase input. */
// The Python agent writes every field of the four known events on every line: strings it types
// `str` as "" when absent, numbers and objects as null. Python consumers index them directly
// (`e["usage"]`), so a missing field would be a KeyError; omitting is not an option here.

export function turnEvent(input: TurnInput): TrajectoryTurnEvent {
  return {
    event: TRAJECTORY_TURN,
    turn: input.turn,
    model: input.model ?? '',
    thinking: input.thinking ?? '',
    text: input.text ?? '',
    tool_calls: Array.isArray(input.toolCalls) ? input.toolCalls.map(toolCall) : [],
    tool_results: Array.isArray(input.toolResults) ? input.toolResults.map(toolResult) : [],
  };
}

/** Builds a `TRAJECTORY_RESULT` event from camelCase input. */
export function resultEvent(input: ResultInput): TrajectoryResultEvent {
  return {
    event: TRAJECTORY_RESULT,
    subtype: input.subtype,
    num_turns: input.numTurns,
    cost_usd: input.costUsd ?? null,
    duration_ms: input.durationMs ?? null,
    duration_api_ms: input.durationApiMs ?? null,
    session_id: input.sessionId ?? '',
    usage: input.usage ?? null,
  };
}

/** Builds a `POLICY_DECISION` event from camelCase input. */
export function policyDecisionEvent(input: PolicyDecisionInput): PolicyDecisionEvent {
  return {
    event: POLICY_DECISION,
    tool_name: input.toolName,
    allowed: input.allowed,
    reason: input.reason ?? '',
    duration_ms: input.durationMs ?? null,
  };
}

/** Builds an `OUTPUT_SCREENING` event from camelCase input. */
export function outputScreeningEvent(input: OutputScreeningInput): OutputScreeningEvent {
  return {
    event: OUTPUT_SCREENING,
    tool_name: input.toolName,
    findings: Array.isArray(input.findings) ? input.findings : [],
    redacted: input.redacted,
    duration_ms: input.durationMs ?? null,
  };
}
