/**
 * The CLI's view of the process: streams, environment and terminal facts, injected so every
 * command runs in-process under test exactly as it runs from a shell.
 *
 * @packageDocumentation
 */
import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes. {@link processIo} is the real process. */
export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Environment the command sees (transport variables, AWS endpoint and credentials). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stdin is an interactive terminal (`cat` with no file then says what it waits for). */
  readonly stdinIsTTY?: boolean | undefined;
  /** Whether stderr is an interactive terminal (enables the upload progress bar). */
  readonly stderrIsTTY: boolean;
  /** Terminal width for the progress bar; 80 when unknown. */
  readonly columns?: number | undefined;
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    columns: process.stderr.columns,
  };
}

/**
 * Writes `text` and resolves once the stream accepted it, honouring backpressure so a large
 * `cat` piped into `head` or a slow consumer never buffers the whole trace in memory.
 */
export function write(stream: Writable, text: string): Promise<void> {
  if (stream.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      stream.off('drain', onDrain);
      reject(err);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}
