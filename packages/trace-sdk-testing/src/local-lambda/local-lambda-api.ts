/**
 * The local Lambda's public surface: Lambda's payload limit, the options of `startLocalLambda()`,
 * the handler and context it runs, the handle it returns and what it records per invocation.
 *
 * @packageDocumentation
 */
import type { Fault, FaultInjector } from '../local-s3/faults.js';

/** Lambda's synchronous invocation payload limit (request and response), in bytes. */
export const LAMBDA_MAX_PAYLOAD_BYTES = 6_291_456;

/** The `context` argument a handler receives (the commonly used subset of Lambda's). */
export interface LocalLambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly callbackWaitsForEmptyEventLoop: boolean;
  /** Milliseconds left before the invocation times out. */
  getRemainingTimeInMillis(): number;
}

/** A Lambda handler: the parsed JSON event in, a JSON-serializable result (or a promise of one) out. */
export type LocalLambdaHandler = (event: unknown, context: LocalLambdaContext) => unknown;

/** Options of {@link startLocalLambda}. */
export interface LocalLambdaOptions {
  /** The function's handler. A thrown error becomes an `Unhandled` function error, as on Lambda. */
  readonly handler: LocalLambdaHandler;
  /** Name invocations must use (or an ARN ending in it). Default `trace-uploader`. */
  readonly functionName?: string | undefined;
  /** Request (and response) payload limit in bytes. Default 6291456, Lambda's synchronous limit. */
  readonly maxPayloadBytes?: number | undefined;
  /** Invocation timeout in ms (answered as `Sandbox.Timedout`). Default 60000. */
  readonly timeoutMs?: number | undefined;
  /** Region in the function ARN. Default `us-east-1`. */
  readonly region?: string | undefined;
  /** TCP port on 127.0.0.1 (default 0: ephemeral). */
  readonly port?: number | undefined;
}

/** One invocation as the server saw it. */
export interface LocalLambdaInvocation {
  readonly seq: number;
  readonly requestId: string;
  /** The function name as the caller sent it (name, ARN or partial ARN). */
  readonly functionName: string;
  readonly invocationType: string;
  /** Request payload size in bytes. */
  readonly payloadBytes: number;
  /** HTTP status answered; `undefined` while running, or for reset or hung requests. */
  readonly status: number | undefined;
  /** `Unhandled` when the handler threw (or timed out, or answered too much). */
  readonly functionError: string | undefined;
  /** The `x-amzn-ErrorType` of an API error (e.g. `RequestEntityTooLargeException`), or the `errorType` of a function error. */
  readonly errorType: string | undefined;
  /** The injected fault this invocation took, if any. */
  readonly fault: Fault['kind'] | undefined;
}

export type MutableInvocation = { -readonly [K in keyof LocalLambdaInvocation]: LocalLambdaInvocation[K] };

/** A running local Lambda (see {@link startLocalLambda}). */
export interface LocalLambda {
  /** `http://127.0.0.1:<port>`: pass as the LambdaClient's `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** Any credentials work (signatures are not verified); these are handy for a client. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * Faults for the next invocations, answered as Lambda API errors: `failNext(1, { status: 429,
   * code: 'TooManyRequestsException' })`, `resetNext`, `delayNext`, `hangNext`, `latency`.
   * A matcher's `bucket` matches the function name as sent; `keyPrefix` never matches.
   */
  readonly faults: FaultInjector;
  /** Every invocation so far, in arrival order (a live array). */
  readonly invocations: readonly LocalLambdaInvocation[];
  /** Stops the server, destroying open connections. Idempotent. */
  close(): Promise<void>;
}
