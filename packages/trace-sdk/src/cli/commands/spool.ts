/**
 * `agent-trace spool flush` and `agent-trace spool list`: deliver (or show) the artifacts a
 * recorder kept in its spool directory after a failed upload.
 *
 * @packageDocumentation
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { TraceError } from '../../errors.js';
import { parseTraceKey } from '../../key.js';
import { defaultSpoolDir } from '../../record/options.js';
import { listSpooled, type SpoolEntry } from '../../spool/spool-store.js';
import {
  type UploadSpooledOptions,
  type UploadSpooledResult,
  uploadSpooled,
} from '../../spool/upload-spooled.js';
import type { TraceTransport } from '../../upload/types.js';
import type { CliContext } from '../context.js';
import { CliError, ExitCode, plural, sanitize, usageError } from '../errors.js';
import { write } from '../io.js';
import { formatBytes } from '../progress.js';
import { terminalSafe } from '../terminal-safe.js';
import { addTransportOptions, type TransportFlags, transportFromFlags } from '../transport-options.js';

/** Options of `spool flush`. */
export interface SpoolFlushOptions extends TransportFlags {
  readonly spoolDir?: string | undefined;
  /** Only entries of this user (required for transports that can write any key). */
  readonly user?: string | undefined;
  /** Only this task's entry. */
  readonly task?: string | undefined;
  readonly recoverPartials?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/** Options of `spool list`. */
export interface SpoolListOptions {
  readonly spoolDir?: string | undefined;
  readonly json?: boolean | undefined;
}

const codeOf = (err: Error) =>
  err instanceof TraceError ? err.code : ((err as { code?: string }).code ?? 'ERR_UNEXPECTED');

/** The summary of a flush, as JSON-safe data (errors reduced to code and sanitized message). */
function flushReport(spoolDir: string, result: UploadSpooledResult, secrets: readonly string[]) {
  return {
    spoolDir,
    uploaded: result.uploaded,
    failed: result.failed.map((f) => ({
      key: f.key,
      path: f.path,
      code: codeOf(f.error),
      message: sanitize(f.error.message, secrets),
    })),
    skipped: result.skipped,
  };
}

/**
 * The spool directory to read. An explicit `--spool-dir` that does not exist is an error (a typo
 * must not read as "nothing spooled"); the default directory may not exist yet: nothing spooled.
 */
async function spoolDirFrom(opts: { spoolDir?: string | undefined }): Promise<string> {
  if (opts.spoolDir === undefined) return defaultSpoolDir();
  let isDir = false;
  try {
    isDir = (await stat(opts.spoolDir)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!isDir) {
    throw new CliError(ExitCode.usage, 'ERR_SPOOL_DIR', `--spool-dir ${opts.spoolDir} is not a directory`);
  }
  return opts.spoolDir;
}

/** Transports whose credential names exactly one key (a presigned URL, an upload grant). */
const KEY_BOUND_TRANSPORTS: ReadonlySet<string> = new Set(['presigned-put', 'lambda']);

/**
 * Who may be written: the `--user`/`--task` scope, or, for a transport whose credential names one
 * key (it refuses every other key before sending), that credential. Spool files never decide.
 */
function flushAuthority(
  opts: SpoolFlushOptions,
  ctx: CliContext,
  transport: TraceTransport,
): Pick<UploadSpooledOptions, 'authorize' | 'transport' | 'scope'> {
  if (opts.user !== undefined) {
    return {
      transport,
      scope: { userId: opts.user, ...(opts.task === undefined ? {} : { taskId: opts.task }) },
    };
  }
  if (opts.task !== undefined) throw usageError('--task needs --user');
  const kind = opts.transport ?? ctx.io.env['TRACE_TRANSPORT'] ?? '';
  if (KEY_BOUND_TRANSPORTS.has(kind)) return { authorize: async () => transport };
  throw usageError(
    `--transport ${kind || '<none>'} can write any key: name whose traces to deliver with --user (and --task); ` +
      'the spool files are not trusted to say',
  );
}

/**
 * What still blocks a spool after a flush: broken entries, and artifacts (with --recover-partials,
 * spill files of killed recorders too) inside the flush's scope. A live recording is not stuck: a
 * sidecar flusher next to a running agent must not fail on it.
 */
function remainingAfterFlush(
  entries: readonly SpoolEntry[],
  recoverPartials: boolean,
  scope: UploadSpooledOptions['scope'],
): SpoolEntry[] {
  return entries.filter((e) => {
    if (e.kind === 'broken') return true;
    if (e.kind === 'spill' && (!recoverPartials || e.live)) return false;
    if (scope === undefined) return true;
    // Entries outside the flush's --user/--task are another flush's business.
    const { userId, taskId } = parseTraceKey(e.key);
    return userId === scope.userId && (scope.taskId === undefined || taskId === scope.taskId);
  });
}

/**
 * Uploads what the spool holds; exit 1 when any entry failed or anything remains afterwards
 * (artifacts, broken entries, and with --recover-partials spill files), so nothing stays stuck
 * behind a zero exit code.
 */
export async function runSpoolFlush(ctx: CliContext, opts: SpoolFlushOptions): Promise<UploadSpooledResult> {
  const spoolDir = await spoolDirFrom(opts);
  const transport = transportFromFlags(opts, ctx);
  const authority = flushAuthority(opts, ctx, transport);
  const result = await uploadSpooled({
    spoolDir,
    ...authority,
    recoverPartials: opts.recoverPartials === true,
  });
  const report = flushReport(spoolDir, result, ctx.secrets);
  if (opts.json === true) {
    await write(ctx.io.stdout, `${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [
      `${spoolDir}: uploaded ${report.uploaded.length}, failed ${report.failed.length}, skipped ${report.skipped.length}`,
      ...report.uploaded.map(
        (u) =>
          `  uploaded ${u.key} (${plural(u.attempts, 'attempt')})` +
          (transport.bucketWide === true ? ' [legacy bucket-wide PutObject]' : ''),
      ),
      ...report.failed.map((f) => `  failed   ${f.key}: ${f.message} (${f.code})`),
      ...report.skipped.map((s) => `  skipped  ${s.path}: ${s.reason}`),
    ];
    // Keys, paths, reasons and messages come from spool files: escape what a terminal would run.
    await write(ctx.io.stdout, `${lines.map(terminalSafe).join('\n')}\n`);
  }
  const remaining = remainingAfterFlush(
    await listSpooled(spoolDir, { all: true }),
    opts.recoverPartials === true,
    authority.scope,
  );
  if (result.failed.length > 0) {
    ctx.io.stderr.write(
      `agent-trace: ${plural(result.failed.length, 'spooled artifact')} failed to upload and stay in ${terminalSafe(spoolDir)} (ERR_SPOOL_FLUSH)\n`,
    );
    ctx.exitCode = ExitCode.failure;
  } else if (remaining.length > 0) {
    const n = remaining.length;
    ctx.io.stderr.write(
      `agent-trace: ${n} entr${n === 1 ? 'y remains' : 'ies remain'} in ${spoolDir}; see \`agent-trace spool list\` (ERR_SPOOL_FLUSH)\n`,
    );
    ctx.exitCode = ExitCode.failure;
  }
  return result;
}

/**
 * Lists everything in the spool: artifacts, spill files of recordings (`cat --recover` reads one,
 * `spool flush --recover-partials` delivers them), and broken entries with the reason.
 */
export async function runSpoolList(ctx: CliContext, opts: SpoolListOptions): Promise<void> {
  const spoolDir = await spoolDirFrom(opts);
  const entries = await listSpooled(spoolDir, { all: true });
  if (opts.json === true) {
    const safe = entries.map((e) => {
      if (e.kind === 'broken') return { ...e, path: sanitize(e.path) };
      if (e.kind === 'artifact' && e.lastError !== undefined)
        return { ...e, lastError: { ...e.lastError, message: sanitize(e.lastError.message) } };
      return e;
    });
    await write(ctx.io.stdout, `${JSON.stringify(safe, null, 2)}\n`);
    return;
  }
  const artifacts = entries.filter((e) => e.kind === 'artifact');
  const spills = entries.filter((e) => e.kind === 'spill');
  const broken = entries.filter((e) => e.kind === 'broken');
  const counts = [plural(artifacts.length, 'spooled artifact')];
  if (spills.length > 0) counts.push(plural(spills.length, 'spill file'));
  if (broken.length > 0) counts.push(`${broken.length} broken`);
  const lines = [`${spoolDir}: ${counts.join(', ')}`];
  for (const e of artifacts) {
    const last = e.lastError === undefined ? '' : `, last error ${e.lastError.code}`;
    lines.push(
      `  ${e.key}  ${formatBytes(e.byteLength)}  ${e.createdAt}  ${plural(e.attempts ?? 0, 'attempt')}${last}` +
        `${e.claimedBy === undefined ? '' : `  (being uploaded by pid ${e.claimedBy})`}`,
    );
  }
  for (const e of spills) {
    lines.push(
      `  spill   ${e.key}  recording pid ${e.pid}${e.hostname === undefined ? '' : ` on ${sanitize(e.hostname)}`}  since ${sanitize(e.startedAt)}` +
        `${e.claimedBy === undefined ? '' : `  (being recovered by pid ${e.claimedBy})`}`,
    );
  }
  for (const e of broken) lines.push(`  broken  ${sanitize(e.path)}: ${e.reason}`);
  // Keys, dates, hosts and reasons come from files the runtime writes: escape them for the terminal.
  await write(ctx.io.stdout, `${lines.map(terminalSafe).join('\n')}\n`);
}

/** Adds `spool flush` and `spool list` to `program`. */
export function addSpoolCommand(program: Command, ctx: CliContext): void {
  const spool = program
    .command('spool')
    .description('deliver or list artifacts kept in a spool directory after failed uploads');
  const flush = spool
    .command('flush')
    .description('upload every spooled artifact (and, with --recover-partials, spills of killed recorders)')
    .option('--spool-dir <dir>', `spool directory (default: ${defaultSpoolDir()})`)
    .option('--recover-partials', 'also recover spill files whose recording process is gone')
    .option(
      '--user <id>',
      'deliver only this user’s entries (required for --transport file and s3-put-object)',
    )
    .option('--task <id>', 'deliver only this task’s entry (with --user)');
  addTransportOptions(flush)
    .option('--json', 'print the summary as JSON')
    .action(async (opts: SpoolFlushOptions) => {
      await runSpoolFlush(ctx, opts);
    });
  spool
    .command('list')
    .description('list everything in a spool directory: artifacts, spill files and broken entries')
    .option('--spool-dir <dir>', `spool directory (default: ${defaultSpoolDir()})`)
    .option('--json', 'print the list as JSON')
    .action((opts: SpoolListOptions) => runSpoolList(ctx, opts));
}
