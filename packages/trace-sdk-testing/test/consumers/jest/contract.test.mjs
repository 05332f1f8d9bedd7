// A consumer on jest (native ESM: NODE_OPTIONS=--experimental-vm-modules jest).
import { presignedPutTransport } from '@agent-trace/trace-sdk';
import { describeTransportContract, unsupported } from '@agent-trace/trace-sdk-testing/contract/jest';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

// Jest cannot skip a running test, so what the transport lacks is declared here, up front.
const capabilities = {
  refreshOnExpiry: unsupported('this consumer mints one fixed URL per task'),
  attribution: true,
};

describeTransportContract(
  'presigned-put (jest consumer)',
  async (ctx) => {
    const s3 = new S3Client({
      endpoint: ctx.s3.endpoint,
      region: ctx.s3.region,
      credentials: ctx.s3.credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const metadata = { 'trace-operator': ctx.attribution.operator };
    const url = await getSignedUrl(
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
      transport: presignedPutTransport({ url, retry: { minDelayMs: 10, maxDelayMs: 100 } }),
      ...ctx.objects,
      attribution: { metadata },
      capabilities,
      teardown: () => s3.destroy(),
    };
  },
  { capabilities },
);
