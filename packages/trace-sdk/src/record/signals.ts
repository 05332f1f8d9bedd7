/**
 * Opt-in: finish recorders on a termination signal (the SIGTERM that ECS, Kubernetes and most
 * supervisors send before SIGKILL) within a grace period, then let the process end as it would
 * have without us.
 *
 * Node's default for SIGTERM is to die at once, losing whatever was not uploaded. Installing a
 * listener replaces that default, so after finishing, when no other listener for the signal
 * remains, the signal is raised again with the default restored: the process exits "killed by
 * SIGTERM", as supervisors expect. When the application has its own listener, exiting is its
 * decision and nothing is raised again.
 *
 * One process listener per signal serves every registered recorder.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { FinishResult, TraceRecorder } from './types.js';

/** Options of {@link finishOnSignal}. */
export interface FinishOnSignalOptions {
  /** Signals to handle. Default `['SIGTERM']`. */
  readonly signals?: readonly NodeJS.Signals[] | undefined;
  /**
   * Time from the signal to the end of `finish`, in ms (default 10 000, below the 30 s that ECS and
   * Kubernetes wait before SIGKILL). The upload gets this as its `timeoutMs`; what cannot be sent
   * in time is kept in the spool directory.
   */
  readonly graceMs?: number | undefined;
  /** Called with each recorder's result (for logs). Its errors are ignored. */
  readonly onFinished?: ((result: FinishResult, recorder: TraceRecorder) => void) | undefined;
}

/** Default grace period of {@link finishOnSignal}. */
export const DEFAULT_SIGNAL_GRACE_MS = 10_000;

interface Registration {
  readonly recorder: TraceRecorder;
  readonly graceMs: number;
  readonly onFinished: FinishOnSignalOptions['onFinished'];
}

/** Recorders registered per signal, and the one process listener serving them. */
const registry = new Map<NodeJS.Signals, { regs: Set<Registration>; listener: () => void }>();

function listenerFor(signal: NodeJS.Signals): () => void {
  const listener = () => {
    const entry = registry.get(signal);
    const regs = entry === undefined ? [] : [...entry.regs];
    // Only once per signal: a second SIGTERM while finishing must not finish twice or re-raise early.
    process.removeListener(signal, listener);
    registry.delete(signal);
    for (const other of registry.values()) for (const r of regs) other.regs.delete(r);
    const grace = Math.max(0, ...regs.map((r) => r.graceMs));
    const finishing = regs.map(async (r) => {
      try {
        const result = await r.recorder.finish({ timeoutMs: r.graceMs });
        try {
          r.onFinished?.(result, r.recorder);
        } catch {
          // A logging hook must not change the outcome.
        }
      } catch {
        // failOpen: false rejects; the artifact is spooled either way.
      }
    });
    // Keep the process alive until every finish settles, or the grace has passed.
    const keepAlive = setTimeout(() => {}, grace + 1000);
    void Promise.allSettled(finishing).then(() => {
      clearTimeout(keepAlive);
      // Exit as the process would have: raise the signal again if nobody else is listening.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  return listener;
}

/**
 * Finishes `recorder` (upload, or spool what cannot be uploaded) when the process receives one
 * of `signals`, within `graceMs`, then lets the process end as the signal would have: the signal
 * is raised again once no other listener for it is installed.
 *
 * `process.exit()` cannot be handled this way (no asynchronous work runs after it): call and
 * await `finish()` before exiting. See docs/operations.md.
 *
 * @returns a function that removes the registration (also done when the signal arrives).
 * @throws {@link ConfigError} for a bad option.
 * @example
 * const rec = createTraceRecorder({ userId, taskId, transport });
 * const dispose = finishOnSignal(rec, { graceMs: 20_000 });
 */
export function finishOnSignal(recorder: TraceRecorder, options: FinishOnSignalOptions = {}): () => void {
  if (recorder === null || typeof recorder?.finish !== 'function') {
    throw new ConfigError('finishOnSignal expects a TraceRecorder', 'recorder');
  }
  const signals = options.signals ?? ['SIGTERM'];
  if (!Array.isArray(signals) || signals.some((s) => typeof s !== 'string' || !/^SIG[A-Z0-9]+$/.test(s))) {
    throw new ConfigError('signals must be an array of signal names such as "SIGTERM"', 'signals');
  }
  const graceMs = options.graceMs ?? DEFAULT_SIGNAL_GRACE_MS;
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0 || graceMs > 2 ** 31 - 1) {
    throw new ConfigError('graceMs must be a number of milliseconds from 0 to about 24.8 days', 'graceMs');
  }
  if (options.onFinished !== undefined && typeof options.onFinished !== 'function') {
    throw new ConfigError('onFinished must be a function', 'onFinished');
  }
  const reg: Registration = { recorder, graceMs, onFinished: options.onFinished };
  for (const signal of new Set(signals)) {
    let entry = registry.get(signal);
    if (entry === undefined) {
      entry = { regs: new Set(), listener: listenerFor(signal) };
      registry.set(signal, entry);
      process.on(signal, entry.listener);
    }
    entry.regs.add(reg);
  }
  return () => {
    for (const [signal, entry] of registry) {
      entry.regs.delete(reg);
      if (entry.regs.size === 0) {
        process.removeListener(signal, entry.listener);
        registry.delete(signal);
      }
    }
  };
}
