import { describeTransportContract, unsupported } from '../src/contract/index.js';
import { grantAttribution, uploaderLambda } from './lambda-uploader-fixture.js';

// Bodies inline in the Invoke payload; network faults hit the Lambda API, so the transport's own
// retry policy is what gets them through.
describeTransportContract('lambda (inline)', async (ctx) => {
  const { lambda, transport, teardown } = await uploaderLambda(ctx);
  return {
    transport,
    ...ctx.objects,
    faults: { injector: lambda.faults },
    attribution: grantAttribution(ctx, 'uploader-lambda'),
    capabilities: {
      attribution: true,
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
