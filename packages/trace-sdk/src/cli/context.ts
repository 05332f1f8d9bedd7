/**
 * State shared by the program and its commands for one invocation.
 *
 * @packageDocumentation
 */
import type { ExitCodeValue } from './errors.js';
import type { CliIo } from './io.js';

/** One CLI invocation: its I/O, the exit code commands set, and the secrets to keep out of output. */
export interface CliContext {
  readonly io: CliIo;
  /** Set by the command that ran; `ok` unless it reports a problem. */
  exitCode: ExitCodeValue;
  /**
   * Values seen on the command line or in the environment that must never be printed (grants,
   * presigned URLs). Error output replaces them with `<redacted>`.
   */
  readonly secrets: string[];
}
