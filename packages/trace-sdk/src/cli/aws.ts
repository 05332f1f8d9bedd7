/**
 * AWS client configuration for the CLI, from options and the injected environment. The AWS SDK
 * is imported lazily: `cat` on a local file or `key` never loads it.
 *
 * @packageDocumentation
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.js';
import type { CliIo } from './io.js';

/** Endpoint and region options shared by the commands that talk to S3. */
export interface AwsOptions {
  /** S3 endpoint override (e.g. a local S3); path-style addressing is used with it. */
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
}

/** `--region`, then `AWS_REGION`, `AWS_DEFAULT_REGION`, then `us-east-1`. */
export function regionFrom(opts: AwsOptions, env: CliIo['env']): string {
  return opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/** `--endpoint`, then `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`; undefined for real S3. */
export function s3EndpointFrom(opts: AwsOptions, env: CliIo['env']): string | undefined {
  const endpoint = opts.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (endpoint === undefined || endpoint === '') return undefined;
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigError(`Not a URL: --endpoint "${endpoint}"`, '--endpoint');
  }
  return endpoint;
}

/**
 * Static credentials from the injected environment when it holds them; otherwise undefined and
 * the SDK's default provider chain (profiles, SSO, instance roles) decides.
 */
export function credentialsFrom(
  env: CliIo['env'],
): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** An S3 client for reading objects (`cat s3://...`). */
export async function readerS3Client(opts: AwsOptions, env: CliIo['env']): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const endpoint = s3EndpointFrom(opts, env);
  const credentials = credentialsFrom(env);
  return new S3Client({
    region: regionFrom(opts, env),
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
    ...(credentials === undefined ? {} : { credentials }),
  });
}
