/**
 * CloudTrail binding: minting presigned URLs under credentials whose STS session carries the
 * operator as `SourceIdentity`. S3 records the signer's session in the data event of the PUT, so
 * CloudTrail names the same person as the object's `agent-trace-operator` metadata. STS keeps a
 * SourceIdentity for the whole role chain and no later session can change it.
 *
 * `@aws-sdk/client-sts` is an optional peer dependency, imported on first use.
 *
 * @packageDocumentation
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { AssumeRoleCommandOutput, STSClient, STSClientConfig } from '@aws-sdk/client-sts';
import { AttributionError, ConfigError } from '../errors.js';
import { isValidOperator } from '../protocol/attribution.js';
import { bindSourceIdentity, createTraceS3Client } from '../protocol/presign.js';

/** Options of {@link assumeRoleWithSourceIdentity}. */
export interface SourceIdentityRoleOptions {
  /** The role the orchestrator assumes to sign; its trust policy must allow `sts:SetSourceIdentity`. */
  readonly roleArn: string;
  /** The operator, set as `SourceIdentity` (2–64 characters of `[A-Za-z0-9_+=,.@-]`). */
  readonly operator: string;
  /** `RoleSessionName`. Default `agent-trace-<operator>` (cut to 64 characters). */
  readonly roleSessionName?: string | undefined;
  /** Session lifetime in seconds, 900 to 43 200. Default 3600. */
  readonly durationSeconds?: number | undefined;
  /** `ExternalId`, when the role's trust policy requires one. */
  readonly externalId?: string | undefined;
  /** A configured STS client. Default: one from `stsConfig` and the environment. */
  readonly sts?: STSClient | undefined;
  /** Configuration of the default STS client (region, endpoint, credentials). */
  readonly stsConfig?: STSClientConfig | undefined;
}

/** Temporary credentials whose session carries `sourceIdentity`. */
export interface SourceIdentityCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
  /** The SourceIdentity STS confirmed. */
  readonly sourceIdentity: string;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

async function loadSts() {
  try {
    return await import('@aws-sdk/client-sts');
  } catch (err) {
    throw new ConfigError(
      'assumeRoleWithSourceIdentity needs @aws-sdk/client-sts installed',
      '@aws-sdk/client-sts',
      { cause: err },
    );
  }
}

/**
 * Calls STS `AssumeRole` with `SourceIdentity` set to the operator, and checks that STS echoed
 * it back. Fails closed: an operator STS would not accept, or a session without it, throws.
 *
 * @throws {@link AttributionError} `invalid_operator` | `source_identity_unbound`.
 * @throws {@link ConfigError} for a bad role ARN, session name or duration.
 */
export async function assumeRoleWithSourceIdentity(
  options: SourceIdentityRoleOptions,
): Promise<SourceIdentityCredentials> {
  const { roleArn, operator } = options ?? ({} as SourceIdentityRoleOptions);
  if (!isValidOperator(operator)) {
    throw new AttributionError(
      'invalid_operator',
      'operator must be a valid STS SourceIdentity: 2-64 characters of [A-Za-z0-9_+=,.@-], not starting with "aws:"',
    );
  }
  if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
    throw new ConfigError('roleArn must be an IAM role ARN', 'roleArn');
  }
  const roleSessionName = options.roleSessionName ?? `agent-trace-${operator}`.slice(0, 64);
  if (!SESSION_NAME.test(roleSessionName)) {
    throw new ConfigError('roleSessionName must be 2-64 characters of [A-Za-z0-9_+=,.@-]', 'roleSessionName');
  }
  const durationSeconds = options.durationSeconds ?? 3600;
  if (!Number.isSafeInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43_200) {
    throw new ConfigError('durationSeconds must be a whole number from 900 to 43200', 'durationSeconds');
  }
  const { STSClient, AssumeRoleCommand } = await loadSts();
  const sts = options.sts ?? new STSClient(options.stsConfig ?? {});
  let out: AssumeRoleCommandOutput;
  try {
    out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: roleSessionName,
        SourceIdentity: operator,
        DurationSeconds: durationSeconds,
        ...(options.externalId !== undefined ? { ExternalId: options.externalId } : {}),
      }),
    );
  } catch (err) {
    // Typically AccessDenied: the trust policy lacks sts:SetSourceIdentity for this caller.
    throw new AttributionError(
      'source_identity_unbound',
      `STS AssumeRole with SourceIdentity failed: ${(err as { name?: unknown })?.name ?? 'error'}`,
      { cause: err },
    );
  } finally {
    if (options.sts === undefined) sts.destroy();
  }
  const c = out.Credentials;
  const echoed = out.SourceIdentity;
  if (echoed !== operator) {
    throw new AttributionError(
      'source_identity_unbound',
      'STS did not confirm the operator as the session SourceIdentity',
    );
  }
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date)) {
    throw new AttributionError('source_identity_unbound', 'STS returned no usable credentials');
  }
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
    sourceIdentity: echoed,
  };
}

/** Options of {@link createSourceIdentityS3Client}. */
export interface SourceIdentityS3ClientOptions extends SourceIdentityRoleOptions {
  /** Configuration of the S3 client (region, endpoint, ...); its credentials are replaced. */
  readonly s3Config?: S3ClientConfig | undefined;
}

/** Re-assume this long before the session expires. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * An S3 client for {@link createTraceUploadUrl} that signs with credentials assumed with the
 * operator as `SourceIdentity`, re-assumed before they expire. Pass it with `operator` and
 * `requireSourceIdentity: true`: minting then refuses unless the two agree. The first
 * `AssumeRole` happens here, so a trust policy without `sts:SetSourceIdentity` fails at once.
 *
 * @example
 * const s3 = await createSourceIdentityS3Client({ roleArn, operator: 'alice@example.com', s3Config: { region } });
 * await createTraceUploadUrl({ s3, bucket, userId, taskId, contentLength, sha256,
 *   operator: 'alice@example.com', requireSourceIdentity: true });
 */
export async function createSourceIdentityS3Client(
  options: SourceIdentityS3ClientOptions,
): Promise<S3Client> {
  let current = await assumeRoleWithSourceIdentity(options);
  let pending: Promise<SourceIdentityCredentials> | undefined;
  const credentials = async () => {
    if (current.expiration.getTime() - Date.now() < REFRESH_MARGIN_MS) {
      pending ??= assumeRoleWithSourceIdentity(options).finally(() => {
        pending = undefined;
      });
      current = await pending;
    }
    return current;
  };
  const s3 = await createTraceS3Client({ ...options.s3Config, credentials });
  bindSourceIdentity(s3, current.sourceIdentity);
  return s3;
}
