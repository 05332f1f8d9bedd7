/**
 * The reading commands' view of the SDK reader: lines with their text and size, from a stream.
 *
 * @packageDocumentation
 */
import type { Readable } from 'node:stream';
import { readTraceLines, type TraceLineRecord } from '../read/read-trace.js';

/** The `event` of the header line. */
export const HEADER_EVENT = 'TRAJECTORY_ARTIFACT_HEADER';

/** One line of a trace: parsed value, text without newline, uncompressed bytes with newline. */
export type TraceLine = TraceLineRecord;

/**
 * Yields every complete line of a gzip JSONL trace through `readTraceLines`: a truncated or
 * corrupt tail yields every complete line before it, then throws `TraceFormatError`.
 * `verifyCounts: false` leaves the header-count check to the caller (`verify` reports it as a
 * problem instead of a truncation).
 */
export function traceLines(
  stream: Readable,
  opts: { requireHeader: boolean; verifyCounts?: boolean },
): AsyncGenerator<TraceLine> {
  return readTraceLines(stream, {
    requireHeader: opts.requireHeader,
    verifyCounts: opts.verifyCounts ?? true,
  });
}
