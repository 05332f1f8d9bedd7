/**
 * What every framework adapter shares: the slice of the recorder it writes to, and the rule that an
 * adapter never throws into the agent's loop.
 *
 * @packageDocumentation
 */
import type { TraceRecorder } from '../../record/types.js';

/**
 * The part of a {@link TraceRecorder} an adapter writes to. A `TraceRecorder` is one; tests and
 * runtimes that fan out to several recorders can pass their own.
 */
export type TraceSink = Pick<
  TraceRecorder,
  'record' | 'recordTurn' | 'recordResult' | 'recordPolicyDecision'
>;

/** Options every adapter takes. */
export interface AdapterOptions {
  /**
   * Called with any error an adapter swallowed (a hostile message, a sink that threw). Never
   * rethrown: the agent's loop must not see a tracing failure. Errors from this callback are
   * swallowed too. Default: ignore.
   */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** Runs `fn`; any error goes to `onError` (itself guarded) instead of the caller. */
export function guarded(onError: AdapterOptions['onError'], fn: () => void): void {
  try {
    fn();
  } catch (err) {
    try {
      onError?.(err);
    } catch {
      // A failing error callback must not reach the agent either.
    }
  }
}

/** `value` when it is a string, else `undefined`. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `value` when it is a finite number, else `undefined`. */
export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** `value` as a plain record, or `undefined` for anything else (arrays included). */
export function rec(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * A tool's output as a `tool_results[].content`: strings and content-block arrays as they are,
 * anything else as JSON (the recorder redacts and truncates strings; it cannot truncate an object).
 */
export function toolContent(value: unknown): string | readonly unknown[] {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  if (value === undefined || value === null) return '';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Parses a JSON string argument list; keeps the string when it is not JSON. */
export function parseJsonArgs(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
