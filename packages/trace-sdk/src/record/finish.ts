/**
 * How a recording ends: seal the spool (the header member first), then hand the body to the one
 * delivery boundary, which keeps it in the spool directory when the upload fails. The recorder
 * keeps recording; this module keeps finishing.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { ConfigError, SpoolError, TraceError } from '../errors.js';
import { safeCause, safeErrorMessage } from '../sanitize.js';
import { ensureSpoolDir } from '../spool/private-dir.js';
import { spoolDirStore } from '../spool/spool-store.js';
import type { EventSpool, SealedBody } from '../spool/types.js';
import { type ArtifactStore, deliver } from '../upload/deliver.js';
import { TRACE_CONTENT_TYPE, type TraceArtifact, type TraceTransport } from '../upload/types.js';
import type { Checkpointer } from './checkpoint.js';
import type { ResolvedOptions } from './options.js';
import type { FinishOptions, FinishResult, FinishResultBase } from './types.js';

/** What finishing needs of a recorder. */
export interface FinishInput {
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  readonly opts: ResolvedOptions;
  readonly spool: EventSpool;
  /** Why the spool directory is not used, when it is not. */
  readonly spoolRefusal: SpoolError | undefined;
  readonly checkpoints: Checkpointer | undefined;
  /** The counts every result carries, for `body` (undefined when there is none). */
  counts(body: SealedBody | undefined): Omit<FinishResultBase, 'transport' | 'legacy'>;
  /** The final header line. */
  headerLine(): string;
}

/** Seals the trace and delivers it; see the module comment. Rejects only with `failOpen: false`. */
export async function sealAndDeliver(input: FinishInput, opts: FinishOptions): Promise<FinishResult> {
  const started = performance.now();
  // No checkpoint may land after (and over) the final upload; waiting for one takes at most a
  // quarter of the deadline (none when there is no time left).
  const timeoutMs = opts.timeoutMs;
  await input.checkpoints?.stop(timeoutMs === undefined ? undefined : timeoutMs / 4);
  const line = input.headerLine();
  let body: SealedBody;
  try {
    body = await input.spool.seal(line);
  } catch (err) {
    const error =
      err instanceof TraceError
        ? err
        : new SpoolError(`Sealing the trace failed: ${safeErrorMessage(err)}`, { cause: safeCause(err) });
    if (!input.opts.failOpen) throw error;
    return { ...input.counts(undefined), status: 'failed', error };
  }
  try {
    const transport = input.opts.transport;
    if (transport === null) return { ...input.counts(body), status: 'skipped', reason: 'no-transport' };
    // The deadline bounds the whole of finish: the upload gets what stopping and sealing left.
    const left =
      timeoutMs === undefined || !Number.isFinite(timeoutMs)
        ? timeoutMs
        : Math.max(0, Math.floor(timeoutMs - (performance.now() - started)));
    return await deliverBody(input, transport, body, { ...opts, timeoutMs: left });
  } finally {
    await body.dispose().catch(() => {});
  }
}

async function deliverBody(
  input: FinishInput,
  transport: TraceTransport,
  body: SealedBody,
  opts: FinishOptions,
): Promise<FinishResult> {
  const artifact: TraceArtifact = {
    key: input.key,
    userId: input.userId,
    taskId: input.taskId,
    byteLength: body.byteLength,
    sha256: body.sha256,
    contentType: TRACE_CONTENT_TYPE,
    open: () => body.open(),
  };
  const delivery = await deliver(transport, artifact, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    store:
      input.spoolRefusal === undefined
        ? spoolDirStore(input.opts.spoolDir, body)
        : refusedStore(input.spoolRefusal),
  });
  const base = {
    ...input.counts(body),
    attempts: delivery.attempts,
    transport: transport.name,
    ...(transport.bucketWide === true ? { legacy: true } : {}),
  };
  if (delivery.status === 'uploaded') {
    const uri = delivery.receipt?.uri;
    const skew = delivery.receipt?.clockSkewMs;
    return {
      ...base,
      status: 'uploaded',
      ...(uri === undefined ? {} : { uri }),
      ...(typeof skew === 'number' && Number.isFinite(skew) && skew !== 0 ? { clockSkewMs: skew } : {}),
    };
  }
  if (!input.opts.failOpen) throw delivery.error;
  return {
    ...base,
    status: 'failed',
    error: delivery.error,
    ...(delivery.keptAt === undefined ? {} : { spooledPath: delivery.keptAt }),
  };
}

/** The store of a recorder whose spool directory was refused: it keeps nothing, and says why. */
function refusedStore(refusal: SpoolError): ArtifactStore {
  return {
    location: 'the spool directory',
    keep: async () => {
      throw refusal;
    },
  };
}

/**
 * Why the spool directory must not be used (the default one is not private), else undefined.
 * Warns once per refusal: recording goes on in memory.
 */
export function spoolDirRefusal(spoolDir: string): SpoolError | undefined {
  try {
    ensureSpoolDir(spoolDir);
    return undefined;
  } catch (err) {
    const refusal = err instanceof SpoolError ? err : new SpoolError(safeErrorMessage(err));
    try {
      process.emitWarning(`${refusal.message}; recording in memory only`, {
        code: 'AGENT_TRACE_SPOOL_REFUSED',
      });
    } catch {
      // Warnings are best effort.
    }
    return refusal;
  }
}

/**
 * A {@link ConfigError} for a finish option of the wrong type (the recorder stays open), else
 * `undefined`. Any number is accepted for `timeoutMs`: zero, negative or NaN mean "no time left".
 */
export function invalidFinishOption(opts: FinishOptions): TraceError | undefined {
  if (opts === null || typeof opts !== 'object')
    return new ConfigError('finish expects an options object', 'options');
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
    return new ConfigError('signal must be an AbortSignal', 'signal');
  }
  if (opts.timeoutMs !== undefined && typeof opts.timeoutMs !== 'number') {
    return new ConfigError(
      `timeoutMs must be a number of milliseconds, got ${typeof opts.timeoutMs}`,
      'timeoutMs',
    );
  }
  return undefined;
}
