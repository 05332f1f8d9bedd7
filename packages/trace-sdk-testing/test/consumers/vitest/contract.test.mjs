// A consumer on vitest: `vitest run`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileTransport, presignedPutTransport } from '@agent-trace/trace-sdk';
import { describeTransportContract, unsupported } from '@agent-trace/trace-sdk-testing/contract';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

describeTransportContract('presigned-put (vitest consumer)', (ctx) => {
  const s3 = new S3Client({
    endpoint: ctx.s3.endpoint,
    region: ctx.s3.region,
    credentials: ctx.s3.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const metadata = { 'trace-operator': ctx.attribution.operator };
  const mintUrl = () =>
    getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket: ctx.bucket,
        Key: ctx.key,
        ContentType: 'application/gzip',
        Metadata: metadata,
      }),
      { expiresIn: 300, signableHeaders: new Set(['content-type']) },
    );
  return {
    transport: presignedPutTransport({ url: mintUrl, retry: { minDelayMs: 10, maxDelayMs: 100 } }),
    ...ctx.objects,
    attribution: { metadata },
    teardown: () => s3.destroy(),
  };
});

// Declared at run time by setup(): vitest skips those cases with the reason.
describeTransportContract('file (vitest consumer)', (ctx) => {
  const dir = join(ctx.tmpDir, 'out');
  return {
    transport: fileTransport({ dir }),
    read: (key) => readFile(join(dir, ...key.split('/'))).catch(() => undefined),
    capabilities: {
      networkFaults: unsupported('writes to the local filesystem'),
      refreshOnExpiry: unsupported('no URL to expire'),
      contentHeaders: unsupported('files carry no headers'),
      userScoped: unsupported('a development transport with no notion of users'),
      largeBody: unsupported('the presigned-put run above covers the 200 MB body'),
      attribution: unsupported('files carry no metadata'),
    },
  };
});
