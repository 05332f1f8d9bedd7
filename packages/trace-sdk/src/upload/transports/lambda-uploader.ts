/**
 * The uploader-Lambda transport: the runtime has no S3 permission at all. It invokes the
 * uploader Lambda with an upload grant the orchestrator minted; bodies that fit Lambda's 6 MiB
 * synchronous payload go inline (base64), larger ones get a presigned PUT from the Lambda and
 * are streamed to S3 with the same PUT code as the presigned-PUT transport.
 *
 * `@aws-sdk/client-lambda` is an optional peer dependency, imported on first use.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../../errors.js';
import { numberOption } from '../../option-checks.js';
import { readUploadGrantClaims } from '../../protocol/grant.js';
import {
  inlineRequestBytes,
  LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES,
  type UploaderPresignResponse,
  type UploaderRequest,
} from '../../protocol/lambda-messages.js';
import { uploadUrlProblem } from '../../protocol/presigned-url.js';
import { abortedError } from '../classify.js';
import { applyRetryOption, type RetryPolicy } from '../retry.js';
import type { TraceArtifact, TraceTransport, UploadReceipt } from '../types.js';
import type { LambdaClientLike } from './aws-client-types.js';
import {
  type HttpPutOptions,
  httpPutOptions,
  type PresignedTarget,
  uploadToPresignedTarget,
} from './http-put.js';
import { fail, fromHandlerError, LAMBDA_UPLOADER_TRANSPORT } from './lambda-answers.js';
import { checkGrantScope, grantSource, type UploadGrantRequest } from './lambda-grant.js';
import { type InvokeResult, lambdaInvoker } from './lambda-invoke.js';
import { DEFAULT_PROVIDER_TIMEOUT_MS } from './provider-call.js';

export { LAMBDA_UPLOADER_TRANSPORT } from './lambda-answers.js';
export type { UploadGrantRequest } from './lambda-grant.js';

/** Default bound on one Invoke, in ms. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;

/** Options of {@link lambdaUploaderTransport}. */
export interface LambdaUploaderOptions extends HttpPutOptions {
  /** Name or ARN of the uploader Lambda. */
  readonly functionName: string;
  /** A configured LambdaClient. Default: one built from `region`/`endpoint` and the environment, with `maxAttempts: 1`. */
  readonly client?: LambdaClientLike | undefined;
  /**
   * The upload grant, or a function returning one. A function is asked once more when the
   * Lambda reports the grant expired.
   */
  readonly grant: string | ((request: UploadGrantRequest) => Promise<string>);
  /** Region for the default client. */
  readonly region?: string | undefined;
  /** Endpoint override for the default client (e.g. a local Lambda). */
  readonly endpoint?: string | undefined;
  /** Invocation payload limit, in bytes. Default 6 MiB, Lambda's synchronous limit. */
  readonly payloadLimitBytes?: number | undefined;
  /** Retry policy, or `false` for a single attempt. */
  readonly retry?: RetryPolicy | false | undefined;
  /**
   * Longest wait for one Invoke, in ms (default 30 000): past it the attempt is aborted and fails
   * with a retryable `ERR_UPLOAD_NETWORK`, so one hung Invoke does not spend the whole retry budget.
   */
  readonly invokeTimeoutMs?: number | undefined;
  /** Longest wait for the grant provider, in ms (default 30 000); past it the attempt fails, retryable. */
  readonly providerTimeoutMs?: number | undefined;
}

/**
 * Uploads through the uploader Lambda (`createUploaderHandler` from `./lambda`). Before anything
 * is sent, the grant's (unverified) claims must name the artifact's user and task, so a mixed-up
 * grant fails locally with `ERR_UPLOAD_REJECTED`.
 *
 * Errors: a refused or expired grant → `ERR_UPLOAD_REJECTED`; oversize → `ERR_UPLOAD_TOO_LARGE`;
 * a sha256 mismatch → `ERR_UPLOAD_CHECKSUM`; throttling (429) and 5xx → retryable
 * `ERR_UPLOAD_HTTP`; a crashed function (FunctionError) → retryable `ERR_UPLOAD_HTTP`.
 *
 * Returned already wrapped in the shared retry policy (`retry: false` to opt out).
 *
 * @throws {@link ConfigError} for a missing function name or grant, or any bad option (`variable`
 *   names it).
 */
export function lambdaUploaderTransport(options: LambdaUploaderOptions): TraceTransport {
  const { functionName, grant } = options ?? ({} as LambdaUploaderOptions);
  if (typeof functionName !== 'string' || functionName.length === 0) {
    throw new ConfigError('lambdaUploaderTransport: functionName is required', 'functionName');
  }
  if (typeof grant === 'string') {
    try {
      readUploadGrantClaims(grant);
    } catch {
      throw new ConfigError('lambdaUploaderTransport: grant is not a well-formed upload grant', 'grant');
    }
  } else if (typeof grant !== 'function') {
    throw new ConfigError(
      'lambdaUploaderTransport: grant must be a string or a function returning one',
      'grant',
    );
  }
  if (options.endpoint !== undefined) {
    const problem = uploadUrlProblem(options.endpoint);
    if (problem !== undefined)
      throw new ConfigError(`lambdaUploaderTransport: endpoint ${problem}`, 'endpoint');
  }
  const limit = numberOption(
    'lambdaUploaderTransport',
    'payloadLimitBytes',
    options.payloadLimitBytes,
    LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES,
    { min: 1024, integer: true },
  );
  const http = httpPutOptions('lambdaUploaderTransport', options);
  const timeout = (name: 'invokeTimeoutMs' | 'providerTimeoutMs', fallback: number) =>
    numberOption('lambdaUploaderTransport', name, options[name], fallback, {
      min: 1,
      max: 2 ** 31 - 1,
      integer: true,
    });
  const invokeTimeoutMs = timeout('invokeTimeoutMs', DEFAULT_INVOKE_TIMEOUT_MS);
  const providerTimeoutMs = timeout('providerTimeoutMs', DEFAULT_PROVIDER_TIMEOUT_MS);

  const invoke = lambdaInvoker({
    functionName,
    client: options.client,
    region: options.region,
    endpoint: options.endpoint,
    invokeTimeoutMs,
  });
  const grants = grantSource(grant, providerTimeoutMs);

  /** One request with the grant; refreshes the grant once through the provider if it has expired. */
  const call = async (
    artifact: TraceArtifact,
    build: (token: string) => UploaderRequest,
    signal: AbortSignal | undefined,
  ): Promise<InvokeResult> => {
    let token = await grants.obtain(artifact, false, signal);
    checkGrantScope(token, artifact);
    let result = await invoke(build(token), signal);
    if (
      'response' in result &&
      !result.response.ok &&
      result.response.code === 'ERR_GRANT_EXPIRED' &&
      typeof grant === 'function'
    ) {
      token = await grants.obtain(artifact, true, signal);
      checkGrantScope(token, artifact);
      result = await invoke(build(token), signal);
    }
    return result;
  };

  const expectKey = (key: unknown, artifact: TraceArtifact) => {
    if (key !== artifact.key) {
      throw fail('ERR_UPLOAD_REJECTED', `the uploader answered for another key than ${artifact.key}`);
    }
  };

  const readBody = async (artifact: TraceArtifact, signal: AbortSignal | undefined): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    let size = 0;
    if (signal?.aborted) throw abortedError(LAMBDA_UPLOADER_TRANSPORT, signal.reason);
    const stream = artifact.open();
    // Ends a wait for the next chunk at once (a stalled source), not only between chunks.
    const onAbort = () => stream.destroy(abortedError(LAMBDA_UPLOADER_TRANSPORT, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of stream) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        size += buf.byteLength;
        if (size > artifact.byteLength) break;
        chunks.push(buf);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
    }
    if (signal?.aborted) throw abortedError(LAMBDA_UPLOADER_TRANSPORT, signal.reason);
    if (size !== artifact.byteLength) {
      throw fail('ERR_UPLOAD_CHECKSUM', `the artifact body is not ${artifact.byteLength} bytes long`);
    }
    return Buffer.concat(chunks, size);
  };

  const viaPresign = async (
    artifact: TraceArtifact,
    signal: AbortSignal | undefined,
  ): Promise<UploadReceipt> => {
    const presign = async (): Promise<PresignedTarget> => {
      const result = await call(
        artifact,
        (token) => ({
          action: 'presign',
          grant: token,
          sha256: artifact.sha256,
          byteLength: artifact.byteLength,
        }),
        signal,
      );
      if (!('response' in result))
        throw fail('ERR_UPLOAD_HTTP', 'the presign request was too large for Lambda');
      const response = result.response;
      if (!response.ok) throw fromHandlerError(response);
      if (response.action !== 'presign' || typeof (response as UploaderPresignResponse).url !== 'string') {
        throw fail('ERR_UPLOAD_HTTP', 'the uploader returned an unexpected response', { retryable: true });
      }
      expectKey(response.key, artifact);
      return { url: response.url, headers: response.headers };
    };
    const target = await presign();
    return uploadToPresignedTarget({
      artifact,
      transport: LAMBDA_UPLOADER_TRANSPORT,
      signal,
      http,
      target,
      refresh: presign,
    });
  };

  const transport: TraceTransport = {
    name: LAMBDA_UPLOADER_TRANSPORT,
    async upload(artifact, opts) {
      const signal = opts?.signal;
      const token = await grants.obtain(artifact, false, signal);
      checkGrantScope(token, artifact);
      if (inlineRequestBytes(token, artifact.sha256, artifact.byteLength) > limit) {
        const receipt = await viaPresign(artifact, signal);
        grants.forget(artifact);
        return receipt;
      }
      const body = (await readBody(artifact, signal)).toString('base64');
      const result = await call(
        artifact,
        (t) => ({ action: 'put', grant: t, sha256: artifact.sha256, byteLength: artifact.byteLength, body }),
        signal,
      );
      // Lambda's limit turned out smaller than computed (e.g. a proxy in front): go the presign way.
      if (!('response' in result)) return viaPresign(artifact, signal);
      const response = result.response;
      if (!response.ok) throw fromHandlerError(response);
      if (response.action !== 'put')
        throw fail('ERR_UPLOAD_HTTP', 'the uploader returned an unexpected response', { retryable: true });
      expectKey(response.key, artifact);
      grants.forget(artifact);
      return {
        key: artifact.key,
        ...(typeof response.uri === 'string' ? { uri: response.uri } : {}),
        ...(typeof response.etag === 'string' ? { etag: response.etag } : {}),
      };
    },
  };
  return applyRetryOption(transport, options.retry);
}
