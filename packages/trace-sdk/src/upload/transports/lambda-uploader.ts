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
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { ConfigError, GrantError, UploadError } from '../../errors.js';
import { traceKey } from '../../key.js';
import { numberOption } from '../../option-checks.js';
import { readUploadGrantClaims } from '../../protocol/grant.js';
import {
  inlineRequestBytes,
  LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES,
  type UploaderPresignResponse,
  type UploaderRequest,
  type UploaderResponse,
} from '../../protocol/lambda-messages.js';
import { uploadUrlProblem } from '../../protocol/presigned-url.js';
import { safeCause, safeText } from '../../sanitize.js';
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
import { callProvider, DEFAULT_PROVIDER_TIMEOUT_MS } from './provider-call.js';
import { fromAwsSdkError } from './s3-error.js';

/** Default bound on one Invoke, in ms. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 30_000;

/** What a grant provider is told: the trace the grant must be minted for. */
export interface UploadGrantRequest {
  /** The object key the grant must cover. */
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  /** Fires when the upload is aborted, its deadline passes or `providerTimeoutMs` runs out. */
  readonly signal: AbortSignal;
}

/** Name of the uploader-Lambda transport in receipts, errors and metrics. */
export const LAMBDA_UPLOADER_TRANSPORT = 'lambda';

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

type InvokeResult = { readonly response: UploaderResponse } | { readonly tooLarge: true };

function fail(
  code: UploadError['code'],
  message: string,
  extra: { status?: number; s3Code?: string; retryable?: boolean; cause?: unknown } = {},
) {
  return new UploadError(code, `${LAMBDA_UPLOADER_TRANSPORT}: ${message}`, {
    transport: LAMBDA_UPLOADER_TRANSPORT,
    retryable: false,
    ...extra,
  });
}

/** Maps a handler refusal onto the transport's typed errors. */
function fromHandlerError(response: Extract<UploaderResponse, { ok: false }>): UploadError {
  const message = `the uploader refused: ${response.code}: ${safeText(String(response.message ?? ''))}`;
  switch (response.code) {
    case 'ERR_UPLOAD_TOO_LARGE':
      return fail('ERR_UPLOAD_TOO_LARGE', message, { s3Code: response.code });
    case 'ERR_UPLOAD_CHECKSUM':
      return fail('ERR_UPLOAD_CHECKSUM', message, { s3Code: response.code });
    case 'ERR_UPLOAD_NETWORK':
      return fail('ERR_UPLOAD_NETWORK', message, { retryable: true });
    case 'ERR_UPLOAD_HTTP':
      return fail('ERR_UPLOAD_HTTP', message, {
        ...(typeof response.status === 'number' ? { status: response.status } : {}),
        ...(typeof response.s3Code === 'string' ? { s3Code: response.s3Code } : {}),
        retryable: response.retryable === true,
      });
    default:
      // Grant refusals and malformed requests: retrying the same request cannot help.
      return fail('ERR_UPLOAD_REJECTED', message, { s3Code: response.code });
  }
}

function isResponse(value: unknown): value is UploaderResponse {
  return value !== null && typeof value === 'object' && typeof (value as { ok?: unknown }).ok === 'boolean';
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

  let clientPromise:
    | Promise<{ client: LambdaClient; InvokeCommand: typeof import('@aws-sdk/client-lambda').InvokeCommand }>
    | undefined;
  const lambda = () => {
    clientPromise ??= (async () => {
      let sdk: typeof import('@aws-sdk/client-lambda');
      try {
        sdk = await import('@aws-sdk/client-lambda');
      } catch (err) {
        throw fail('ERR_UPLOAD_REJECTED', 'the lambda transport needs @aws-sdk/client-lambda installed', {
          cause: safeCause(err),
        });
      }
      const client =
        (options.client as LambdaClient | undefined) ??
        new sdk.LambdaClient({
          ...(options.region !== undefined ? { region: options.region } : {}),
          ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
          // Retries live in the one shared policy, not in the SDK as well.
          maxAttempts: 1,
        });
      return { client, InvokeCommand: sdk.InvokeCommand };
    })();
    clientPromise.catch(() => {
      clientPromise = undefined;
    });
    return clientPromise;
  };

  const grants = new WeakMap<TraceArtifact, string>();
  const obtainGrant = async (
    artifact: TraceArtifact,
    fresh: boolean,
    signal: AbortSignal | undefined,
  ): Promise<string> => {
    if (typeof grant === 'string') return grant;
    const cached = fresh ? undefined : grants.get(artifact);
    if (cached !== undefined) return cached;
    const token: unknown = await callProvider(
      (providerSignal) =>
        grant({
          key: artifact.key,
          userId: artifact.userId,
          taskId: artifact.taskId,
          signal: providerSignal,
        }),
      { transport: LAMBDA_UPLOADER_TRANSPORT, what: 'grant', signal, timeoutMs: providerTimeoutMs },
    );
    if (typeof token !== 'string') throw fail('ERR_UPLOAD_REJECTED', 'the grant provider returned no grant');
    grants.set(artifact, token);
    return token;
  };

  const checkGrantScope = (token: string, artifact: TraceArtifact) => {
    let claims: ReturnType<typeof readUploadGrantClaims>;
    try {
      claims = readUploadGrantClaims(token);
    } catch (err) {
      throw fail('ERR_UPLOAD_REJECTED', 'the grant is malformed', {
        s3Code: err instanceof GrantError ? err.code : undefined,
      });
    }
    // The handler writes traceKey(grant), so that, not the artifact's separate ids, must be the key.
    if (traceKey({ userId: claims.userId, taskId: claims.taskId }) !== artifact.key) {
      throw fail('ERR_UPLOAD_REJECTED', `the grant is for another user or task than ${artifact.key}`, {
        s3Code: 'ERR_GRANT_SCOPE',
      });
    }
  };

  const invoke = async (request: UploaderRequest, signal: AbortSignal | undefined): Promise<InvokeResult> => {
    const { client, InvokeCommand } = await lambda();
    let out: InvokeCommandOutput;
    // The per-attempt bound: its own controller, so a timeout is told apart from the caller's abort.
    const attempt = new AbortController();
    const timer = setTimeout(() => attempt.abort(), invokeTimeoutMs);
    const attemptSignal = signal === undefined ? attempt.signal : AbortSignal.any([signal, attempt.signal]);
    try {
      out = await untilAborted(
        client.send(
          new InvokeCommand({
            FunctionName: functionName,
            InvocationType: 'RequestResponse',
            Payload: Buffer.from(JSON.stringify(request), 'utf8'),
          }),
          { abortSignal: attemptSignal },
        ),
        attemptSignal,
      );
    } catch (err) {
      if (attempt.signal.aborted && signal?.aborted !== true) {
        throw fail('ERR_UPLOAD_NETWORK', `the Invoke did not answer within ${invokeTimeoutMs} ms`, {
          retryable: true,
        });
      }
      const mapped = fromAwsSdkError(err, LAMBDA_UPLOADER_TRANSPORT, signal);
      if (
        mapped.status === 413 ||
        mapped.s3Code === 'RequestTooLargeException' ||
        mapped.s3Code === 'RequestEntityTooLargeException'
      ) {
        return { tooLarge: true };
      }
      throw mapped;
    } finally {
      clearTimeout(timer);
    }
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    if (out.FunctionError) {
      // An unhandled crash or timeout inside the function: like a 5xx, worth another attempt.
      let errorType = out.FunctionError;
      try {
        const parsed = JSON.parse(text) as { errorType?: unknown };
        if (typeof parsed.errorType === 'string') errorType = parsed.errorType;
      } catch {
        // Keep the FunctionError header's value.
      }
      throw fail('ERR_UPLOAD_HTTP', `the uploader function failed (${safeText(errorType)})`, {
        s3Code: `FunctionError:${safeText(errorType).slice(0, 64)}`,
        retryable: true,
      });
    }
    let response: unknown;
    try {
      response = JSON.parse(text);
    } catch {
      throw fail('ERR_UPLOAD_HTTP', 'the uploader returned a response that is not JSON', { retryable: true });
    }
    if (!isResponse(response))
      throw fail('ERR_UPLOAD_HTTP', 'the uploader returned an unexpected response', { retryable: true });
    return { response };
  };

  /** One request with the grant; refreshes the grant once through the provider if it has expired. */
  const call = async (
    artifact: TraceArtifact,
    build: (token: string) => UploaderRequest,
    signal: AbortSignal | undefined,
  ): Promise<InvokeResult> => {
    let token = await obtainGrant(artifact, false, signal);
    checkGrantScope(token, artifact);
    let result = await invoke(build(token), signal);
    if (
      'response' in result &&
      !result.response.ok &&
      result.response.code === 'ERR_GRANT_EXPIRED' &&
      typeof grant === 'function'
    ) {
      token = await obtainGrant(artifact, true, signal);
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
      const token = await obtainGrant(artifact, false, signal);
      checkGrantScope(token, artifact);
      if (inlineRequestBytes(token, artifact.sha256, artifact.byteLength) > limit) {
        const receipt = await viaPresign(artifact, signal);
        grants.delete(artifact);
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
      grants.delete(artifact);
      return {
        key: artifact.key,
        ...(typeof response.uri === 'string' ? { uri: response.uri } : {}),
        ...(typeof response.etag === 'string' ? { etag: response.etag } : {}),
      };
    },
  };
  return applyRetryOption(transport, options.retry);
}

/** Settles with `p`, or rejects with the signal's reason as soon as it fires (an SDK that ignores it). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
