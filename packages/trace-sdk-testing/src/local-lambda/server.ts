/**
 * `startLocalLambda()`: the Lambda Invoke REST API on 127.0.0.1, so `@aws-sdk/client-lambda` with
 * an `endpoint` override calls a real handler (such as `createUploaderHandler`) in-process, with
 * Lambda's payload limits and error shapes.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Fault, FaultInjector } from '../local-s3/faults.js';

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

type MutableInvocation = { -readonly [K in keyof LocalLambdaInvocation]: LocalLambdaInvocation[K] };

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

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': bytes.byteLength,
    ...headers,
  });
  res.end(bytes);
}

/** An error of the Lambda API itself (not of the function), as AWS answers it. */
function apiError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
) {
  sendJson(
    res,
    status,
    { Type: status >= 500 ? 'Service' : 'User', message },
    { 'x-amzn-ErrorType': type, ...headers },
  );
}

async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  for await (const _ of req) {
    // discard
  }
}

/** Reads the payload, or returns `undefined` once it exceeds `limit` (the rest is drained). */
async function readPayload(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) {
      chunks.length = 0;
      continue; // keep reading so the client receives the 413 rather than a broken pipe
    }
    chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function describeError(error: unknown): { errorType: string; errorMessage: string; trace: string[] } {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

/**
 * Starts the Lambda Invoke REST API (`POST /2015-03-31/functions/{name}/invocations`) on
 * 127.0.0.1 around `handler`, for `@aws-sdk/client-lambda` with an `endpoint` override.
 *
 * Behaves like Lambda for what tests rely on: `RequestResponse` answers 200 with the handler's
 * JSON result; a thrown error answers 200 with `X-Amz-Function-Error: Unhandled` and an
 * `{errorType, errorMessage, trace}` body; a payload over `maxPayloadBytes` answers
 * `413 RequestEntityTooLargeException`; an unknown function `404 ResourceNotFoundException`;
 * a body that is not JSON `400 InvalidRequestContentException`. `Event` invocations answer 202
 * and run the handler in the background; `DryRun` answers 204.
 *
 * It does **not** verify SigV4 signatures (any credentials are accepted); use the local S3 for
 * signature behaviour.
 *
 * @example
 * const lambda = await startLocalLambda({ handler: createUploaderHandler({ bucket, s3, grantKeys }) });
 * const client = new LambdaClient({ endpoint: lambda.endpoint, region: lambda.region, credentials: lambda.credentials });
 */
export async function startLocalLambda(options: LocalLambdaOptions): Promise<LocalLambda> {
  if (typeof options?.handler !== 'function')
    throw new TypeError('startLocalLambda: handler must be a function');
  const functionName = options.functionName ?? 'trace-uploader';
  const region = options.region ?? 'us-east-1';
  const maxPayloadBytes = options.maxPayloadBytes ?? LAMBDA_MAX_PAYLOAD_BYTES;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const functionArn = `arn:aws:lambda:${region}:000000000000:function:${functionName}`;
  const faults = new FaultInjector();
  const invocations: MutableInvocation[] = [];
  const closing = new AbortController();
  let seq = 0;

  const namesThisFunction = (name: string): boolean => {
    // A name, a full or partial ARN, optionally with a `$LATEST` qualifier.
    const unqualified = name.replace(/:\$LATEST$/, '');
    return unqualified === functionName || unqualified.endsWith(`:function:${functionName}`);
  };

  async function invoke(
    event: unknown,
    record: MutableInvocation,
  ): Promise<{ result?: unknown; error?: ReturnType<typeof describeError> }> {
    const deadline = Date.now() + timeoutMs;
    const context: LocalLambdaContext = {
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: functionArn,
      memoryLimitInMB: '1024',
      awsRequestId: record.requestId,
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    const timeout = new AbortController();
    try {
      const result = await Promise.race([
        Promise.resolve().then(() => options.handler(event, context)),
        sleep(timeoutMs, undefined, { signal: AbortSignal.any([timeout.signal, closing.signal]) }).then(
          () => {
            throw Object.assign(new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`), {
              name: 'Sandbox.Timedout',
            });
          },
        ),
      ]);
      return { result };
    } catch (error) {
      return { error: describeError(error) };
    } finally {
      timeout.abort();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    const url = new URL(req.url ?? '/', 'http://local');
    const match = req.method === 'POST' ? INVOKE_PATH.exec(url.pathname) : null;
    const calledName = match ? decodeURIComponent(match[1]!) : '';
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const record: MutableInvocation = {
      seq: seq++,
      requestId,
      functionName: calledName,
      invocationType,
      payloadBytes: 0,
      status: undefined,
      functionError: undefined,
      errorType: undefined,
      fault: undefined,
    };
    invocations.push(record);
    req.on('data', (chunk: Buffer) => {
      record.payloadBytes += chunk.byteLength;
    });
    req.pause();
    res.on('finish', () => {
      record.status = res.statusCode;
      const type = res.getHeader('x-amzn-ErrorType');
      if (type !== undefined) record.errorType = String(type);
    });

    if (faults.latencyMs > 0) await sleep(faults.latencyMs, undefined, { signal: closing.signal });
    const fault = faults.take({ method: req.method ?? 'POST', bucket: calledName, key: undefined });
    if (fault !== undefined) {
      record.fault = fault.kind;
      switch (fault.kind) {
        case 'delay':
          await sleep(fault.ms, undefined, { signal: closing.signal });
          break;
        case 'fail':
          await drain(req);
          return apiError(
            res,
            fault.status,
            fault.code,
            fault.message,
            fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
          );
        case 'reset': {
          const reset = () => {
            if (!req.socket.destroyed) req.socket.resetAndDestroy();
          };
          if (fault.afterBodyBytes === 0) return reset();
          req.on('data', () => {
            if (record.payloadBytes >= fault.afterBodyBytes) reset();
          });
          await drain(req).catch(() => undefined);
          return reset();
        }
        case 'hang':
          await drain(req);
          await new Promise<void>((resolve) => closing.signal.addEventListener('abort', () => resolve()));
          return;
      }
    }

    if (match === null) {
      await drain(req);
      return apiError(
        res,
        404,
        'UnknownOperationException',
        `Unknown operation ${req.method} ${url.pathname}`,
      );
    }
    if (!namesThisFunction(calledName)) {
      await drain(req);
      return apiError(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: ${calledName.startsWith('arn:') ? calledName : functionArn.replace(functionName, calledName)}`,
      );
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    const payload = await readPayload(req, maxPayloadBytes);
    if (payload === undefined || declared > maxPayloadBytes) {
      return apiError(
        res,
        413,
        'RequestEntityTooLargeException',
        `Request must be smaller than ${maxPayloadBytes} bytes for the InvokeFunction operation`,
      );
    }
    let event: unknown = {};
    if (payload.byteLength > 0) {
      try {
        event = JSON.parse(payload.toString('utf8'));
      } catch (error) {
        return apiError(
          res,
          400,
          'InvalidRequestContentException',
          `Could not parse request body into json: ${(error as Error).message}`,
        );
      }
    }
    const headers = { 'X-Amz-Executed-Version': '$LATEST' };
    if (invocationType === 'DryRun') return sendJson(res, 204, undefined, headers);
    if (invocationType === 'Event') {
      void invoke(event, record).then(({ error }) => {
        if (error !== undefined) {
          record.functionError = 'Unhandled';
          record.errorType = error.errorType;
        }
      });
      return sendJson(res, 202, undefined, headers);
    }
    if (invocationType !== 'RequestResponse') {
      return apiError(
        res,
        400,
        'InvalidParameterValueException',
        `Unsupported invocation type ${invocationType}`,
      );
    }
    const { result, error } = await invoke(event, record);
    if (closing.signal.aborted) return;
    if (error !== undefined) {
      record.functionError = 'Unhandled';
      record.errorType = error.errorType;
      return sendJson(res, 200, error, { ...headers, 'X-Amz-Function-Error': 'Unhandled' });
    }
    const body = Buffer.from(result === undefined ? 'null' : JSON.stringify(result));
    if (body.byteLength > maxPayloadBytes) {
      record.functionError = 'Unhandled';
      record.errorType = 'Function.ResponseSizeTooLarge';
      return sendJson(
        res,
        200,
        {
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size exceeded maximum allowed payload size (${maxPayloadBytes} bytes).`,
        },
        { ...headers, 'X-Amz-Function-Error': 'Unhandled' },
      );
    }
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': body.byteLength });
    res.end(body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (closing.signal.aborted) return;
      if (!res.headersSent && !res.destroyed) {
        apiError(res, 500, 'ServiceException', `local Lambda failed: ${(error as Error)?.message ?? error}`);
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    functionName,
    functionArn,
    credentials: { accessKeyId: 'LOCALLAMBDAACCESSKEY', secretAccessKey: 'local-lambda-secret-not-checked' },
    faults,
    invocations,
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
