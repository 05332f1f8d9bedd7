/** The uploader-Lambda wiring shared by the two Lambda contract runs. */
import { randomBytes } from 'node:crypto';
import { lambdaUploaderTransport } from '@agent-trace/trace-sdk';
import { createUploaderHandler } from '@agent-trace/trace-sdk/lambda';
import { createTraceS3Client, createUploadGrant } from '@agent-trace/trace-sdk/orchestrator';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { ContractContext } from '../src/contract/index.js';
import { startLocalLambda } from '../src/index.js';

/** The real uploader handler behind a local Lambda, and a transport holding only a grant. */
export async function uploaderLambda(ctx: ContractContext, payloadLimitBytes?: number) {
  const grantKey = { id: 'contract-k1', secret: randomBytes(32).toString('hex') };
  const handlerS3 = await createTraceS3Client({
    endpoint: ctx.s3.endpoint,
    region: ctx.s3.region,
    credentials: ctx.s3.credentials,
    forcePathStyle: true,
  });
  const lambda = await startLocalLambda({
    functionName: 'trace-uploader',
    handler: createUploaderHandler({
      bucket: ctx.bucket,
      s3: handlerS3,
      grantKeys: { [grantKey.id]: grantKey.secret },
      log: false,
      // The contract uploads a 200 MB body; the default bound is 64 MiB.
      maxObjectBytes: 1024 ** 3,
    }),
  });
  const client = new LambdaClient({
    endpoint: lambda.endpoint,
    region: lambda.region,
    credentials: lambda.credentials,
    maxAttempts: 1,
  });
  const transport = lambdaUploaderTransport({
    functionName: lambda.functionName,
    client,
    grant: async () =>
      createUploadGrant({
        userId: ctx.userId,
        taskId: ctx.taskId,
        expiresIn: 600,
        key: grantKey,
        audience: ctx.bucket,
        operator: ctx.attribution.operator,
        sessionId: ctx.attribution.sessionId,
      }),
    retry: { minDelayMs: 10, maxDelayMs: 100 },
    ...(payloadLimitBytes === undefined ? {} : { payloadLimitBytes }),
  });
  const teardown = async () => {
    client.destroy();
    handlerS3.destroy();
    await lambda.close();
  };
  return { lambda, transport, teardown };
}

/** The metadata the handler must store from the grant's claims (`source` names the writer). */
export function grantAttribution(ctx: ContractContext, source: 'uploader-lambda' | 'presigned-url') {
  return {
    metadata: {
      'agent-trace-user-id': ctx.userId,
      'agent-trace-task-id': ctx.taskId,
      'agent-trace-operator': ctx.attribution.operator,
      'agent-trace-session-id': ctx.attribution.sessionId,
      'agent-trace-attribution': source,
    },
  };
}
