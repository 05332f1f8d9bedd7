/**
 * The recommended transport: an HTTP PUT to a presigned S3 URL the orchestrator minted for
 * exactly this trace's key. The runtime holds no AWS credentials at all.
 *
 * @packageDocumentation
 */
import { ConfigError, UploadError } from '../../errors.js';
import { uploadUrlProblem } from '../../protocol/presigned-url.js';
import { providerError } from '../classify.js';
import { applyRetryOption, type RetryPolicy } from '../retry.js';
import type { TraceArtifact, TraceTransport } from '../types.js';
import {
  type HttpPutOptions,
  httpPutOptions,
  type PresignedTarget,
  uploadToPresignedTarget,
} from './http-put.js';

/** Name of the presigned-PUT transport in receipts, errors and metrics. */
export const PRESIGNED_PUT_TRANSPORT = 'presigned-put';

/** What a URL provider is told: the trace the URL must be minted for. */
export interface UploadUrlRequest {
  /** The object key the URL must name exactly. */
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
}

/** Options of {@link presignedPutTransport}. */
export interface PresignedPutOptions extends HttpPutOptions {
  /**
   * The presigned PUT URL, or a function that mints one. Prefer the function for long tasks:
   * URLs signed with temporary credentials die with them, and the transport asks the function
   * once more when a URL has expired. A fixed string cannot be refreshed. The function is told
   * which trace the URL is for, so one transport can serve several traces (e.g. `uploadSpooled`).
   */
  readonly url: string | ((request: UploadUrlRequest) => Promise<string>);
  /** Retry policy, or `false` for a single attempt. Default: {@link DEFAULT_RETRY_POLICY}. */
  readonly retry?: RetryPolicy | false | undefined;
}

/**
 * PUTs each artifact to a presigned S3 URL with undici: the body streamed with a known
 * Content-Length, `Content-Type: application/gzip`, no Content-Encoding. Before sending, the
 * URL must be https (http only on loopback), name exactly the artifact's key, and not have
 * expired; an expired URL is refreshed once through the provider. URLs never appear in errors.
 *
 * Returned already wrapped in the shared retry policy (`retry: false` to opt out).
 *
 * @throws {@link ConfigError} (`variable: 'url'`) for a fixed URL that is not usable.
 * @example
 * const transport = presignedPutTransport({ url: () => orchestrator.mintUploadUrl(taskId) });
 */
export function presignedPutTransport(options: PresignedPutOptions): TraceTransport {
  const { url } = options ?? ({} as PresignedPutOptions);
  if (typeof url === 'string') {
    const problem = uploadUrlProblem(url);
    if (problem !== undefined) throw new ConfigError(`presignedPutTransport: url ${problem}`, 'url');
  } else if (typeof url !== 'function') {
    throw new ConfigError(
      'presignedPutTransport: url must be a URL string or a function returning one',
      'url',
    );
  }
  const http = httpPutOptions('presignedPutTransport', options);

  // The last URL obtained for each artifact, so a retry after a 5xx reuses it instead of
  // minting another; keyed weakly so finished artifacts are forgotten.
  const current = new WeakMap<TraceArtifact, PresignedTarget>();
  const mint = async (artifact: TraceArtifact): Promise<PresignedTarget> => {
    let minted: unknown;
    try {
      const request: UploadUrlRequest = {
        key: artifact.key,
        userId: artifact.userId,
        taskId: artifact.taskId,
      };
      minted = await (url as (request: UploadUrlRequest) => Promise<string>)(request);
    } catch (err) {
      throw providerError(PRESIGNED_PUT_TRANSPORT, 'URL', err);
    }
    if (typeof minted !== 'string') {
      throw new UploadError(
        'ERR_UPLOAD_REJECTED',
        `${PRESIGNED_PUT_TRANSPORT}: the URL provider returned no URL`,
        {
          transport: PRESIGNED_PUT_TRANSPORT,
        },
      );
    }
    const target = { url: minted };
    current.set(artifact, target);
    return target;
  };

  const transport: TraceTransport = {
    name: PRESIGNED_PUT_TRANSPORT,
    async upload(artifact, opts) {
      const target = typeof url === 'string' ? { url } : (current.get(artifact) ?? (await mint(artifact)));
      const receipt = await uploadToPresignedTarget({
        artifact,
        transport: PRESIGNED_PUT_TRANSPORT,
        signal: opts?.signal,
        http,
        target,
        refresh: typeof url === 'string' ? undefined : () => mint(artifact),
      });
      current.delete(artifact);
      return receipt;
    },
  };
  return applyRetryOption(transport, options.retry);
}
