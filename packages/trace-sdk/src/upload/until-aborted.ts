/**
 * Racing a promise against an abort signal, for calls that may ignore their signal (a custom
 * transport, an AWS SDK client): the caller stops waiting when the signal fires, whatever the call does.
 *
 * @packageDocumentation
 */

/** Settles with `p`, or rejects with the signal's reason as soon as it fires. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Nobody awaits `p` any more: its own failure must not surface as an unhandled rejection.
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
