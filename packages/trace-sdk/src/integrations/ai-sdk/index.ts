/**
 * `@agent-trace/trace-sdk/ai-sdk`: record a Vercel AI SDK (`ai`) run — `generateText`, `streamText`
 * or a `ToolLoopAgent` — by adding step and finish callbacks to the call's own parameters.
 *
 * ```ts
 * const rec = createTraceRecorder({ userId, taskId, transport });
 * const result = await generateText(traceAiSdk(rec, { model, tools, stopWhen: stepCountIs(8), prompt }));
 * await rec.finish();
 * ```
 *
 * Mapping:
 * - each step (one model call and the tools it ran) → `TRAJECTORY_TURN`: `turn` = step number + 1
 *   (AI SDK 7; on 5 and 6, the step's position),
 *   `model` = the step's model id, `thinking` = `reasoningText`, `text`,
 *   `tool_calls[{id,name,input}]` from the step's tool calls, `tool_results[{tool_use_id,is_error,content}]`
 *   from its `tool-result` / `tool-error` parts, in call order (non-string outputs as JSON);
 * - the finish callback → `TRAJECTORY_RESULT`: `subtype` from the last finish reason (`stop` →
 *   `success`, `tool-calls` → `error_max_turns` (the loop stopped with tool calls pending), `length` →
 *   `error_max_tokens`, `error` → `error_during_execution`, anything else as given), `num_turns` =
 *   steps, `duration_ms` from the run's first step (`prepareStep`, chained, its answer unchanged) to the
 *   finish callback, `usage` = `totalUsage`
 *   (AI SDK field names), plus `finish_reason` as the SDK gave it. The AI SDK reports no cost.
 *
 * The caller's own callbacks run first and unchanged (whichever name they use: `onStepEnd`/`onEnd`
 * on AI SDK 7, `onStepFinish`/`onFinish` on 5–7). Loads nothing from `ai` at run time.
 *
 * @packageDocumentation
 */
import { resultEvent, type ToolCallInput, type ToolResultInput } from '../../record/events.js';
import { type AdapterOptions, guarded, num, rec, str, type TraceSink, toolContent } from '../shared/sink.js';

export type { AdapterOptions, TraceSink } from '../shared/sink.js';

type Callback = (event: never) => unknown;

/** The callback parameters `traceAiSdk` adds to or chains (any AI SDK call or agent settings have them). */
export interface TraceableAiSdkParams {
  prepareStep?: Callback | undefined;
  onStepFinish?: Callback | undefined;
  onStepEnd?: Callback | undefined;
  onFinish?: Callback | undefined;
  onEnd?: Callback | undefined;
}

const SUBTYPES: Readonly<Record<string, string>> = {
  stop: 'success',
  'tool-calls': 'error_max_turns',
  length: 'error_max_tokens',
  error: 'error_during_execution',
};

/**
 * Records one AI SDK step as a turn. Exposed for runtimes that drive steps themselves. `turn` is
 * used when the step carries no `stepNumber` (AI SDK 5 steps do not).
 */
export function recordAiSdkStep(
  sink: TraceSink,
  step: unknown,
  options: AdapterOptions = {},
  turn = 0,
): void {
  guarded(options.onError, () => {
    const s = rec(step);
    if (s === undefined) return;
    const toolCalls: ToolCallInput[] = [];
    for (const raw of Array.isArray(s['toolCalls']) ? s['toolCalls'] : []) {
      const call = rec(raw);
      if (call === undefined) continue;
      toolCalls.push({
        id: str(call['toolCallId']),
        name: str(call['toolName']) ?? '',
        input: call['input'],
      });
    }
    const toolResults: ToolResultInput[] = [];
    for (const raw of Array.isArray(s['content']) ? s['content'] : []) {
      const part = rec(raw);
      if (part?.['type'] === 'tool-result')
        toolResults.push({
          toolUseId: str(part['toolCallId']) ?? '',
          isError: false,
          content: toolContent(part['output']),
        });
      else if (part?.['type'] === 'tool-error')
        toolResults.push({
          toolUseId: str(part['toolCallId']) ?? '',
          isError: true,
          content: errorText(part['error']),
        });
    }
    // Streams deliver results in completion order; write them in call order, as the model asked.
    const order = (r: ToolResultInput) => {
      const i = toolCalls.findIndex((c) => c.id === r.toolUseId);
      return i < 0 ? toolCalls.length : i;
    };
    toolResults.sort((a, b) => order(a) - order(b));
    const stepNumber = num(s['stepNumber']);
    sink.recordTurn({
      turn: stepNumber === undefined ? turn : stepNumber + 1,
      // AI SDK 7 names the model on the step; 5 and 6 only in the response metadata.
      model: str(rec(s['model'])?.['modelId']) ?? str(rec(s['response'])?.['modelId']),
      thinking: str(s['reasoningText']),
      text: str(s['text']),
      toolCalls,
      toolResults,
    });
  });
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  const content = toolContent(error);
  return typeof content === 'string' ? content : JSON.stringify(content);
}

/**
 * Returns `params` with callbacks that record every step and the final result on `sink`. Works for
 * `generateText`, `streamText`, `ToolLoopAgent` settings and `agent.generate/stream` parameters.
 * `params` itself is not modified.
 */
export function traceAiSdk<P extends object>(sink: TraceSink, params: P, options: AdapterOptions = {}): P {
  let started = performance.now();
  let steps = 0;
  // Agent settings and params objects are reused for several runs: each run starts afresh at its
  // first step (AI SDK 6 has no start callback; prepareStep is called before every step on 6 and 7).
  const onPrepare = (event: unknown) => {
    guarded(options.onError, () => {
      if (rec(event)?.['stepNumber'] !== 0) return;
      started = performance.now();
      steps = 0;
    });
  };
  const onStep = (step: unknown) => {
    steps += 1;
    recordAiSdkStep(sink, step, options, steps);
  };
  const onFinish = (event: unknown) => {
    guarded(options.onError, () => {
      const e = rec(event);
      const finishReason = str(e?.['finishReason']) ?? 'unknown';
      const allSteps = e?.['steps'];
      // Every field the Python agent writes (via resultEvent), plus the SDK's own finish reason.
      sink.record({
        ...resultEvent({
          subtype: SUBTYPES[finishReason] ?? finishReason,
          numTurns: Array.isArray(allSteps) ? allSteps.length : steps,
          durationMs: Math.round(performance.now() - started),
          usage: rec(e?.['totalUsage']) ?? rec(e?.['usage']),
        }),
        finish_reason: finishReason,
      });
    });
  };
  const given = params as TraceableAiSdkParams;
  const out: TraceableAiSdkParams = { ...given };
  const stepKey = given.onStepEnd !== undefined ? 'onStepEnd' : 'onStepFinish';
  const finishKey = given.onEnd !== undefined ? 'onEnd' : 'onFinish';
  out[stepKey] = chain(given[stepKey], onStep);
  out[finishKey] = chain(given[finishKey], onFinish);
  const prepareStep = given.prepareStep;
  // Ours first and synchronously, then the caller's, whose answer (or its absence) is the SDK's.
  out.prepareStep = ((event: unknown) => {
    onPrepare(event);
    return prepareStep === undefined ? undefined : (prepareStep as (e: unknown) => unknown)(event);
  }) as Callback;
  return out as P;
}

/** The caller's callback first (its result and errors are the SDK's business), then ours. */
function chain(user: Callback | undefined, ours: (event: unknown) => void): Callback {
  return (async (event: unknown) => {
    try {
      if (user !== undefined) return await (user as (e: unknown) => unknown)(event);
    } finally {
      ours(event);
    }
  }) as Callback;
}
