/**
 * `agent-trace cat [file]`: a trace as plain JSONL on stdout, from a file, stdin or `s3://`.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { TraceFormatError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { write } from '../io.js';
import { openSource } from '../source.js';
import { terminalSafeJsonLine } from '../terminal-safe.js';
import { HEADER_EVENT, traceLines } from '../trace-input.js';

/** Characters collected before one write to stdout. */
const WRITE_BATCH_CHARS = 64 * 1024;

/** Options of `cat`. */
export interface CatOptions {
  /** Skip the header line. */
  readonly eventsOnly?: boolean | undefined;
  /** Read a headerless or truncated file (e.g. a killed recorder's spool) and print what is complete. */
  readonly recover?: boolean | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

/**
 * Streams the lines of `file` to stdout as they decompress. A truncated or corrupt trace prints every
 * complete line, then fails with exit 3; with `recover`, a truncated tail is a warning (exit 0).
 */
export async function runCat(ctx: CliContext, file: string | undefined, opts: CatOptions): Promise<void> {
  if ((file === undefined || file === '-') && ctx.io.stdinIsTTY === true) {
    // Reading a terminal would otherwise wait silently for gzip bytes nobody is going to type.
    ctx.io.stderr.write(
      'agent-trace: reading a gzip trace from stdin; pipe one in (agent-trace cat < trace.jsonl.gz) ' +
        'or pass a file. Ctrl-D ends, Ctrl-C aborts.\n',
    );
  }
  const source = await openSource(file, ctx.io, opts);
  let lines = 0;
  // Lines are written in batches: one write (a syscall on a pipe) per line would dominate.
  let pending = '';
  const flush = async () => {
    if (pending.length === 0) return;
    const text = pending;
    pending = '';
    await write(ctx.io.stdout, text);
  };
  try {
    try {
      for await (const line of traceLines(source.stream, { requireHeader: opts.recover !== true })) {
        lines++;
        if (opts.eventsOnly === true && lines === 1 && line.value['event'] === HEADER_EVENT) continue;
        // Raw C1 and bidi characters are valid inside JSON strings: escape them for the terminal.
        pending += `${terminalSafeJsonLine(line.text)}\n`;
        if (pending.length >= WRITE_BATCH_CHARS) await flush();
      }
    } finally {
      // Every complete line reaches stdout, also when the trace is cut short.
      await flush();
    }
  } catch (err) {
    if (opts.recover === true && err instanceof TraceFormatError && err.code === 'ERR_TRACE_TRUNCATED') {
      ctx.io.stderr.write(
        `agent-trace: recovered ${lines} complete line${lines === 1 ? '' : 's'} from ${source.name}; ` +
          `the rest is lost (${err.message}) (${err.code})\n`,
      );
      return;
    }
    throw withSourceName(err, source.name, opts.recover === true);
  } finally {
    source.close();
  }
}

/**
 * The reader's error, naming the file it came from ("Not gzip data" alone does not say which), with
 * a hint at `--recover` for a spill file of a killed recorder (a `.part`: no header, no gzip end).
 */
function withSourceName(err: unknown, name: string, recovering: boolean): unknown {
  if (!(err instanceof TraceFormatError)) return err;
  const hint =
    !recovering && name.endsWith('.part')
      ? '; this is a spill file of a recording that did not finish: read it with --recover, or ' +
        'deliver it with agent-trace spool flush --recover-partials'
      : '';
  return new TraceFormatError(err.code, `${name}: ${err.message}${hint}`, err.linesRead, { cause: err });
}

/** Adds the `cat` command to `program`. */
export function addCatCommand(program: Command, ctx: CliContext): void {
  program
    .command('cat')
    .description('decompress a trace to JSON Lines on stdout (header first)')
    .argument('[file]', "trace file, '-' for stdin (the default), or s3://bucket/key")
    .option('--events-only', 'skip the header line')
    .option('--recover', 'read a headerless or truncated file (a spool left by a killed process)')
    .option('--endpoint <url>', 'S3 endpoint for s3:// sources (default: AWS_ENDPOINT_URL_S3)')
    .option('--region <region>', 'AWS region for s3:// sources (default: AWS_REGION or us-east-1)')
    .action((file: string | undefined, opts: CatOptions) => runCat(ctx, file, opts));
}
