import { s3PutObjectTransport } from '@agent-trace/trace-sdk';
import { S3Client } from '@aws-sdk/client-s3';
import { describeTransportContract, unsupported } from '../src/contract/index.js';

// The legacy transport signs with the runtime's own credentials; here they are scoped to the
// user's prefix the way an IAM session policy would scope them, so a cross-user write is refused
// by the (local) S3 itself.
describeTransportContract('s3-put-object', (ctx) => {
  const client = new S3Client({
    endpoint: ctx.s3.endpoint,
    region: ctx.s3.region,
    credentials: { ...ctx.userCredentials },
    forcePathStyle: true,
    maxAttempts: 1,
  });
  return {
    transport: s3PutObjectTransport({
      allowBucketWideWrites: true,
      client,
      bucket: ctx.bucket,
      retry: { minDelayMs: 10, maxDelayMs: 100 },
    }),
    ...ctx.objects,
    // The runtime writes its own metadata: the object says so, and nothing more.
    attribution: { metadata: { 'agent-trace-attribution': 'unattributed' } },
    capabilities: {
      attribution: true,
      refreshOnExpiry: unsupported(
        'signs every request with the runtime credentials; there is no URL to refresh',
      ),
    },
    teardown: () => client.destroy(),
  };
});
