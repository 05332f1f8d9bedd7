/**
 * In-process re-delivery of spooled traces (as Sentry's offline transport retries its store):
 * `uploadSpooled` for the given keys, again and again with full-jitter exponential backoff, until
 * nothing of them is left in the spool or a deadline passes.
 *
 * Trust: it only ever delivers the traces named in `keys` (each run of `uploadSpooled` is scoped to
 * one exact key), through a transport the caller holds credentials for (a recorder's own key and
 * its own URL or grant provider). A spool directory may hold other traces, and anything in it may
 * have been written by the agent: those are refused (`out-of-scope`) and left to the trusted
 * `agent-trace spool flush`.
 *
 * @packageDocumentation
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../errors.js';
import { parseTraceKey } from '../key.js';
import { numberOption } from '../option-checks.js';
import { backoffDelay } from '../upload/retry.js';
import type { TraceTransport } from '../upload/types.js';
import { listSpooled } from './spool-store.js';
import { uploadSpooled } from './upload-spooled.js';

/** Options of {@link redeliverSpooled}. */
export interface RedeliverOptions {
  /** The spool directory (the recorder's `spoolDir`). */
  readonly spoolDir: string;
  /** A transport holding credentials for exactly these keys (e.g. the recorder's own). */
  readonly transport: TraceTransport;
  /** The traces to re-deliver (at least one), e.g. `[recorder.key]`. */
  readonly keys: readonly string[];
  /** Give up after this many ms (default 15 minutes); what is left stays spooled. */
  readonly deadlineMs?: number | undefined;
  /** Backoff base between rounds, in ms (default 1000). */
  readonly minDelayMs?: number | undefined;
  /** Longest backoff between rounds, in ms (default 60 000). */
  readonly maxDelayMs?: number | undefined;
  /** Stops after the current upload. */
  readonly signal?: AbortSignal | undefined;
}

/** What {@link redeliverSpooled} achieved. */
export interface RedeliverResult {
  /** `delivered`: none of the keys is left in the spool; `pending`: some are (deadline or abort). */
  readonly status: 'delivered' | 'pending';
  /** Keys uploaded. */
  readonly uploaded: readonly string[];
  /** Keys still spooled. */
  readonly remaining: readonly string[];
  /** Rounds of `uploadSpooled` run. */
  readonly rounds: number;
}

/** Defaults of {@link RedeliverOptions}. */
export const DEFAULT_REDELIVERY = { deadlineMs: 15 * 60_000, minDelayMs: 1000, maxDelayMs: 60_000 } as const;

/**
 * Uploads the spooled artifacts of `keys` until none is left or `deadlineMs` passes, backing off
 * between rounds. Never rejects for a failed upload (they stay spooled); its timers do not keep
 * the process alive, so run it alongside the agent's own work.
 *
 * @throws {@link ConfigError} for bad options, TraceKeyError for a key that is not a trace key.
 * @example
 * const result = await rec.finish();
 * if (result.status === 'failed' && result.spooledPath)
 *   void redeliverSpooled({ spoolDir, transport, keys: [rec.key] });
 */
export async function redeliverSpooled(opts: RedeliverOptions): Promise<RedeliverResult> {
  const owner = 'redeliverSpooled';
  if (!Array.isArray(opts?.keys) || opts.keys.length === 0) {
    throw new ConfigError(`${owner}: keys must name at least one trace key`, 'keys');
  }
  for (const key of opts.keys) parseTraceKey(key);
  const limits = { min: 0, max: 2 ** 31 - 1 };
  const deadlineMs = numberOption(
    owner,
    'deadlineMs',
    opts.deadlineMs,
    DEFAULT_REDELIVERY.deadlineMs,
    limits,
  );
  const minDelayMs = numberOption(
    owner,
    'minDelayMs',
    opts.minDelayMs,
    DEFAULT_REDELIVERY.minDelayMs,
    limits,
  );
  const maxDelayMs = numberOption(
    owner,
    'maxDelayMs',
    opts.maxDelayMs,
    DEFAULT_REDELIVERY.maxDelayMs,
    limits,
  );

  const deadline = AbortSignal.timeout(Math.max(1, deadlineMs));
  const signal = opts.signal === undefined ? deadline : AbortSignal.any([opts.signal, deadline]);
  const wanted = new Set(opts.keys);
  const uploaded = new Set<string>();
  const remainingKeys = async () =>
    [...new Set((await listSpooled(opts.spoolDir)).map((e) => e.key))].filter((k) => wanted.has(k));
  let rounds = 0;
  let remaining = await remainingKeys();
  while (remaining.length > 0 && !signal.aborted) {
    rounds++;
    for (const key of remaining) {
      if (signal.aborted) break;
      // The scope is this exact key: every other entry is refused before anything is sent.
      const { userId, taskId } = parseTraceKey(key);
      const result = await uploadSpooled({
        spoolDir: opts.spoolDir,
        transport: opts.transport,
        scope: { userId, taskId },
        signal,
      });
      for (const u of result.uploaded) uploaded.add(u.key);
    }
    remaining = await remainingKeys();
    if (remaining.length === 0 || signal.aborted) break;
    try {
      await sleep(backoffDelay(rounds - 1, { minDelayMs, maxDelayMs }), undefined, { signal, ref: false });
    } catch {
      break; // deadline or abort
    }
  }
  return {
    status: remaining.length === 0 ? 'delivered' : 'pending',
    uploaded: [...uploaded],
    remaining,
    rounds,
  };
}
