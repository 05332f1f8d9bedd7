/**
 * Records the permission decisions a Claude Agent SDK run makes as `POLICY_DECISION` events, by
 * wrapping the caller's own `PreToolUse` hooks and `canUseTool` callback: each is called as before
 * and its answer returned unchanged; the adapter only reads the decision.
 *
 * - `PreToolUse` hook output `hookSpecificOutput.permissionDecision` `allow` / `deny` (or the older
 *   top-level `decision` `approve` / `block`) → `allowed` true / false, with
 *   `permissionDecisionReason` (or `reason`) as `reason`. `ask`, `defer` and no decision are not
 *   decisions and are not recorded.
 * - `canUseTool` result `behavior` `allow` / `deny` → `allowed`, `message` → `reason`.
 * - `tool_name` from the hook input / `canUseTool` argument; `duration_ms` is the time the hook or
 *   callback took.
 *
 * @packageDocumentation
 */
import { type AdapterOptions, guarded, rec, str, type TraceSink } from '../shared/sink.js';

type AnyFn = (...args: never[]) => unknown;

/** The parts of the SDK's `Options` this module reads (any SDK version with them works). */
export interface TraceableClaudeOptions {
  hooks?: Partial<Record<string, readonly { hooks: readonly AnyFn[] }[]>> | undefined;
  canUseTool?: AnyFn | undefined;
}

function recordDecision(
  sink: TraceSink,
  options: AdapterOptions,
  toolName: unknown,
  decision: { allowed: boolean; reason: string | undefined } | undefined,
  started: number,
): void {
  guarded(options.onError, () => {
    if (decision === undefined) return;
    sink.recordPolicyDecision({
      toolName: str(toolName) ?? '',
      allowed: decision.allowed,
      reason: decision.reason,
      durationMs: Math.round(performance.now() - started),
    });
  });
}

/** The decision in a `PreToolUse` hook's output, if it made one. */
function hookDecision(output: unknown): { allowed: boolean; reason: string | undefined } | undefined {
  const out = rec(output);
  const specific = rec(out?.['hookSpecificOutput']);
  const decision = specific?.['permissionDecision'];
  if (decision === 'allow' || decision === 'deny')
    return { allowed: decision === 'allow', reason: str(specific?.['permissionDecisionReason']) };
  if (out?.['decision'] === 'approve' || out?.['decision'] === 'block')
    return { allowed: out['decision'] === 'approve', reason: str(out['reason']) };
  return undefined;
}

/** The decision in a `canUseTool` result. */
function permissionDecision(result: unknown): { allowed: boolean; reason: string | undefined } | undefined {
  const r = rec(result);
  if (r?.['behavior'] === 'allow') return { allowed: true, reason: undefined };
  if (r?.['behavior'] === 'deny') return { allowed: false, reason: str(r['message']) };
  return undefined;
}

/**
 * Returns a copy of `options` whose `PreToolUse` hooks and `canUseTool` also record their decisions.
 * Everything else, and every answer, is unchanged; `options` itself is not modified.
 */
export function traceOptions<O extends TraceableClaudeOptions>(
  sink: TraceSink,
  options: O,
  adapter: AdapterOptions = {},
): O {
  const out: O = { ...options };
  const preToolUse = options.hooks?.['PreToolUse'];
  if (Array.isArray(preToolUse)) {
    out.hooks = {
      ...options.hooks,
      PreToolUse: preToolUse.map((matcher: { hooks: readonly AnyFn[] }) => ({
        ...matcher,
        hooks: matcher.hooks.map((hook: AnyFn) => {
          const wrapped = async (...args: unknown[]) => {
            const started = performance.now();
            const output = await (hook as unknown as (...a: unknown[]) => unknown)(...args);
            recordDecision(sink, adapter, rec(args[0])?.['tool_name'], hookDecision(output), started);
            return output;
          };
          return wrapped as unknown as AnyFn;
        }),
      })),
    };
  }
  const canUseTool = options.canUseTool;
  if (typeof canUseTool === 'function') {
    const wrapped = async (...args: unknown[]) => {
      const started = performance.now();
      const result = await (canUseTool as unknown as (...a: unknown[]) => unknown)(...args);
      recordDecision(sink, adapter, args[0], permissionDecision(result), started);
      return result;
    };
    out.canUseTool = wrapped as unknown as AnyFn;
  }
  return out;
}
