/**
 * `agent-trace upload <file>`: uploads an existing artifact through any transport, with a progress
 * bar for large files on a terminal.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { traceKey } from '../../key.js';
import { readTraceHeader } from '../../read/read-trace.js';
import { artifactFromFile } from '../../upload/artifact.js';
import type { UploadReceipt } from '../../upload/types.js';
import type { CliContext } from '../context.js';
import { errorCode, plural, sanitize, usageError } from '../errors.js';
import { write } from '../io.js';
import { formatBytes, PROGRESS_MIN_BYTES, ProgressBar, withByteCounter } from '../progress.js';
import { addTransportOptions, type TransportFlags, transportFromFlags } from '../transport-options.js';

/** Options of `upload`. */
export interface UploadOptions extends TransportFlags {
  readonly user: string;
  readonly task: string;
  /** `true`/`false` force the progress bar on/off; undefined: on for large files on a terminal. */
  readonly progress?: boolean | undefined;
  /** Skip the check that the file is an artifact whose header names this user and task. */
  readonly force?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/** What `upload` prints with `--json`. */
export interface UploadReport extends UploadReceipt {
  readonly ok: true;
  readonly transport: string;
  /** True for the legacy s3-put-object transport (the runtime held a bucket-wide PutObject grant). */
  readonly legacy: boolean;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Refuses to upload a file whose header names another task or user, or that has no header: an
 * upload puts it at the key, where readers trust it. `--force` skips this.
 */
async function checkHeader(path: string, userId: string, taskId: string): Promise<void> {
  const header = await readTraceHeader(path);
  if (header['task_id'] !== taskId) {
    throw usageError(
      `${path} records task ${JSON.stringify(header['task_id'])}, not ${JSON.stringify(taskId)} (--force to upload anyway)`,
    );
  }
  const user = header['user_id'];
  if (user !== undefined && user !== userId) {
    throw usageError(
      `${path} records user ${JSON.stringify(user)}, not ${JSON.stringify(userId)} (--force to upload anyway)`,
    );
  }
}

/**
 * Uploads `file` and prints the receipt. With `--json` a failure also prints a JSON report
 * (`{ ok: false, error: { code, message } }`) on stdout, so scripts always get JSON to parse; the
 * one-line error still goes to stderr and the exit code is unchanged.
 */
export async function runUpload(ctx: CliContext, file: string, opts: UploadOptions): Promise<UploadReport> {
  try {
    return await uploadFile(ctx, file, opts);
  } catch (err) {
    if (opts.json === true) {
      const message = sanitize(err instanceof Error ? err.message : String(err), ctx.secrets);
      const report = { ok: false, file, error: { code: errorCode(err), message } };
      await write(ctx.io.stdout, `${JSON.stringify(report, null, 2)}\n`);
    }
    throw err;
  }
}

/** Uploads `file` to `traces/<user>/<task>.jsonl.gz` and prints the receipt. */
async function uploadFile(ctx: CliContext, file: string, opts: UploadOptions): Promise<UploadReport> {
  const key = traceKey({ userId: opts.user, taskId: opts.task });
  const transport = transportFromFlags(opts, ctx);
  if (opts.force !== true) await checkHeader(file, opts.user, opts.task);
  let artifact = await artifactFromFile(key, file);

  const showProgress = opts.progress ?? (ctx.io.stderrIsTTY && artifact.byteLength >= PROGRESS_MIN_BYTES);
  const bar = showProgress
    ? new ProgressBar(ctx.io.stderr, artifact.byteLength, { label: 'uploading', columns: ctx.io.columns })
    : undefined;
  let sent = 0;
  if (bar !== undefined) {
    artifact = withByteCounter(artifact, (n) => {
      sent = n;
      bar.update(n);
    });
  }
  let receipt: UploadReceipt;
  try {
    receipt = await transport.upload(artifact, {});
  } finally {
    bar?.finish(sent);
  }

  const report: UploadReport = {
    ok: true,
    ...receipt,
    transport: transport.name,
    legacy: transport.bucketWide === true,
    bytes: artifact.byteLength,
    sha256: artifact.sha256,
  };
  const attempts = receipt.attempts ?? 1;
  const legacy = report.legacy
    ? 'legacy: the runtime used a bucket-wide s3:PutObject grant (docs/migration.md)\n'
    : '';
  await write(
    ctx.io.stdout,
    opts.json === true
      ? `${JSON.stringify(report, null, 2)}\n`
      : `uploaded ${receipt.key}${receipt.uri === undefined ? '' : ` to ${receipt.uri}`} ` +
          `via ${transport.name} (${formatBytes(artifact.byteLength)}, ${plural(attempts, 'attempt')})\n` +
          `sha256 ${artifact.sha256}${receipt.etag === undefined ? '' : `  etag ${receipt.etag}`}\n${legacy}`,
  );
  return report;
}

/** Adds the `upload` command to `program`. */
export function addUploadCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('upload')
    .description('upload an artifact file to traces/<user>/<task>.jsonl.gz through any transport')
    .argument('<file>', 'the artifact (gzip JSONL, header first)')
    .requiredOption('--user <user>', 'user id the trace belongs to')
    .requiredOption('--task <task>', 'task id of the trace');
  addTransportOptions(command)
    .option('--progress', 'always show the progress bar (default: for files over 4 MiB on a terminal)')
    .option('--no-progress', 'never show the progress bar')
    .option('--force', "upload even if the file's header names another task or user, or is missing")
    .option('--json', 'print the receipt as JSON')
    .action(async (file: string, opts: UploadOptions) => {
      await runUpload(ctx, file, opts);
    });
}
