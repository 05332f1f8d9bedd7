/**
 * How every example starts and ends: run `main`, exit 0 on success; on failure print one clear
 * line (the error's name, code and message — never a stack trace or a signed URL) and exit 1.
 *
 * @packageDocumentation
 */

/** Thrown by {@link check} when an example's expectation does not hold. */
export class ExampleCheckError extends Error {
  override readonly name = 'ExampleCheckError';
}

/** Fails the example with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ExampleCheckError(message);
}

/** One line describing `err`, e.g. `UploadError [ERR_UPLOAD_HTTP]: PUT ... answered 403`. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const label = typeof code === 'string' ? `${err.name} [${code}]` : err.name;
  return `${label}: ${err.message}`;
}

/**
 * Runs an example. A watchdog fails it if it neither finishes nor exits within `timeoutMs` (an
 * unclosed server would otherwise keep the process alive forever); the timer is unref'd so it
 * never holds the process open itself.
 */
export function runExample(name: string, main: () => Promise<void>, timeoutMs = 25_000): void {
  const watchdog = setTimeout(() => {
    console.error(`${name}: FAILED — did not finish within ${timeoutMs} ms (a server or handle left open?)`);
    process.exit(1);
  }, timeoutMs);
  watchdog.unref();
  main().then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      console.error(`${name}: FAILED — ${describeError(err)}`);
      process.exit(1);
    },
  );
}
