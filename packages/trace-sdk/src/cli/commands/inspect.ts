/**
 * `agent-trace inspect <file>`: what a trace holds, at a glance or as JSON.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { type TraceAttributionReport, traceAttribution } from '../../read/trace-attribution.js';
import type { CliContext } from '../context.js';
import { ExitCode } from '../errors.js';
import { write } from '../io.js';
import { formatBytes } from '../progress.js';
import { scanTrace, type TraceScan } from '../scan.js';
import { openSource } from '../source.js';
import { terminalSafe, terminalSafeText } from '../terminal-safe.js';

/** Options of `inspect`. */
export interface InspectOptions {
  readonly json?: boolean | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

/** The machine-readable report of `inspect --json`. */
export interface InspectReport {
  readonly source: string;
  readonly header: Record<string, unknown> | null;
  readonly events: number;
  readonly eventsByType: Record<string, number>;
  readonly firstTs: number | null;
  readonly lastTs: number | null;
  readonly durationMs: number | null;
  readonly dropped: unknown;
  readonly redactions: unknown;
  readonly truncatedFields: unknown;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
  /** uncompressed / compressed. */
  readonly ratio: number | null;
  readonly sha256: string;
  /** Set when the trace is truncated or corrupt: the report covers the lines before the fault. */
  readonly fault: { code: string; message: string; linesRead: number } | null;
  /** Trusted attribution (S3 key and metadata) next to what the header claims. */
  readonly attribution?: TraceAttributionReport | undefined;
}

/** Builds the report from a scan. */
export function inspectReport(
  source: string,
  scan: TraceScan,
  trusted: { key?: string | undefined; metadata?: Readonly<Record<string, string>> | undefined } = {},
): InspectReport {
  const h = scan.header;
  return {
    attribution: traceAttribution(h, trusted),
    source,
    header: h ?? null,
    events: scan.events,
    eventsByType: scan.byType,
    firstTs: scan.firstTs ?? null,
    lastTs: scan.lastTs ?? null,
    durationMs: scan.firstTs === undefined || scan.lastTs === undefined ? null : scan.lastTs - scan.firstTs,
    dropped: h?.['dropped'] ?? null,
    redactions: h?.['redactions'] ?? null,
    truncatedFields: h?.['truncated_fields'] ?? null,
    compressedBytes: scan.compressedBytes,
    uncompressedBytes: scan.uncompressedBytes,
    ratio: scan.compressedBytes === 0 ? null : round(scan.uncompressedBytes / scan.compressedBytes, 2),
    sha256: scan.sha256,
    fault:
      scan.fault === undefined
        ? null
        : { code: scan.fault.code, message: scan.fault.message, linesRead: scan.fault.linesRead },
  };
}

/** A runtime-written value for a terminal row: control, format (bidi) and C1 characters escaped. */
const printable = (value: unknown): string =>
  (typeof value === 'string' ? value : (JSON.stringify(value) ?? '-')).replace(
    /[\p{Cc}\p{Cf}\u2028\u2029]/gu,
    (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
  );
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
/** Epoch ms as ISO 8601; header timestamps are ISO strings already. */
const iso = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) ? new Date(value).toISOString() : String(value ?? '-');

/** Counts are numbers in the header; per-label objects (`{ "JWT": 2 }`) are shown with their total. */
function describeCount(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    const total = entries.reduce((sum, [, n]) => sum + (typeof n === 'number' ? n : 0), 0);
    return entries.length === 0 ? '0' : `${total} (${entries.map(([k, n]) => `${k} ${n}`).join(', ')})`;
  }
  return JSON.stringify(value);
}

/** The human-readable report. */
export function formatInspectReport(r: InspectReport): string {
  const h = r.header ?? {};
  const rows: [string, string][] = [['source', r.source]];
  if (r.header === null) rows.push(['header', 'missing (not a complete artifact)']);
  else {
    const sdk = h['sdk'] as { name?: unknown; version?: unknown } | undefined;
    rows.push(
      ['task_id', String(h['task_id'] ?? '-')],
      ['user_id', String(h['user_id'] ?? '-')],
      ['schema_version', String(h['schema_version'] ?? '-')],
      ['sdk', sdk === undefined ? '-' : `${sdk.name ?? '?'} ${sdk.version ?? '?'}`],
      ['started_at', iso(h['started_at'])],
      ['finished_at', iso(h['finished_at'])],
    );
  }
  const declared = r.header === null ? '' : ` (header: ${String(h['accumulated_events'] ?? '-')})`;
  rows.push(['events', `${r.events}${declared}`]);
  for (const [name, n] of Object.entries(r.eventsByType).sort(([, a], [, b]) => b - a)) {
    rows.push([`  ${name}`, String(n)]);
  }
  rows.push([
    'time span',
    r.firstTs === null
      ? '-'
      : `${iso(r.firstTs)} .. ${iso(r.lastTs)} (${((r.durationMs ?? 0) / 1000).toFixed(1)} s)`,
  ]);
  if (r.header !== null) {
    rows.push(
      ['dropped', `${describeCount(r.dropped)} (max_bytes ${String(h['max_bytes'] ?? '-')})`],
      ['redactions', describeCount(r.redactions)],
      ['truncated fields', describeCount(r.truncatedFields)],
    );
  }
  rows.push(
    [
      'size',
      `${formatBytes(r.compressedBytes)} compressed, ${formatBytes(r.uncompressedBytes)} uncompressed` +
        (r.ratio === null ? '' : ` (ratio ${r.ratio.toFixed(2)}x)`),
    ],
    ['sha256', r.sha256],
  );
  const a = r.attribution;
  if (a !== undefined) {
    const t = a.trusted;
    rows.push([
      'trusted',
      t === undefined
        ? a.status === 'unknown'
          ? 'none (no S3 key or metadata)'
          : a.status === 'unattributed'
            ? 'none (written by the legacy transport: unattributed; its runtime chose the key)'
            : 'none (see MISMATCH)'
        : `user ${printable(t.userId)}, task ${printable(t.taskId)}` +
          (t.operator === undefined ? '' : `, operator ${t.operator}`) +
          (t.sessionId === undefined ? '' : `, session ${t.sessionId}`) +
          ` (from ${t.source === 'key' ? 'the key' : `metadata, ${t.source}`})`,
    ]);
    const c = a.claimed;
    rows.push([
      'claimed',
      `user ${printable(c.userId)}, task ${printable(c.taskId)}` +
        (c.operator === undefined ? '' : `, operator ${printable(c.operator)}`) +
        ' (header, written by the runtime)',
    ]);
    for (const m of a.mismatches) rows.push(['MISMATCH', m]);
  }
  if (r.fault !== null) rows.push(['fault', `${r.fault.message} (${r.fault.code})`]);
  // Keys include event names and values header fields: both come from the artifact.
  const safe = rows.map(([k, v]) => [terminalSafe(k), terminalSafe(v)] as const);
  const width = Math.max(...safe.map(([k]) => k.length)) + 2;
  return safe.map(([k, v]) => `${k.padEnd(width)}${v}\n`).join('');
}

/** Prints the report; a truncated or corrupt trace still prints what was read, then exits 3. */
export async function runInspect(ctx: CliContext, file: string, opts: InspectOptions): Promise<void> {
  const source = await openSource(file, ctx.io, opts);
  let scan: TraceScan;
  try {
    scan = await scanTrace(source.stream);
  } finally {
    source.close();
  }
  const report = inspectReport(source.name, scan, { key: source.key, metadata: source.metadata });
  await write(
    ctx.io.stdout,
    opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report),
  );
  if (report.fault !== null) {
    ctx.io.stderr.write(
      terminalSafeText(`agent-trace: ${source.name}: ${report.fault.message} (${report.fault.code})\n`),
    );
    ctx.exitCode = ExitCode.io;
  }
}

/** Adds the `inspect` command to `program`. */
export function addInspectCommand(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('summarize a trace: header, counts by event type, time span, drops, redactions, sizes')
    .argument('<file>', "trace file, '-' for stdin, or s3://bucket/key")
    .option('--json', 'print the report as JSON')
    .option('--endpoint <url>', 'S3 endpoint for s3:// sources (default: AWS_ENDPOINT_URL_S3)')
    .option('--region <region>', 'AWS region for s3:// sources (default: AWS_REGION or us-east-1)')
    .action((file: string, opts: InspectOptions) => runInspect(ctx, file, opts));
}
