/**
 * `agent-trace presign`: mints a presigned PUT URL for one trace key, for development and manual
 * tests. Production orchestrators call `createTraceUploadUrl` themselves.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { isValidBucketName } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { createTraceS3Client, createTraceUploadUrl } from '../../protocol/presign.js';
import { credentialsFrom, regionFrom, s3EndpointFrom } from '../aws.js';
import type { CliContext } from '../context.js';
import { usageError } from '../errors.js';
import { write } from '../io.js';

/** Options of `presign`. */
export interface PresignOptions {
  readonly bucket: string;
  readonly user: string;
  readonly task: string;
  /** Lifetime in seconds (string from the command line). Default 900. */
  readonly expires?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

function expiresFrom(value: string | undefined): number {
  if (value === undefined) return 900;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw usageError('--expires expects a whole number of seconds');
  }
  return n;
}

/**
 * Resolves the signing credentials up front, so their absence is a configuration error naming
 * the variables rather than the SDK's "Could not load credentials from any providers".
 */
async function requireCredentials(s3: { config: { credentials: () => Promise<unknown> } }): Promise<void> {
  try {
    await s3.config.credentials();
  } catch (err) {
    throw new ConfigError(
      'presign needs AWS credentials to sign with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ' +
        '(and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE',
      'AWS_ACCESS_KEY_ID',
      { cause: err },
    );
  }
}

/**
 * Prints the URL, and only the URL, on stdout (so `$(agent-trace presign ...)` captures it); the
 * warning that it is a secret goes to stderr.
 */
export async function runPresign(ctx: CliContext, opts: PresignOptions): Promise<void> {
  const expiresIn = expiresFrom(opts.expires);
  // Checked here, without echoing the name: the AWS SDK's own message repeats the value.
  if (!isValidBucketName(opts.bucket))
    throw new ConfigError('--bucket is not a valid S3 bucket name', '--bucket');
  const endpoint = s3EndpointFrom(opts, ctx.io.env);
  const credentials = credentialsFrom(ctx.io.env);
  const s3 = await createTraceS3Client({
    region: regionFrom(opts, ctx.io.env),
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
    ...(credentials === undefined ? {} : { credentials }),
  });
  try {
    await requireCredentials(s3);
    const minted = await createTraceUploadUrl({
      s3,
      bucket: opts.bucket,
      userId: opts.user,
      taskId: opts.task,
      expiresIn,
      // A bare URL for TRACE_UPLOAD_URL: the trace does not exist yet, so its size cannot be
      // signed, and there is no way to hand the runtime headers, so the attribution rides in the
      // signed query string.
      allowUnboundedSize: true,
      metadataIn: 'query',
    });
    await write(ctx.io.stdout, `${minted.url}\n`);
    ctx.io.stderr.write(
      `agent-trace: this URL lets whoever holds it write ${minted.key} until ${minted.expiresAt.toISOString()}; ` +
        'treat it as a secret: do not log, paste or commit it. Upload with Content-Type: application/gzip. ' +
        'Its size is not bound (S3 accepts up to 5 GiB): for production, mint per upload with the sealed size.\n',
    );
  } finally {
    s3.destroy();
  }
}

/** Adds the `presign` command to `program`. */
export function addPresignCommand(program: Command, ctx: CliContext): void {
  program
    .command('presign')
    .description('mint a presigned PUT URL for one trace key (development; the URL is a secret)')
    .requiredOption('--bucket <bucket>', 'the trace bucket')
    .requiredOption('--user <user>', 'user id')
    .requiredOption('--task <task>', 'task id')
    .option('--expires <seconds>', 'URL lifetime in seconds', '900')
    .option('--endpoint <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3)')
    .option('--region <region>', 'AWS region (default: AWS_REGION or us-east-1)')
    .action((opts: PresignOptions) => runPresign(ctx, opts));
}
