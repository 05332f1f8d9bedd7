/**
 * The recommended transport: an HTTP PUT to a presigned S3 URL the orchestrator minted for
 * exactly this trace's key. The runtime holds no AWS credentials at all.
 *
 * @packageDocumentation
 */
import { ConfigError, UploadError } from '../../errors.js';
import { numberOption } from '../../option-checks.js';
import { uploadUrlProblem } from '../../protocol/presigned-url.js';
import { applyRetryOption, type RetryPolicy } from '../retry.js';
import type { TraceArtifact, TraceTransport } from '../types.js';
import {
  type HttpPutOptions,
  httpPutOptions,
  type PresignedTarget,
  uploadToPresignedTarget,
} from './http-put.js';
import { callProvider, DEFAULT_PROVIDER_TIMEOUT_MS } from './provider-call.js';

/** Name of the presigned-PUT transport in receipts, errors and metrics. */
export const PRESIGNED_PUT_TRANSPORT = 'presigned-put';

/**
 * What a URL provider is told: the trace the URL must be minted for. Untrusted when the artifact
 * comes from a spool directory (`uploadSpooled`): mint only after checking, in the orchestrator's
 * own records, that the task belongs to the user this runtime serves.
 */
export interface UploadUrlRequest {
  /** The object key the URL must name exactly. */
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  /** The sealed body's exact size: sign it (`createTraceUploadUrl({ contentLength })`) so S3 enforces it. */
  readonly byteLength: number;
  /** Lowercase hex SHA-256 of the sealed body: sign it so S3 stores only these bytes. */
  readonly sha256: string;
  /**
   * Fires when the upload is aborted, its deadline passes or `providerTimeoutMs` runs out: pass it
   * on to the request that mints the URL. The SDK stops waiting then, whatever the provider does.
   */
  readonly signal: AbortSignal;
}

/**
 * What a URL provider returns: the URL alone, or the URL with the headers its signature requires
 * (`createTraceUploadUrl` returns both: the signed checksum and `x-amz-meta-*` attribution).
 */
export type UploadUrlResult =
  | string
  | { readonly url: string; readonly headers?: Readonly<Record<string, string>> | undefined };

/** Options of {@link presignedPutTransport}. */
export interface PresignedPutOptions extends HttpPutOptions {
  /**
   * The presigned PUT URL, or a function that mints one. Prefer the function for long tasks:
   * URLs signed with temporary credentials die with them, and the transport asks the function
   * once more when a URL has expired. A fixed string cannot be refreshed. The function is told
   * which trace the URL is for, so one transport can serve several traces (e.g. `uploadSpooled`),
   * including the sealed size and SHA-256 to sign. It may return `{ url, headers }`: the headers
   * are sent with the PUT (e.g. signed `x-amz-meta-*` attribution, which S3 then requires).
   */
  readonly url: string | ((request: UploadUrlRequest) => Promise<UploadUrlResult>);
  /** Retry policy, or `false` for a single attempt. Default: {@link DEFAULT_RETRY_POLICY}. */
  readonly retry?: RetryPolicy | false | undefined;
  /**
   * Longest wait for the URL provider, in ms (default 30 000). Past it the attempt fails with a
   * retryable `ERR_UPLOAD_NETWORK` and the provider's signal fires.
   */
  readonly providerTimeoutMs?: number | undefined;
}

/** The target a provider's answer names, or `undefined` when it is neither a string nor `{ url, headers? }`. */
function providedTarget(minted: unknown): PresignedTarget | undefined {
  if (typeof minted === 'string') return { url: minted };
  if (minted === null || typeof minted !== 'object') return undefined;
  const { url, headers } = minted as { url?: unknown; headers?: unknown };
  if (typeof url !== 'string') return undefined;
  if (headers === undefined) return { url };
  if (headers === null || typeof headers !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') return undefined;
    out[name] = value;
  }
  return { url, headers: out };
}

/**
 * PUTs each artifact to a presigned S3 URL with undici: the body streamed with a known
 * Content-Length, `Content-Type: application/gzip`, no Content-Encoding. Before sending, the
 * URL must be https (http only on loopback) and name exactly the artifact's key; a URL S3 reports
 * expired is refreshed once through the provider (the local clock never refuses one). The write
 * is confirmed by the response's ETag (see `verifyEtag`). URLs never appear in errors.
 *
 * Returned already wrapped in the shared retry policy (`retry: false` to opt out).
 *
 * @throws {@link ConfigError} (`variable: 'url'`) for a fixed URL that is not usable.
 * @example
 * const transport = presignedPutTransport({
 *   // The orchestrator signs the sealed size and hash and returns { url, headers }.
 *   url: ({ taskId, byteLength, sha256 }) => orchestrator.mintUploadUrl({ taskId, byteLength, sha256 }),
 * });
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
  const providerTimeoutMs = numberOption(
    'presignedPutTransport',
    'providerTimeoutMs',
    options.providerTimeoutMs,
    DEFAULT_PROVIDER_TIMEOUT_MS,
    { min: 1, max: 2 ** 31 - 1, integer: true },
  );

  // The last URL obtained for each artifact, so a retry after a 5xx reuses it instead of
  // minting another; keyed weakly so finished artifacts are forgotten.
  const current = new WeakMap<TraceArtifact, PresignedTarget>();
  const mint = async (artifact: TraceArtifact, signal: AbortSignal | undefined): Promise<PresignedTarget> => {
    const minted: unknown = await callProvider(
      (providerSignal) =>
        (url as (request: UploadUrlRequest) => Promise<UploadUrlResult>)({
          key: artifact.key,
          userId: artifact.userId,
          taskId: artifact.taskId,
          byteLength: artifact.byteLength,
          sha256: artifact.sha256,
          signal: providerSignal,
        }),
      { transport: PRESIGNED_PUT_TRANSPORT, what: 'URL', signal, timeoutMs: providerTimeoutMs },
    );
    const target = providedTarget(minted);
    if (target === undefined) {
      throw new UploadError(
        'ERR_UPLOAD_REJECTED',
        `${PRESIGNED_PUT_TRANSPORT}: the URL provider returned no URL`,
        {
          transport: PRESIGNED_PUT_TRANSPORT,
        },
      );
    }
    current.set(artifact, target);
    return target;
  };

  const transport: TraceTransport = {
    name: PRESIGNED_PUT_TRANSPORT,
    async upload(artifact, opts) {
      const signal = opts?.signal;
      const target =
        typeof url === 'string' ? { url } : (current.get(artifact) ?? (await mint(artifact, signal)));
      const receipt = await uploadToPresignedTarget({
        artifact,
        transport: PRESIGNED_PUT_TRANSPORT,
        signal,
        http,
        target,
        refresh: typeof url === 'string' ? undefined : () => mint(artifact, signal),
      });
      current.delete(artifact);
      return receipt;
    },
  };
  return applyRetryOption(transport, options.retry);
}
