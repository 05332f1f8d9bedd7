import { presignedPutTransport } from '@agent-trace/trace-sdk';
import { createTraceS3Client, createTraceUploadUrl } from '@agent-trace/trace-sdk/orchestrator';
import { describeTransportContract } from '../src/contract/index.js';

// The orchestrator mints a URL for exactly the task's key (with its own, broad credentials); the
// runtime holds nothing but a function that asks for a fresh URL.
describeTransportContract('presigned-put', async (ctx) => {
  const orchestratorS3 = await createTraceS3Client({
    endpoint: ctx.s3.endpoint,
    region: ctx.s3.region,
    credentials: ctx.s3.credentials,
    forcePathStyle: true,
  });
  // The provider signs the sealed size and hash, and returns the headers (attribution) to send.
  const mintUrl = async ({ byteLength, sha256 }: { byteLength: number; sha256: string }) =>
    createTraceUploadUrl({
      s3: orchestratorS3,
      bucket: ctx.bucket,
      userId: ctx.userId,
      taskId: ctx.taskId,
      expiresIn: 300,
      contentLength: byteLength,
      sha256,
      maxBytes: 1024 ** 3,
      operator: ctx.attribution.operator,
      sessionId: ctx.attribution.sessionId,
    });
  return {
    transport: presignedPutTransport({ url: mintUrl, retry: { minDelayMs: 10, maxDelayMs: 100 } }),
    ...ctx.objects,
    capabilities: { attribution: true },
    attribution: {
      metadata: {
        'agent-trace-user-id': ctx.userId,
        'agent-trace-task-id': ctx.taskId,
        'agent-trace-operator': ctx.attribution.operator,
        'agent-trace-session-id': ctx.attribution.sessionId,
        'agent-trace-attribution': 'presigned-url',
      },
    },
    teardown: () => orchestratorS3.destroy(),
  };
});
