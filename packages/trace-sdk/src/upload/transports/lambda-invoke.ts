/**
 * Invoking the uploader Lambda: loads `@aws-sdk/client-lambda` on first use (an optional peer),
 * sends one request-response Invoke bounded by its own timeout, and reads the answer: a payload
 * too large for Lambda, a crashed function, or a parsed uploader response.
 *
 * @packageDocumentation
 */
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { UploaderRequest, UploaderResponse } from '../../protocol/lambda-messages.js';
import { safeCause, safeText } from '../../sanitize.js';
import { fromAwsSdkError } from '../classify.js';
import { untilAborted } from '../until-aborted.js';
import type { LambdaClientLike } from './aws-client-types.js';
import { fail, isResponse, LAMBDA_UPLOADER_TRANSPORT } from './lambda-answers.js';

/** The answer to one Invoke: the uploader's response, or Lambda refusing the payload as too large. */
export type InvokeResult = { readonly response: UploaderResponse } | { readonly tooLarge: true };

/** Sends one uploader request; see {@link lambdaInvoker}. */
export type LambdaInvoke = (
  request: UploaderRequest,
  signal: AbortSignal | undefined,
) => Promise<InvokeResult>;

/** Where to invoke: the function, and the client or how to build the default one. */
export interface LambdaInvokeTarget {
  readonly functionName: string;
  /** A configured client (typed structurally, so the root entry's types need no AWS SDK installed). */
  readonly client?: LambdaClientLike | undefined;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  /** Longest wait for one Invoke, in ms. */
  readonly invokeTimeoutMs: number;
}

/**
 * An invoker of the uploader Lambda. The SDK (and the default client) is loaded on the first call
 * and kept; a failed load is tried again on the next call.
 */
export function lambdaInvoker(options: LambdaInvokeTarget): LambdaInvoke {
  const { functionName, invokeTimeoutMs } = options;
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

  return async (request: UploaderRequest, signal: AbortSignal | undefined): Promise<InvokeResult> => {
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
}
