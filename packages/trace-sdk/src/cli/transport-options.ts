/**
 * The transport options shared by `upload` and `spool flush`. Flags are mapped onto the variables
 * `transportFromEnv` reads, over the environment, so the CLI validates and builds transports exactly
 * as an agent configured by environment does, with the same errors.
 *
 * @packageDocumentation
 */
import { type Command, Option } from 'commander';
import { TRANSPORT_KINDS, transportFromEnv } from '../config.js';
import { ConfigError } from '../errors.js';
import type { TraceTransport } from '../upload/types.js';
import type { CliContext } from './context.js';
import { usageError } from './errors.js';

/** Transport flags, each an override of an environment variable. */
export interface TransportFlags {
  readonly transport?: string | undefined;
  readonly url?: string | undefined;
  readonly function?: string | undefined;
  readonly grant?: string | undefined;
  readonly bucket?: string | undefined;
  readonly dir?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
  readonly retries?: string | undefined;
  /** Sets TRACE_ALLOW_BUCKET_WIDE_PUT=1: accepts the legacy transport's bucket-wide grant. */
  readonly allowBucketWidePut?: boolean | undefined;
}

/** Which variable each flag overrides; used for the mapping and for error hints. */
const FLAG_VARIABLES = [
  ['transport', '--transport', 'TRACE_TRANSPORT'],
  ['url', '--url', 'TRACE_UPLOAD_URL'],
  ['function', '--function', 'TRACE_UPLOADER_FUNCTION'],
  ['grant', '--grant', 'TRACE_UPLOAD_GRANT'],
  ['bucket', '--bucket', 'TRACE_ARTIFACTS_BUCKET_NAME'],
  ['dir', '--dir', 'TRACE_DIR'],
  ['region', '--region', 'AWS_REGION'],
] as const;

/** Variables named in ConfigErrors that a flag of another shape sets. */
const OTHER_FLAGS: Readonly<Record<string, string>> = {
  TRACE_ALLOW_BUCKET_WIDE_PUT: '--allow-bucket-wide-put',
  AWS_ENDPOINT_URL_S3: '--endpoint',
  AWS_ENDPOINT_URL_LAMBDA: '--endpoint',
};

/** Adds the transport flags to `command`. */
export function addTransportOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--transport <kind>', 'transport (default: TRACE_TRANSPORT)').choices([...TRANSPORT_KINDS]),
    )
    .option(
      '--url <url>',
      'presigned PUT URL (default: TRACE_UPLOAD_URL; prefer the variable: argv is visible to ps)',
    )
    .option('--function <name>', 'uploader Lambda name or ARN (default: TRACE_UPLOADER_FUNCTION)')
    .option('--grant <grant>', 'upload grant (default: TRACE_UPLOAD_GRANT; prefer the variable)')
    .option('--bucket <bucket>', 'bucket for s3-put-object (default: TRACE_ARTIFACTS_BUCKET_NAME)')
    .option('--dir <dir>', 'directory for the file transport (default: TRACE_DIR)')
    .option('--endpoint <url>', 'S3 or Lambda endpoint override (default: AWS_ENDPOINT_URL_S3 / _LAMBDA)')
    .option('--region <region>', 'AWS region (default: AWS_REGION)')
    .option('--retries <n>', 'retries after the first attempt (default 4)')
    .option(
      '--allow-bucket-wide-put',
      'accept that s3-put-object gives the runtime a bucket-wide PutObject grant (default: TRACE_ALLOW_BUCKET_WIDE_PUT)',
    );
}

function retriesFrom(flags: TransportFlags): number | undefined {
  if (flags.retries === undefined) return undefined;
  const n = Number(flags.retries);
  if (!Number.isSafeInteger(n) || n < 0 || n > 20)
    throw usageError('--retries expects an integer from 0 to 20');
  return n;
}

/**
 * Builds the transport the flags and environment describe, wrapped in the shared retry policy.
 * Secrets given as flags are registered with `ctx` so no error can print them.
 *
 * @throws ConfigError naming the variable (and the flag that sets it) when something is missing or bad.
 */
export function transportFromFlags(flags: TransportFlags, ctx: CliContext): TraceTransport {
  const env: Record<string, string | undefined> = { ...ctx.io.env };
  for (const [flag, , variable] of FLAG_VARIABLES) {
    const value = flags[flag];
    if (value !== undefined) env[variable] = value;
  }
  for (const secret of [flags.url, flags.grant]) if (secret !== undefined) ctx.secrets.push(secret);
  if (flags.allowBucketWidePut === true) env['TRACE_ALLOW_BUCKET_WIDE_PUT'] = '1';
  if (flags.endpoint !== undefined) {
    env['AWS_ENDPOINT_URL_S3'] = flags.endpoint;
    env['AWS_ENDPOINT_URL_LAMBDA'] = flags.endpoint;
  }
  const retries = retriesFrom(flags);
  try {
    // One line on stderr, in the CLI's own format, instead of a process warning.
    const onWarning = (message: string) => ctx.io.stderr.write(`agent-trace: warning: ${message}\n`);
    return transportFromEnv(env, retries === undefined ? { onWarning } : { retry: { retries }, onWarning });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const flag =
      FLAG_VARIABLES.find(([, , variable]) => variable === err.variable)?.[1] ??
      (err.variable === undefined ? undefined : OTHER_FLAGS[err.variable]);
    if (flag === undefined) throw err;
    throw new ConfigError(`${err.message} (or pass ${flag})`, err.variable, { cause: err });
  }
}
