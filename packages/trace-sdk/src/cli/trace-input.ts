/**
 * Trace lines for the reading commands (cat, inspect, verify), with the uncompressed size of each
 * line, on top of the SDK's reader.
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { TraceFormatError } from '../errors.js';

/** The `event` of the header line. */
export const HEADER_EVENT = 'TRAJECTORY_ARTIFACT_HEADER';

/** One line of a trace. */
export interface TraceLine {
  /** The parsed JSON object. */
  readonly value: Record<string, unknown>;
  /** The line as JSON text, without its newline. */
  readonly text: string;
  /** Uncompressed bytes of the line including its newline. */
  readonly bytes: number;
}

/**
 * Yields every complete line of a gzip JSONL trace, the header first when `requireHeader`.
 * A truncated or corrupt tail yields every complete line before it, then throws TraceFormatError.
 */
export async function* traceLines(
  stream: Readable,
  opts: { requireHeader: boolean },
): AsyncGenerator<TraceLine> {
  let pending = '';
  let linesRead = 0;
  const gunzip = createGunzip();
  const decoder = new StringDecoder('utf8');
  stream.on('error', (err) => gunzip.destroy(err));
  stream.pipe(gunzip);
  const parse = (text: string): TraceLine => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new TraceFormatError('ERR_TRACE_CORRUPT', `Line ${linesRead + 1} is not JSON`, linesRead, { cause });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TraceFormatError('ERR_TRACE_CORRUPT', `Line ${linesRead + 1} is not a JSON object`, linesRead);
    }
    const record = value as Record<string, unknown>;
    if (linesRead === 0 && opts.requireHeader && record['event'] !== HEADER_EVENT) {
      throw new TraceFormatError('ERR_TRACE_NO_HEADER', 'The first line is not a TRAJECTORY_ARTIFACT_HEADER', 0);
    }
    linesRead++;
    return { value: record, text, bytes: Buffer.byteLength(text) + 1 };
  };
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      pending += decoder.write(chunk);
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const text = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (text.length > 0) yield parse(text);
        nl = pending.indexOf('\n');
      }
    }
  } catch (cause) {
    if (cause instanceof TraceFormatError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') {
      throw new TraceFormatError('ERR_TRACE_TRUNCATED', 'The gzip stream ends early', linesRead, { cause });
    }
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new TraceFormatError('ERR_TRACE_CORRUPT', 'Not a valid gzip stream', linesRead, { cause });
    }
    throw cause;
  }
  pending += decoder.end();
  if (pending.length > 0) {
    throw new TraceFormatError('ERR_TRACE_TRUNCATED', 'The last line has no newline', linesRead);
  }
  if (linesRead === 0 && opts.requireHeader) {
    throw new TraceFormatError('ERR_TRACE_NO_HEADER', 'The trace is empty', 0);
  }
}
