import { describeTransportContract } from '../src/contract/index.js';
import { grantAttribution, uploaderLambda } from './lambda-uploader-fixture.js';

// Every body above 1 KiB takes the large-body route: the handler presigns a PUT for the grant's
// key and the transport uploads it to S3, where the faults are injected.
describeTransportContract('lambda (presigned route)', async (ctx) => {
  const { transport, teardown } = await uploaderLambda(ctx, 1024);
  // The handler presigns: the URL signs the grant's attribution, which S3 then stores.
  return {
    transport,
    ...ctx.objects,
    capabilities: { attribution: true },
    attribution: grantAttribution(ctx, 'presigned-url'),
    teardown,
  };
});
