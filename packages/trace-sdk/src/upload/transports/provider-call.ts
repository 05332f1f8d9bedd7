/**
 * Calling a URL or grant provider (a function the orchestrator side supplies) under a bound: the
 * provider is handed the upload's signal, and the call is raced against that signal and a timeout,
 * so a provider that never answers cannot hold an upload (or `finish()`) beyond its deadline.
 *
 * @packageDocumentation
 */
import { UploadError } from '../../errors.js';
import { abortedError, providerError } from '../classify.js';

/** Default bound on one provider call, in ms. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 30_000;

/**
 * Runs `call(signal)` and settles with it, or rejects with `ERR_UPLOAD_ABORTED` when `signal`
 * fires, or with a retryable `ERR_UPLOAD_NETWORK` after `timeoutMs` (the provider is then told
 * through its own signal). A provider error is classified by `providerError`.
 */
export async function callProvider<T>(
  call: (signal: AbortSignal) => Promise<T> | T,
  opts: {
    readonly transport: string;
    /** `URL` or `grant`, for messages. */
    readonly what: string;
    readonly signal?: AbortSignal | undefined;
    readonly timeoutMs: number;
  },
): Promise<T> {
  const { transport, what, signal, timeoutMs } = opts;
  if (signal?.aborted) throw abortedError(transport, signal.reason);
  const own = new AbortController();
  const combined = signal === undefined ? own.signal : AbortSignal.any([signal, own.signal]);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let boundError: UploadError | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new UploadError(
        'ERR_UPLOAD_NETWORK',
        `${transport}: the ${what} provider did not answer within ${timeoutMs} ms`,
        { transport, retryable: true },
      );
      boundError = error;
      own.abort(error);
      reject(error);
    }, timeoutMs);
    onAbort = () => {
      boundError = abortedError(transport, signal?.reason);
      reject(boundError);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const answer = Promise.resolve().then(() => call(combined));
    // A late rejection of an abandoned call must not surface as an unhandled rejection.
    answer.catch(() => {});
    return await Promise.race([answer, bound]).catch((err: unknown) => {
      if (boundError !== undefined && err === boundError) throw err;
      throw providerError(transport, what, err);
    });
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
}
