/**
 * `startLocalLambda()`: the Lambda Invoke REST API on 127.0.0.1, so `@aws-sdk/client-lambda` with
 * an `endpoint` override calls a real handler (such as `createUploaderHandler`) in-process, with
 * Lambda's payload limits and error shapes. The public types are ./local-lambda-api.ts; reading
 * requests and writing answers is ./invoke-io.ts.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultInjector } from '../local-s3/faults.js';
import { apiError, describeError, drain, readPayload, sendJson } from './invoke-io.js';
import {
  LAMBDA_MAX_PAYLOAD_BYTES,
  type LocalLambda,
  type LocalLambdaContext,
  type LocalLambdaOptions,
  type MutableInvocation,
} from './local-lambda-api.js';

export {
  LAMBDA_MAX_PAYLOAD_BYTES,
  type LocalLambda,
  type LocalLambdaContext,
  type LocalLambdaHandler,
  type LocalLambdaInvocation,
  type LocalLambdaOptions,
} from './local-lambda-api.js';

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

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
