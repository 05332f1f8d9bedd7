/**
 * `@agent-trace/trace-sdk/claude-agent-sdk`: record a Claude Agent SDK (`@anthropic-ai/claude-agent-sdk`)
 * run with the event shapes the Python agent wrote.
 *
 * ```ts
 * const rec = createTraceRecorder({ userId, taskId, transport });
 * const q = traceQuery(rec, query({ prompt, options: traceOptions(rec, options) }));
 * for await (const message of q) { ... }   // the same messages query() yields
 * await rec.finish();
 * ```
 *
 * Loads nothing from the SDK at run time: it works on the messages and options the caller passes.
 *
 * @packageDocumentation
 */
export type { AdapterOptions, TraceSink } from '../shared/sink.js';
export { type TraceableClaudeOptions, traceOptions } from './hooks.js';
export { traceQuery } from './query.js';
export { ClaudeTurnRecorder } from './turns.js';
