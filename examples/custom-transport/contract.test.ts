/**
 * How a consumer repo proves its own transport against the shared contract: one call to
 * `describeTransportContract` with a `setup` that builds the transport for the context's user and
 * task, plus a way to read back what it stored. Run with `pnpm test` (vitest).
 */

import { describeTransportContract, unsupported } from '@agent-trace/trace-sdk-testing/contract';
import { S3Client } from '@aws-sdk/client-s3';
import { keyValueTransport } from './key-value-transport.ts';
import { s3KeyValueStore } from './s3-key-value-store.ts';

describeTransportContract('key-value (custom)', (ctx) => {
  // The store signs with credentials the local S3 accepts only under traces/<userId>/: the
  // transport refuses foreign keys itself, and the store would refuse them too.
  const client = new S3Client({
    endpoint: ctx.s3.endpoint,
    region: ctx.s3.region,
    credentials: { ...ctx.userCredentials },
    forcePathStyle: true,
    maxAttempts: 1,
  });
  return {
    transport: keyValueTransport({
      store: s3KeyValueStore(client, ctx.bucket),
      userId: ctx.userId,
      retry: { minDelayMs: 10, maxDelayMs: 100 },
    }),
    // The store is the local S3's bucket, so the context's reader sees what landed.
    ...ctx.objects,
    capabilities: {
      refreshOnExpiry: unsupported('the store uses long-lived credentials; nothing expires mid-task'),
    },
    teardown: () => client.destroy(),
  };
});
