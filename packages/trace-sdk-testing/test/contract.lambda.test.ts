import { randomBytes } from 'node:crypto';
import { lambdaUploaderTransport } from '@agent-trace/trace-sdk';
import { createUploaderHandler } from '@agent-trace/trace-sdk/lambda';
import { createTraceS3Client, createUploadGrant } from '@agent-trace/trace-sdk/orchestrator';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { type ContractContext, describeTransportContract, unsupported } from '../src/contract/index.js';
import { startLocalLambda } from '../src/index.js';

/** The real uploader handler behind a local Lambda, and a transport holding only a grant. */
async function uploaderLambda(ctx: ContractContext, payloadLimitBytes?: number) {
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
      createUploadGrant({ userId: ctx.userId, taskId: ctx.taskId, expiresIn: 600, key: grantKey }),
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

// Bodies inline in the Invoke payload; network faults hit the Lambda API, so the transport's own
// retry policy is what gets them through.
describeTransportContract('lambda (inline)', async (ctx) => {
  const { lambda, transport, teardown } = await uploaderLambda(ctx);
  return {
    transport,
    ...ctx.objects,
    faults: { injector: lambda.faults },
    capabilities: {
      refreshOnExpiry: unsupported(
        'an expired grant is an ERR_GRANT_EXPIRED answer from the handler, not an HTTP 403 from the endpoint',
      ),
      largeBody: unsupported(
        "bodies over Lambda's 6 MiB payload limit leave the inline route: see 'lambda (presigned route)'",
      ),
    },
    teardown,
  };
});

// Every body above 1 KiB takes the large-body route: the handler presigns a PUT for the grant's
// key and the transport uploads it to S3, where the faults are injected.
describeTransportContract('lambda (presigned route)', async (ctx) => {
  const { transport, teardown } = await uploaderLambda(ctx, 1024);
  return { transport, ...ctx.objects, teardown };
});
