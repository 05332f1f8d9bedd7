/**
 * The legacy transport: the runtime calls S3 PutObject itself, which needs the broad
 * `s3:PutObject` grant this project exists to remove. Kept so existing deployments keep
 * working while they migrate (docs/migration.md); it warns once per process.
 *
 * `@aws-sdk/client-s3` and `@aws-sdk/lib-storage` are optional peer dependencies, imported on
 * first use.
 *
 * @packageDocumentation
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, UploadError } from '../../errors.js';
import { booleanOption, numberOption } from '../../option-checks.js';
import { UNATTRIBUTED_METADATA } from '../../protocol/attribution.js';
import { uploadUrlProblem } from '../../protocol/presigned-url.js';
import { safeCause } from '../../sanitize.js';
import { fromAwsSdkError } from '../classify.js';
import { applyRetryOption, type RetryPolicy } from '../retry.js';
import type { TraceArtifact, TraceTransport, UploadReceipt } from '../types.js';
import type { S3ClientLike } from './aws-client-types.js';

/** Name of the legacy PutObject transport in receipts, errors and metrics. */
export const S3_PUT_OBJECT_TRANSPORT = 's3-put-object';

/** Code of the one-time DeprecationWarning this transport emits. */
export const S3_PUT_OBJECT_WARNING_CODE = 'AGENT_TRACE_S3_PUT_OBJECT';

/** Options of {@link s3PutObjectTransport}. */
export interface S3PutObjectOptions {
  /**
   * A configured S3Client. Default: one built from `region`/`endpoint` and the environment with
   * `maxAttempts: 1`. A client you pass keeps its own retry settings: give it `maxAttempts: 1`
   * too, so retries happen only in the shared policy.
   */
  readonly client?: S3ClientLike | undefined;
  /** The artifacts bucket. */
  readonly bucket: string;
  /**
   * Must be `true`: an explicit acknowledgement that the runtime holds a bucket-wide
   * `s3:PutObject` grant, which lets it overwrite any user's trace (env: `TRACE_ALLOW_BUCKET_WIDE_PUT=1`).
   */
  readonly allowBucketWideWrites: boolean;
  /** Region for the default client. */
  readonly region?: string | undefined;
  /** Endpoint override for the default client (e.g. a local S3). */
  readonly endpoint?: string | undefined;
  /** Path-style addressing for the default client. Default: true when `endpoint` is set. */
  readonly forcePathStyle?: boolean | undefined;
  /** Bodies larger than this go through a multipart upload. Default 16 MiB. */
  readonly multipartThresholdBytes?: number | undefined;
  /** Multipart part size, at least 5 MiB (S3's minimum). Default 8 MiB. */
  readonly partSizeBytes?: number | undefined;
  /** Parts uploaded in parallel (each buffered in memory). Default 4. */
  readonly queueSize?: number | undefined;
  /** Retry policy, or `false` for a single attempt. */
  readonly retry?: RetryPolicy | false | undefined;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_MULTIPART_THRESHOLD = 16 * 1024 * 1024;
/** S3's largest single PutObject (and largest part): 5 GiB. */
const S3_MAX_SINGLE_PUT = 5 * 1024 ** 3;

let warned = false;

const noop = () => {};
/**
 * The SDK's retry middleware warns on the console when a streamed body fails ("non-retryable
 * streaming request"); ours re-opens the artifact and retries, so that one warning only misleads.
 */
const quietLogger = {
  debug: noop,
  info: noop,
  warn: (...args: unknown[]) => {
    if (!String(args[0]).includes('non-retryable streaming request')) console.warn(...args);
  },
  // The SDK logs each failed command (its whole input and error object) here; the failure itself
  // reaches the caller as one UploadError, so printing it too only floods stderr.
  error: noop,
};

function warnOnce(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    's3PutObjectTransport needs a broad s3:PutObject grant on the runtime; move to presignedPutTransport or ' +
      'lambdaUploaderTransport (see docs/migration.md in @agent-trace/trace-sdk).',
    { type: 'DeprecationWarning', code: S3_PUT_OBJECT_WARNING_CODE },
  );
}

function integerOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = S3_MAX_SINGLE_PUT,
): number {
  return numberOption('s3PutObjectTransport', name, value, fallback, { min, max, integer: true });
}

/**
 * Legacy transport: PutObject with the runtime's own credentials. Bodies up to
 * `multipartThresholdBytes` go in one PutObject with `ChecksumSHA256` (S3 re-checks it); larger
 * ones through `@aws-sdk/lib-storage` multipart. `ContentType: application/gzip`, no
 * Content-Encoding, and `x-amz-meta-agent-trace-attribution: unattributed` (the runtime wrote
 * the object with its own credentials, so nothing about it is attested). Emits a one-time `DeprecationWarning` (code `AGENT_TRACE_S3_PUT_OBJECT`).
 *
 * Returned already wrapped in the shared retry policy (`retry: false` to opt out).
 *
 * @deprecated Needs a broad `s3:PutObject`; use {@link presignedPutTransport} or
 *   {@link lambdaUploaderTransport}. See docs/migration.md.
 * @throws {@link ConfigError} for a missing bucket or bad sizes.
 */
export function s3PutObjectTransport(options: S3PutObjectOptions): TraceTransport {
  const { bucket } = options ?? ({} as S3PutObjectOptions);
  if (typeof bucket !== 'string' || bucket.length === 0) {
    throw new ConfigError('s3PutObjectTransport: bucket is required', 'bucket');
  }
  if (options.allowBucketWideWrites !== true) {
    throw new ConfigError(
      's3PutObjectTransport needs allowBucketWideWrites: true (env TRACE_ALLOW_BUCKET_WIDE_PUT=1): the runtime ' +
        "would hold a bucket-wide s3:PutObject grant able to overwrite any user's trace; prefer " +
        'presignedPutTransport or lambdaUploaderTransport (docs/migration.md)',
      'allowBucketWideWrites',
    );
  }
  if (options.endpoint !== undefined) {
    const problem = uploadUrlProblem(options.endpoint);
    if (problem !== undefined) throw new ConfigError(`s3PutObjectTransport: endpoint ${problem}`, 'endpoint');
  }
  const partSize = integerOption('partSizeBytes', options.partSizeBytes, DEFAULT_PART_SIZE, MIN_PART_SIZE);
  const threshold = integerOption(
    'multipartThresholdBytes',
    options.multipartThresholdBytes,
    DEFAULT_MULTIPART_THRESHOLD,
    0,
  );
  const queueSize = integerOption('queueSize', options.queueSize, 4, 1, 64);
  const forcePathStyle =
    booleanOption('s3PutObjectTransport', 'forcePathStyle', options.forcePathStyle) ??
    options.endpoint !== undefined;
  warnOnce();

  let sdkPromise: Promise<{ client: S3Client; s3: typeof import('@aws-sdk/client-s3') }> | undefined;
  const sdk = () => {
    sdkPromise ??= (async () => {
      let s3: typeof import('@aws-sdk/client-s3');
      try {
        s3 = await import('@aws-sdk/client-s3');
      } catch (err) {
        throw new UploadError(
          'ERR_UPLOAD_REJECTED',
          `${S3_PUT_OBJECT_TRANSPORT}: needs @aws-sdk/client-s3 installed`,
          {
            transport: S3_PUT_OBJECT_TRANSPORT,
            cause: safeCause(err),
          },
        );
      }
      const client =
        (options.client as S3Client | undefined) ??
        new s3.S3Client({
          ...(options.region !== undefined ? { region: options.region } : {}),
          ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
          forcePathStyle,
          // Retries live in the one shared policy, not in the SDK as well.
          maxAttempts: 1,
          logger: quietLogger,
        });
      return { client, s3 };
    })();
    sdkPromise.catch(() => {
      sdkPromise = undefined;
    });
    return sdkPromise;
  };

  const single = async (
    artifact: TraceArtifact,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> => {
    const { client, s3 } = await sdk();
    const body = artifact.open();
    try {
      const out = await client.send(
        new s3.PutObjectCommand({
          Bucket: bucket,
          Key: artifact.key,
          Body: body,
          ContentLength: artifact.byteLength,
          ContentType: artifact.contentType,
          ChecksumSHA256: Buffer.from(artifact.sha256, 'hex').toString('base64'),
          // The runtime chose these credentials and could write any metadata: say so.
          Metadata: { ...UNATTRIBUTED_METADATA },
        }),
        { abortSignal: signal },
      );
      return out.ETag;
    } finally {
      if (!body.destroyed) body.destroy();
    }
  };

  const multipart = async (
    artifact: TraceArtifact,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> => {
    const { client } = await sdk();
    let storage: typeof import('@aws-sdk/lib-storage');
    try {
      storage = await import('@aws-sdk/lib-storage');
    } catch (err) {
      throw new UploadError(
        'ERR_UPLOAD_REJECTED',
        `${S3_PUT_OBJECT_TRANSPORT}: large bodies need @aws-sdk/lib-storage installed`,
        {
          transport: S3_PUT_OBJECT_TRANSPORT,
          cause: safeCause(err),
        },
      );
    }
    const body = artifact.open();
    const upload = new storage.Upload({
      client,
      params: {
        Bucket: bucket,
        Key: artifact.key,
        Body: body,
        ContentType: artifact.contentType,
        Metadata: { ...UNATTRIBUTED_METADATA },
      },
      partSize,
      queueSize,
      // Abort the multipart upload on failure so no orphaned parts are billed.
      leavePartsOnError: false,
    });
    const onAbort = () => {
      upload.abort().catch(() => {});
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const out = await upload.done();
      return out.ETag;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!body.destroyed) body.destroy();
    }
  };

  const transport: TraceTransport = {
    name: S3_PUT_OBJECT_TRANSPORT,
    bucketWide: true,
    async upload(artifact, opts): Promise<UploadReceipt> {
      const signal = opts?.signal;
      if (signal?.aborted) throw fromAwsSdkError(signal.reason, S3_PUT_OBJECT_TRANSPORT, signal);
      let etag: string | undefined;
      try {
        etag =
          artifact.byteLength > threshold
            ? await multipart(artifact, signal)
            : await single(artifact, signal);
      } catch (err) {
        throw fromAwsSdkError(err, S3_PUT_OBJECT_TRANSPORT, signal);
      }
      return {
        key: artifact.key,
        uri: `s3://${bucket}/${artifact.key}`,
        ...(etag !== undefined ? { etag } : {}),
      };
    },
  };
  return applyRetryOption(transport, options.retry);
}
