import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LAMBDA_MAX_PAYLOAD_BYTES,
  type LocalLambda,
  type LocalLambdaHandler,
  startLocalLambda,
} from '../src/index.js';

let lambda: LocalLambda | undefined;
afterEach(async () => {
  await lambda?.close();
  lambda = undefined;
});

async function start(handler: LocalLambdaHandler, extra: { maxPayloadBytes?: number } = {}) {
  lambda = await startLocalLambda({ handler, functionName: 'uploader', ...extra });
  const client = new LambdaClient({
    endpoint: lambda.endpoint,
    region: lambda.region,
    credentials: { accessKeyId: 'AKIDFIXEDFORTESTS000', secretAccessKey: 'fixed-secret' },
    maxAttempts: 1,
  });
  return { lambda, client };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const parse = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes));

describe('startLocalLambda', () => {
  it('passes the JSON payload to the handler and answers its JSON result', async () => {
    const { client } = await start(async (event, context) => ({
      echo: event,
      name: context.functionName,
      hasTime: context.getRemainingTimeInMillis() > 0,
    }));
    const out = await client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: json({ a: 1 }) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(parse(out.Payload)).toEqual({ echo: { a: 1 }, name: 'uploader', hasTime: true });
    expect(lambda!.invocations).toMatchObject([{ functionName: 'uploader', status: 200, payloadBytes: 7 }]);
  });

  it('accepts the function ARN', async () => {
    const { client, lambda: l } = await start(() => 'ok');
    const out = await client.send(new InvokeCommand({ FunctionName: l.functionArn, Payload: json({}) }));
    expect(parse(out.Payload)).toBe('ok');
  });

  it('reports a thrown error as an Unhandled function error with errorType and errorMessage', async () => {
    const { client } = await start(() => {
      throw new RangeError('grant expired');
    });
    const out = await client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: json({}) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(parse(out.Payload)).toMatchObject({ errorType: 'RangeError', errorMessage: 'grant expired' });
    expect(lambda!.invocations[0]).toMatchObject({ functionError: 'Unhandled', errorType: 'RangeError' });
  });

  it('refuses a payload over 6 MB with 413 RequestEntityTooLargeException, without calling the handler', async () => {
    let called = false;
    const { client } = await start(() => {
      called = true;
    });
    const payload = json({ body: 'x'.repeat(LAMBDA_MAX_PAYLOAD_BYTES) });
    await expect(
      client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: payload })),
    ).rejects.toMatchObject({
      name: 'RequestEntityTooLargeException',
      $metadata: { httpStatusCode: 413 },
    });
    expect(called).toBe(false);
  });

  it('accepts a payload of exactly the limit', async () => {
    const { client } = await start((event) => (event as string).length, { maxPayloadBytes: 1000 });
    const payload = json('y'.repeat(998)); // 998 + 2 quotes
    const out = await client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: payload }));
    expect(parse(out.Payload)).toBe(998);
  });

  it('answers 404 ResourceNotFoundException for an unknown function', async () => {
    const { client } = await start(() => null);
    await expect(
      client.send(new InvokeCommand({ FunctionName: 'other', Payload: json({}) })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('answers 400 InvalidRequestContentException for a payload that is not JSON', async () => {
    const { client } = await start(() => null);
    await expect(
      client.send(
        new InvokeCommand({ FunctionName: 'uploader', Payload: new TextEncoder().encode('{nope') }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRequestContentException', $metadata: { httpStatusCode: 400 } });
  });

  it('reports a result over the payload limit as Function.ResponseSizeTooLarge', async () => {
    const { client } = await start(() => 'z'.repeat(2000), { maxPayloadBytes: 1000 });
    const out = await client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: json({}) }));
    expect(out.FunctionError).toBe('Unhandled');
    expect(parse(out.Payload)).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
  });

  it('answers Event invocations with 202 and DryRun with 204', async () => {
    const seen: unknown[] = [];
    const { client } = await start((event) => {
      seen.push(event);
    });
    const event = await client.send(
      new InvokeCommand({ FunctionName: 'uploader', InvocationType: 'Event', Payload: json({ n: 1 }) }),
    );
    expect(event.StatusCode).toBe(202);
    const dry = await client.send(new InvokeCommand({ FunctionName: 'uploader', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
    await expect.poll(() => seen).toEqual([{ n: 1 }]);
  });

  it('injects API faults: throttling with Retry-After, then a normal answer', async () => {
    const { client, lambda: l } = await start(() => 'done');
    l.faults.failNext(1, { status: 429, code: 'TooManyRequestsException', retryAfterSeconds: 1 });
    await expect(
      client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: json({}) })),
    ).rejects.toMatchObject({
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
    });
    const out = await client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: json({}) }));
    expect(parse(out.Payload)).toBe('done');
    expect(l.invocations.map((i) => [i.status, i.fault])).toEqual([
      [429, 'fail'],
      [200, undefined],
    ]);
  });

  it('injects connection resets', async () => {
    const { client, lambda: l } = await start(() => 'done');
    l.faults.resetNext(1);
    await expect(
      client.send(new InvokeCommand({ FunctionName: 'uploader', Payload: json({}) })),
    ).rejects.toThrow();
    expect(l.invocations[0]).toMatchObject({ fault: 'reset', status: undefined });
  });
});
