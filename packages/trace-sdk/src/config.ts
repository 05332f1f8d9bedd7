/**
 * Choosing a transport by configuration or environment, so an agent switches among presigned
 * PUT, the uploader Lambda, legacy PutObject and a local directory without code changes. A bad
 * or incomplete configuration fails at construction with a {@link ConfigError} naming the
 * option or variable; messages never repeat a URL's query string or a grant.
 *
 * @packageDocumentation
 */
import { ConfigError } from './errors.js';
import { readUploadGrantClaims } from './protocol/grant.js';
import { uploadUrlProblem } from './protocol/presigned-url.js';
import type { RetryPolicy } from './upload/retry.js';
import { type FileTransportOptions, fileTransport } from './upload/transports/file.js';
import { type LambdaUploaderOptions, lambdaUploaderTransport } from './upload/transports/lambda-uploader.js';
import { type PresignedPutOptions, presignedPutTransport } from './upload/transports/presigned-put.js';
import { type S3PutObjectOptions, s3PutObjectTransport } from './upload/transports/s3-put-object.js';
import type { TraceTransport } from './upload/types.js';

/** The transports {@link transportFromConfig} and {@link transportFromEnv} can build. */
export const TRANSPORT_KINDS = ['presigned-put', 'lambda', 's3-put-object', 'file'] as const;

/** One of {@link TRANSPORT_KINDS}. */
export type TransportKind = (typeof TRANSPORT_KINDS)[number];

/** A transport configuration: `transport` picks the kind, the rest are that factory's options. */
export type TransportConfig =
  | ({ readonly transport: 'presigned-put' } & PresignedPutOptions)
  | ({ readonly transport: 'lambda' } & LambdaUploaderOptions)
  | ({ readonly transport: 's3-put-object' } & S3PutObjectOptions)
  | ({ readonly transport: 'file' } & FileTransportOptions);

/** The environment variables {@link transportFromEnv} reads. */
export const TRANSPORT_ENV_VARS = [
  'TRACE_TRANSPORT',
  'TRACE_UPLOAD_URL',
  'TRACE_UPLOADER_FUNCTION',
  'TRACE_UPLOAD_GRANT',
  'TRACE_ARTIFACTS_BUCKET_NAME',
  'TRACE_DIR',
  'TRACE_ALLOW_BUCKET_WIDE_PUT',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL_LAMBDA',
] as const;

/**
 * Builds the transport a configuration names. Each factory validates its own options.
 *
 * @throws {@link ConfigError} for an unknown `transport` or bad options (`variable` names the option).
 * @example
 * transportFromConfig({ transport: 'file', dir: './out' });
 */
export function transportFromConfig(config: TransportConfig): TraceTransport {
  const kind = (config as { transport?: unknown } | undefined)?.transport;
  switch (kind) {
    case 'presigned-put':
      return presignedPutTransport(config as PresignedPutOptions);
    case 'lambda':
      return lambdaUploaderTransport(config as LambdaUploaderOptions);
    case 's3-put-object':
      return s3PutObjectTransport(config as S3PutObjectOptions);
    case 'file':
      return fileTransport(config as FileTransportOptions);
    default:
      throw new ConfigError(
        `unknown transport ${typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : describeKind(kind)}; ` +
          `expected one of ${TRANSPORT_KINDS.join(', ')}`,
        'transport',
      );
  }
}

/** Names a non-string transport kind without calling its (possibly hostile) toString. */
function describeKind(kind: unknown): string {
  if (kind === null) return 'null';
  return typeof kind === 'object' || typeof kind === 'function' ? `(${typeof kind})` : String(kind);
}

/** Extra options {@link transportFromEnv} cannot read from the environment. */
export interface TransportFromEnvOptions {
  /** Retry policy for the built transport, or `false` for a single attempt. */
  readonly retry?: RetryPolicy | false | undefined;
  /**
   * Called once per process for set variables the chosen transport ignores (e.g. `TRACE_UPLOAD_URL`
   * with `TRACE_TRANSPORT=file`): the message names them, never their values. Default: a
   * `process.emitWarning` with code `AGENT_TRACE_IGNORED_ENV`.
   */
  readonly onWarning?: ((message: string) => void) | undefined;
}

/**
 * The variable that opts into the legacy s3-put-object transport, which needs a bucket-wide
 * `s3:PutObject` grant on the runtime. It must be `1` (or `true`).
 */
export const ALLOW_BUCKET_WIDE_PUT_VAR = 'TRACE_ALLOW_BUCKET_WIDE_PUT';

/** The transport-specific variables, by the transport that reads them. */
const VARIABLES_OF: Readonly<Record<TransportKind, readonly string[]>> = {
  'presigned-put': ['TRACE_UPLOAD_URL'],
  lambda: ['TRACE_UPLOADER_FUNCTION', 'TRACE_UPLOAD_GRANT'],
  's3-put-object': ['TRACE_ARTIFACTS_BUCKET_NAME', ALLOW_BUCKET_WIDE_PUT_VAR],
  file: ['TRACE_DIR'],
};

let warnedIgnored = false;

function warnIgnored(
  env: Env,
  kind: TransportKind,
  onWarning: ((message: string) => void) | undefined,
): void {
  if (warnedIgnored) return;
  const ignored = Object.entries(VARIABLES_OF)
    .filter(([other]) => other !== kind)
    .flatMap(([, names]) => names)
    // TRACE_ARTIFACTS_BUCKET_NAME is also the Python agent's variable: deployments keep it set.
    .filter((name) => name !== 'TRACE_ARTIFACTS_BUCKET_NAME' && read(env, name) !== undefined);
  if (ignored.length === 0) return;
  warnedIgnored = true;
  const message =
    `TRACE_TRANSPORT=${kind} ignores ${ignored.join(', ')}, which ${ignored.length === 1 ? 'is set; unset it' : 'are set; unset them'} ` +
    `or choose the transport ${ignored.length === 1 ? 'it configures' : 'they configure'}`;
  if (onWarning !== undefined) onWarning(message);
  else process.emitWarning(message, { code: 'AGENT_TRACE_IGNORED_ENV' });
}

/** Whether `name` follows S3's bucket naming rules (checked without echoing it in errors). */
export function isValidBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !name.includes('..');
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function required(env: Env, name: string, kind: TransportKind): string {
  const value = read(env, name);
  if (value === undefined) throw new ConfigError(`${name} is required when TRACE_TRANSPORT=${kind}`, name);
  return value;
}

function checkUrl(name: string, value: string): string {
  // `localhost:4566` parses as a URL whose scheme is "localhost:": say what is missing instead.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ConfigError(
      `${name} must be an absolute URL with a scheme, e.g. http://localhost:4566 (got no "http://" or "https://")`,
      name,
    );
  }
  const problem = uploadUrlProblem(value);
  if (problem !== undefined) throw new ConfigError(`${name} ${problem}`, name);
  return value;
}

/** The first endpoint variable set, validated under its own name. */
function endpoint(env: Env, specific: string): string | undefined {
  for (const name of [specific, 'AWS_ENDPOINT_URL']) {
    const value = read(env, name);
    if (value !== undefined) return checkUrl(name, value);
  }
  return undefined;
}

// S3 bucket naming rules: 3-63 chars of lowercase letters, digits, dots and hyphens, starting
// and ending with a letter or digit.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function fromEnvConfig(env: Env, retry: RetryPolicy | false | undefined): TransportConfig {
  const raw = read(env, 'TRACE_TRANSPORT');
  if (raw === undefined) {
    throw new ConfigError(
      `TRACE_TRANSPORT is required: one of ${TRANSPORT_KINDS.join(', ')}`,
      'TRACE_TRANSPORT',
    );
  }
  if (!(TRANSPORT_KINDS as readonly string[]).includes(raw)) {
    throw new ConfigError(
      `TRACE_TRANSPORT=${JSON.stringify(raw.slice(0, 40))} is not a transport; expected one of ${TRANSPORT_KINDS.join(', ')}`,
      'TRACE_TRANSPORT',
    );
  }
  const kind = raw as TransportKind;
  const region = read(env, 'AWS_REGION') ?? read(env, 'AWS_DEFAULT_REGION');
  // The AWS SDK would only find out at the first upload, as a failed upload: fail at build instead.
  const requireRegion = () => {
    if (region === undefined) {
      throw new ConfigError(
        `AWS_REGION is required when TRACE_TRANSPORT=${kind} (or AWS_DEFAULT_REGION)`,
        'AWS_REGION',
      );
    }
  };
  const withRetry = retry === undefined ? {} : { retry };
  switch (kind) {
    case 'presigned-put':
      return {
        transport: kind,
        url: checkUrl('TRACE_UPLOAD_URL', required(env, 'TRACE_UPLOAD_URL', kind)),
        ...withRetry,
      };
    case 'lambda': {
      const functionName = required(env, 'TRACE_UPLOADER_FUNCTION', kind);
      const grant = required(env, 'TRACE_UPLOAD_GRANT', kind);
      try {
        readUploadGrantClaims(grant);
      } catch {
        throw new ConfigError('TRACE_UPLOAD_GRANT is not a well-formed upload grant', 'TRACE_UPLOAD_GRANT');
      }
      const lambdaEndpoint = endpoint(env, 'AWS_ENDPOINT_URL_LAMBDA');
      requireRegion();
      return {
        transport: kind,
        functionName,
        grant,
        ...(region !== undefined ? { region } : {}),
        ...(lambdaEndpoint !== undefined ? { endpoint: lambdaEndpoint } : {}),
        ...withRetry,
      };
    }
    case 's3-put-object': {
      const allow = read(env, ALLOW_BUCKET_WIDE_PUT_VAR);
      if (allow !== '1' && allow !== 'true') {
        throw new ConfigError(
          `TRACE_TRANSPORT=s3-put-object needs a bucket-wide s3:PutObject grant on the runtime; set ` +
            `${ALLOW_BUCKET_WIDE_PUT_VAR}=1 to accept that, or move to presigned-put or lambda (docs/migration.md)`,
          ALLOW_BUCKET_WIDE_PUT_VAR,
        );
      }
      const bucket = required(env, 'TRACE_ARTIFACTS_BUCKET_NAME', kind);
      if (!isValidBucketName(bucket)) {
        throw new ConfigError(
          'TRACE_ARTIFACTS_BUCKET_NAME is not a valid S3 bucket name',
          'TRACE_ARTIFACTS_BUCKET_NAME',
        );
      }
      const s3Endpoint = endpoint(env, 'AWS_ENDPOINT_URL_S3');
      requireRegion();
      return {
        transport: kind,
        bucket,
        allowBucketWideWrites: true,
        ...(region !== undefined ? { region } : {}),
        ...(s3Endpoint !== undefined ? { endpoint: s3Endpoint } : {}),
        ...withRetry,
      };
    }
    case 'file':
      return { transport: kind, dir: required(env, 'TRACE_DIR', kind), ...withRetry };
  }
}

/**
 * Builds the transport the environment names:
 *
 * | TRACE_TRANSPORT | needs                                          | optional |
 * |-----------------|------------------------------------------------|----------|
 * | `presigned-put` | `TRACE_UPLOAD_URL` (https; http only on loopback) | |
 * | `lambda`        | `TRACE_UPLOADER_FUNCTION`, `TRACE_UPLOAD_GRANT`, `AWS_REGION` | `AWS_ENDPOINT_URL_LAMBDA` |
 * | `s3-put-object` | `TRACE_ARTIFACTS_BUCKET_NAME`, `AWS_REGION`, `TRACE_ALLOW_BUCKET_WIDE_PUT=1` | `AWS_ENDPOINT_URL_S3` |
 * | `file`          | `TRACE_DIR`                                     | |
 *
 * (`AWS_ENDPOINT_URL` is the fallback for both endpoint variables, as in the AWS SDKs, and
 * `AWS_DEFAULT_REGION` for `AWS_REGION`.) Variables of another transport that are set are
 * ignored, with one warning per process naming them.
 *
 * @throws {@link ConfigError} whose `variable` names the missing or malformed variable.
 */
export function transportFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: TransportFromEnvOptions = {},
): TraceTransport {
  const config = fromEnvConfig(env, options.retry);
  warnIgnored(env, config.transport, options.onWarning);
  return transportFromConfig(config);
}
