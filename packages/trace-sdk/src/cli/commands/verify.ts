/**
 * `agent-trace verify <file>`: checks a trace is a well-formed artifact, and optionally that it is
 * the exact artifact expected (sha256) at the expected key.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { parseTraceKey, type TraceKeyParts } from '../../key.js';
import { traceAttribution } from '../../read/trace-attribution.js';
import type { CliContext } from '../context.js';
import { ExitCode, plural, usageError } from '../errors.js';
import { write } from '../io.js';
import { scanTrace, type TraceScan } from '../scan.js';
import { openSource } from '../source.js';
import { terminalSafe } from '../terminal-safe.js';
import { HEADER_EVENT, type TraceLine } from '../trace-input.js';

/** Options of `verify`. */
export interface VerifyOptions {
  /** Expected lowercase or uppercase hex sha256 of the compressed file. */
  readonly sha256?: string | undefined;
  /** Expected object key: the header's and events' task_id (and the header's user_id) must match it. */
  readonly key?: string | undefined;
  readonly json?: boolean | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

/** The outcome of `verify`. */
export interface VerifyReport {
  readonly source: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly events: number;
  readonly sha256: string;
}

/** Problems listed one by one; past this many, the rest are counted. */
const MAX_LISTED = 50;

/** Checks each line as it streams by; holds O(1) state, whatever the trace size. */
class LineChecks {
  readonly problems: string[] = [];
  #unlisted = 0;
  #taskId: unknown;
  #events = 0;
  readonly #expected: TraceKeyParts | undefined;

  constructor(expected: TraceKeyParts | undefined) {
    this.#expected = expected;
  }

  problem(text: string): void {
    if (this.problems.length < MAX_LISTED) this.problems.push(text);
    else this.#unlisted++;
  }

  /** Problems, with a final count of those not listed. */
  all(): string[] {
    return this.#unlisted === 0
      ? this.problems
      : [...this.problems, `... and ${plural(this.#unlisted, 'more problem')}`];
  }

  visit(line: TraceLine, index: number): void {
    const v = line.value;
    const at = `line ${index + 1}`;
    if (typeof v['event'] !== 'string' || v['event'] === '') this.problem(`${at}: no "event" string`);
    if (typeof v['task_id'] !== 'string' || v['task_id'] === '') this.problem(`${at}: no "task_id" string`);
    else if (this.#taskId === undefined) this.#taskId = v['task_id'];
    else if (v['task_id'] !== this.#taskId) {
      this.problem(
        `${at}: task_id ${JSON.stringify(v['task_id'])} differs from ${JSON.stringify(this.#taskId)}`,
      );
    }
    if (index === 0) {
      if (v['event'] !== HEADER_EVENT) this.problem(`line 1: the first line is not a ${HEADER_EVENT}`);
      else this.#checkHeaderIds(v);
      if (v['event'] === HEADER_EVENT) return;
    } else if (v['event'] === HEADER_EVENT) {
      this.problem(`${at}: a second ${HEADER_EVENT}`);
      return;
    }
    if (v['seq'] !== this.#events) {
      this.problem(
        `${at}: seq ${JSON.stringify(v['seq'])}, expected ${this.#events} (seq must be dense from 0)`,
      );
    }
    if (typeof v['ts'] !== 'number' || !Number.isFinite(v['ts'])) this.problem(`${at}: no numeric "ts"`);
    if (
      this.#expected !== undefined &&
      typeof v['task_id'] === 'string' &&
      v['task_id'] !== this.#expected.taskId
    ) {
      this.problem(
        `${at}: task_id ${JSON.stringify(v['task_id'])} is not the key's ${JSON.stringify(this.#expected.taskId)}`,
      );
    }
    this.#events++;
  }

  #checkHeaderIds(header: Record<string, unknown>): void {
    if (this.#expected === undefined) return;
    if (header['task_id'] !== this.#expected.taskId) {
      this.problem(
        `header: task_id ${JSON.stringify(header['task_id'])} is not the key's ${JSON.stringify(this.#expected.taskId)}`,
      );
    }
    if (header['user_id'] !== this.#expected.userId) {
      this.problem(
        `header: user_id ${JSON.stringify(header['user_id'])} is not the key's ${JSON.stringify(this.#expected.userId)}`,
      );
    }
  }
}

/** Verifies `file`; sets exit 1 for problems, 3 for a truncated or corrupt trace. */
export async function runVerify(ctx: CliContext, file: string, opts: VerifyOptions): Promise<VerifyReport> {
  const expectedSha = opts.sha256?.toLowerCase();
  if (expectedSha !== undefined && !/^[0-9a-f]{64}$/.test(expectedSha)) {
    throw usageError('--sha256 expects 64 hex digits');
  }
  const expectedKey = opts.key === undefined ? undefined : parseTraceKey(opts.key);
  const source = await openSource(file, ctx.io, opts);
  const checks = new LineChecks(expectedKey);
  let scan: TraceScan;
  try {
    scan = await scanTrace(source.stream, (line, index) => checks.visit(line, index));
  } finally {
    source.close();
  }

  if (scan.fault !== undefined) {
    // The reader's message already says how many complete lines came before the fault.
    checks.problem(`${scan.fault.message} (${scan.fault.code})`);
  } else if (scan.header === undefined && scan.events === 0) {
    checks.problem('the trace is empty');
  }
  const h = scan.header;
  if (h !== undefined && scan.fault === undefined) {
    if (h['accumulated_events'] !== scan.events) {
      checks.problem(
        `header: accumulated_events ${JSON.stringify(h['accumulated_events'])}, but ${scan.events} events follow`,
      );
    }
    // Counted as the Python agent counts: each line's bytes without its newline.
    const eventBytes = scan.eventBytes - scan.events;
    if (h['accumulated_bytes'] !== eventBytes) {
      checks.problem(
        `header: accumulated_bytes ${JSON.stringify(h['accumulated_bytes'])}, but the events hold ${eventBytes} bytes (newlines not counted)`,
      );
    }
    const max = h['max_bytes'];
    if (typeof max === 'number' && eventBytes > max) {
      checks.problem(`header: the events hold ${eventBytes} bytes, more than max_bytes ${max}`);
    }
  }
  // The header is the runtime's claim; the S3 key and the metadata the orchestrator or uploader
  // Lambda wrote are trusted. A header naming another user or task fails verification.
  if (h !== undefined && (source.key !== undefined || source.metadata !== undefined)) {
    const attribution = traceAttribution(h, { key: source.key, metadata: source.metadata });
    for (const mismatch of attribution.mismatches) checks.problem(`attribution: ${mismatch}`);
  }
  if (expectedSha !== undefined && scan.sha256 !== expectedSha) {
    checks.problem(`sha256 ${scan.sha256} does not match the expected ${expectedSha}`);
  }

  const problems = checks.all();
  const report: VerifyReport = {
    source: source.name,
    ok: problems.length === 0,
    problems,
    events: scan.events,
    sha256: scan.sha256,
  };
  if (opts.json === true) await write(ctx.io.stdout, `${JSON.stringify(report, null, 2)}\n`);
  else if (report.ok)
    await write(
      ctx.io.stdout,
      `ok ${terminalSafe(source.name)}: ${plural(scan.events, 'event')}, sha256 ${scan.sha256}\n`,
    );
  else await write(ctx.io.stdout, problems.map((p) => `problem: ${terminalSafe(p)}\n`).join(''));
  if (!report.ok) {
    const n = problems.length;
    ctx.io.stderr.write(
      `agent-trace: ${terminalSafe(source.name)} failed verification: ${plural(n, 'problem')} (ERR_VERIFY)\n`,
    );
    ctx.exitCode = scan.fault === undefined ? ExitCode.failure : ExitCode.io;
  }
  return report;
}

/** Adds the `verify` command to `program`. */
export function addVerifyCommand(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description(
      'check a trace: header first, dense seq, header counts, JSON lines, ids, and optionally sha256',
    )
    .argument('<file>', "trace file, '-' for stdin, or s3://bucket/key")
    .option('--sha256 <hex>', 'expected sha256 of the compressed file')
    .option('--key <key>', 'expected object key (traces/<user>/<task>.jsonl.gz): ids must match it')
    .option('--json', 'print the report as JSON')
    .option('--endpoint <url>', 'S3 endpoint for s3:// sources (default: AWS_ENDPOINT_URL_S3)')
    .option('--region <region>', 'AWS region for s3:// sources (default: AWS_REGION or us-east-1)')
    .action(async (file: string, opts: VerifyOptions) => {
      await runVerify(ctx, file, opts);
    });
}
