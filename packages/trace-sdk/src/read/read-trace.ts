/**
 * Reading a trace back: gzip JSONL from a file, buffer or stream, header first, streamed in bounded
 * memory. A damaged trace yields every complete, checksum-verified line before the damage and then
 * throws a typed {@link TraceFormatError}; it never yields garbage.
 *
 * @packageDocumentation
 */
import { createReadStream } from 'node:fs';
import { readGzipMembers } from '../compress/gzip-members.js';
import { ConfigError, TraceFormatError, type TraceFormatErrorCode } from '../errors.js';
import { describeValue, numberOption } from '../option-checks.js';
import { type TrustedTraceContext, traceAttribution } from './trace-attribution.js';

/** The `event` of a trace's first line. */
const HEADER_EVENT = 'TRAJECTORY_ARTIFACT_HEADER';
/** Longest line accepted by default; events are at most 256 KiB. */
const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

/** What {@link readTrace} reads: a file path, the bytes themselves, or a stream of bytes. */
export type TraceSource = string | Uint8Array | AsyncIterable<Uint8Array>;

/** Options of {@link readTrace}. */
export interface ReadTraceOptions extends TrustedTraceContext {
  /**
   * Require the first line to be a `TRAJECTORY_ARTIFACT_HEADER` (default true). Pass false to read
   * a spill file left by a killed recorder (`*.events.gz.part`), which has no header.
   */
  readonly requireHeader?: boolean | undefined;
  /** Longest line accepted, in uncompressed bytes (default 1 MiB). Longer → `ERR_TRACE_CORRUPT`. */
  readonly maxLineBytes?: number | undefined;
  /**
   * When the header announces `accumulated_events`, check that exactly that many event lines
   * follow (default true): a body cut at a gzip member boundary is a valid gzip file, and this is
   * how the cut is noticed.
   */
  readonly verifyCounts?: boolean | undefined;
  // `key` and `metadata` (from TrustedTraceContext): when either is given, the header's claims
  // are checked against them before it is yielded, and a disagreement is `ERR_TRACE_ATTRIBUTION`.
}

/** A trace line with its text, for tools that print or measure lines (e.g. the CLI). */
export interface TraceLineRecord {
  /** The parsed JSON object. */
  readonly value: Record<string, unknown>;
  /** The line as JSON text, without its newline. */
  readonly text: string;
  /** Uncompressed bytes of the line including its newline. */
  readonly bytes: number;
}

/** The first line of a trace, as returned by {@link readTraceHeader}. */
export interface TraceHeaderLine extends Record<string, unknown> {
  readonly event: 'TRAJECTORY_ARTIFACT_HEADER';
}

function openSource(source: TraceSource): AsyncIterable<unknown> {
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: 256 * 1024 });
  if (source instanceof Uint8Array) {
    return (async function* () {
      yield source;
    })();
  }
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) return source;
  throw new ConfigError(
    `readTrace expects a file path, a Uint8Array, or a readable stream of bytes, got ${describeValue(source)}`,
    'source',
  );
}

/**
 * Async-iterates the lines of a trace with their text and size, header first.
 * See {@link readTrace} for the guarantees.
 */
export async function* readTraceLines(
  source: TraceSource,
  opts: ReadTraceOptions = {},
): AsyncGenerator<TraceLineRecord, void, undefined> {
  const requireHeader = opts.requireHeader ?? true;
  const maxLineBytes = numberOption('readTrace', 'maxLineBytes', opts.maxLineBytes, DEFAULT_MAX_LINE_BYTES, {
    min: 1,
    integer: true,
  });
  let linesRead = 0;
  let announcedEvents: number | undefined;
  const fail = (code: TraceFormatErrorCode, message: string, cause?: unknown): TraceFormatError =>
    new TraceFormatError(
      code,
      `${message} (after ${linesRead} complete line${linesRead === 1 ? '' : 's'})`,
      linesRead,
      {
        cause,
      },
    );

  const parse = (text: string, bytes: number): TraceLineRecord => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw fail('ERR_TRACE_CORRUPT', `Line ${linesRead + 1} is not JSON`, cause);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw fail('ERR_TRACE_CORRUPT', `Line ${linesRead + 1} is not a JSON object`);
    }
    const record = value as Record<string, unknown>;
    if (linesRead === 0) {
      const isHeader = record['event'] === HEADER_EVENT;
      if (requireHeader && !isHeader) {
        throw fail('ERR_TRACE_NO_HEADER', `The first line is not a ${HEADER_EVENT}`);
      }
      if (isHeader && (opts.key !== undefined || opts.metadata !== undefined)) {
        const report = traceAttribution(record, { key: opts.key, metadata: opts.metadata });
        if (report.status === 'mismatch') {
          throw fail('ERR_TRACE_ATTRIBUTION', `Attribution mismatch: ${report.mismatches.join('; ')}`);
        }
      }
      const announced = record['accumulated_events'];
      if (
        isHeader &&
        opts.verifyCounts !== false &&
        Number.isSafeInteger(announced) &&
        (announced as number) >= 0
      ) {
        announcedEvents = announced as number;
      }
    }
    return { value: record, text, bytes };
  };

  let carry: Buffer[] = [];
  let carryBytes = 0;
  let sawInput = false;
  try {
    for await (const { data } of readGzipMembers(openSource(source))) {
      sawInput = true;
      let start = 0;
      let nl = data.indexOf(NEWLINE);
      if (nl !== -1 && carryBytes > 0) {
        const bytes = carryBytes + nl;
        if (bytes > maxLineBytes)
          throw fail('ERR_TRACE_CORRUPT', `A line is longer than ${maxLineBytes} bytes`);
        const text = Buffer.concat([...carry, data.subarray(0, nl)], bytes).toString('utf8');
        carry = [];
        carryBytes = 0;
        start = nl + 1;
        if (bytes > 0) {
          const line = parse(text, bytes + 1);
          linesRead++;
          yield line;
        }
        nl = data.indexOf(NEWLINE, start);
      }
      while (nl !== -1) {
        const bytes = nl - start;
        if (bytes > maxLineBytes)
          throw fail('ERR_TRACE_CORRUPT', `A line is longer than ${maxLineBytes} bytes`);
        // Blank lines carry nothing; skipping them matches what JSONL tools do.
        if (bytes > 0) {
          const line = parse(data.toString('utf8', start, nl), bytes + 1);
          linesRead++;
          yield line;
        }
        start = nl + 1;
        nl = data.indexOf(NEWLINE, start);
      }
      if (start < data.length) {
        carry.push(data.subarray(start));
        carryBytes += data.length - start;
        if (carryBytes > maxLineBytes)
          throw fail('ERR_TRACE_CORRUPT', `A line is longer than ${maxLineBytes} bytes`);
      }
    }
  } catch (err) {
    if (err instanceof TraceFormatError && err.linesRead !== linesRead) {
      throw fail(err.code, err.message, err);
    }
    throw err;
  }
  if (!sawInput) throw fail('ERR_TRACE_TRUNCATED', 'The trace is empty');
  if (carryBytes > 0) throw fail('ERR_TRACE_TRUNCATED', 'The last line is incomplete');
  if (linesRead === 0 && requireHeader) throw fail('ERR_TRACE_NO_HEADER', 'The trace has no lines');
  if (announcedEvents !== undefined) {
    const events = linesRead - 1;
    if (events < announcedEvents) {
      throw fail(
        'ERR_TRACE_TRUNCATED',
        `The header announces ${announcedEvents} events but the body ends after ${events}`,
      );
    }
    if (events > announcedEvents) {
      throw fail(
        'ERR_TRACE_CORRUPT',
        `The header announces ${announcedEvents} events but the body has ${events}`,
      );
    }
  }
}

/**
 * Async-iterates the parsed lines of a trace, the header first. Streams: memory stays bounded
 * whatever the trace size, and a multi-member gzip body reads as one stream.
 *
 * Guarantees: every line yielded is a JSON object from a gzip member whose CRC-32 matched (for
 * members up to 8 MiB uncompressed, i.e. everything this SDK writes; a larger member, such as a
 * single-member file from the Python agent, is streamed and checked at its end). On damage it
 * throws {@link TraceFormatError} after yielding every complete line before it:
 * - `ERR_TRACE_TRUNCATED`: the input ends inside a gzip member or a line, is empty, or has fewer
 *   events than the header announces;
 * - `ERR_TRACE_CORRUPT`: not gzip, a checksum mismatch, a line that is not a JSON object, or a
 *   line longer than `maxLineBytes`;
 * - `ERR_TRACE_NO_HEADER`: the first line is not a header (unless `requireHeader: false`);
 * - `ERR_TRACE_ATTRIBUTION`: with `key` or `metadata`, the header names another user or task than
 *   they do (nothing is yielded). Use {@link traceAttribution} to see trusted and claimed side by side.
 *
 * Stopping early (`break`) closes a file the reader opened itself.
 *
 * @throws {@link ConfigError} (`variable` `source` or `maxLineBytes`) for a source that is not a
 *   path, bytes or a byte stream, or a `maxLineBytes` that is not a positive integer.
 * @example
 * for await (const line of readTrace('trace.jsonl.gz')) console.log(line.event);
 */
export async function* readTrace(
  source: TraceSource,
  opts: ReadTraceOptions = {},
): AsyncGenerator<Record<string, unknown>, void, undefined> {
  for await (const line of readTraceLines(source, opts)) yield line.value;
}

/** Options of {@link readTraceHeader}: the trusted key and metadata to check the header against. */
export type ReadTraceHeaderOptions = TrustedTraceContext & Pick<ReadTraceOptions, 'maxLineBytes'>;

/**
 * Reads only the header line of a trace: cheap, it decompresses the first gzip member only.
 * With `key` or `metadata` (from `HeadObject`), a header naming another user or task is refused.
 *
 * @throws TraceFormatError `ERR_TRACE_NO_HEADER` when the first line is not a header,
 *   `ERR_TRACE_ATTRIBUTION` on a mismatch with `key`/`metadata`, or the reader's other codes when
 *   the header itself is damaged.
 */
export async function readTraceHeader(
  source: TraceSource,
  opts: ReadTraceHeaderOptions = {},
): Promise<TraceHeaderLine> {
  for await (const line of readTraceLines(source, {
    verifyCounts: false,
    key: opts.key,
    metadata: opts.metadata,
    maxLineBytes: opts.maxLineBytes,
  })) {
    return line.value as TraceHeaderLine;
  }
  throw new TraceFormatError('ERR_TRACE_NO_HEADER', 'The trace has no lines', 0);
}
