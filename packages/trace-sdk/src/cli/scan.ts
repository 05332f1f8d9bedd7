/**
 * One pass over a trace for `inspect` and `verify`: the lines (through {@link traceLines}), plus the
 * compressed size and sha256 of the bytes as read, without holding the trace in memory.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import { TraceFormatError } from '../errors.js';
import { HEADER_EVENT, type TraceLine, traceLines } from './trace-input.js';

/** What one pass over a trace found. */
export interface TraceScan {
  /** The header line, when the first line is one. */
  readonly header: Record<string, unknown> | undefined;
  /** Event lines (every line but a leading header). */
  readonly events: number;
  /** Event lines by `event` name. */
  readonly byType: Record<string, number>;
  /** Smallest and largest `ts` among events (epoch ms). */
  readonly firstTs: number | undefined;
  readonly lastTs: number | undefined;
  /**
   * Uncompressed bytes of the event lines, newlines included. The header's `accumulated_bytes`
   * counts them without newlines (the Python agent's rule): `eventBytes - events`.
   */
  readonly eventBytes: number;
  /** Uncompressed bytes of every line, the header included. */
  readonly uncompressedBytes: number;
  /** Bytes of the compressed input as read. */
  readonly compressedBytes: number;
  /** Lowercase hex sha256 of the compressed input as read. */
  readonly sha256: string;
  /** Set when the trace is truncated or corrupt; everything above covers the lines before it. */
  readonly fault: TraceFormatError | undefined;
}

/**
 * Reads `stream` to the end. `visit` sees every line with its 0-based index; a truncated or
 * corrupt trace ends the pass early and is reported in `fault`, never thrown.
 */
export async function scanTrace(
  stream: Readable,
  visit: (line: TraceLine, index: number) => void = () => {},
): Promise<TraceScan> {
  const hash = createHash('sha256');
  let compressedBytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      compressedBytes += chunk.length;
      callback(null, chunk);
    },
  });
  pipeline(stream, tap, () => {});

  let header: Record<string, unknown> | undefined;
  let events = 0;
  let eventBytes = 0;
  let uncompressedBytes = 0;
  let firstTs: number | undefined;
  let lastTs: number | undefined;
  let fault: TraceFormatError | undefined;
  const byType: Record<string, number> = {};
  let index = 0;
  try {
    for await (const line of traceLines(tap, { requireHeader: false, verifyCounts: false })) {
      visit(line, index);
      uncompressedBytes += line.bytes;
      if (index === 0 && line.value['event'] === HEADER_EVENT) {
        header = line.value;
      } else {
        events++;
        eventBytes += line.bytes;
        const name = typeof line.value['event'] === 'string' ? line.value['event'] : '(no event)';
        byType[name] = (byType[name] ?? 0) + 1;
        const ts = line.value['ts'];
        if (typeof ts === 'number' && Number.isFinite(ts)) {
          firstTs = firstTs === undefined ? ts : Math.min(firstTs, ts);
          lastTs = lastTs === undefined ? ts : Math.max(lastTs, ts);
        }
      }
      index++;
    }
  } catch (err) {
    if (!(err instanceof TraceFormatError)) throw err;
    fault = err;
    // Count (and hash) the rest of the input, so the sizes describe the whole file.
    tap.resume();
    await new Promise<void>((resolve) => {
      if (tap.readableEnded || tap.destroyed) resolve();
      else
        tap
          .once('end', resolve)
          .once('error', () => resolve())
          .once('close', resolve);
    });
  }
  return {
    header,
    events,
    byType,
    firstTs,
    lastTs,
    eventBytes,
    uncompressedBytes,
    compressedBytes,
    sha256: hash.digest('hex'),
    fault,
  };
}
