/**
 * The network-fault cases: retries through transient faults landing exactly one object, no retry
 * on 400 or 403 (beyond one URL refresh), and a refresh after "Request has expired".
 *
 * @packageDocumentation
 */
import type { FaultInjector, FaultMatch } from '../local-s3/faults.js';
import * as check from './assert.js';
import { sampleArtifact } from './fixtures.js';
import { type CaseKit, faultsFor, upload, writes } from './kit.js';
import type { ContractCase } from './types.js';
import { expectIntact, expectUploadError } from './upload-checks.js';

/** Retries, no retries, refresh. */
export function faultCases(kit: CaseKit): ContractCase[] {
  const { defineCase, unsupportedReason } = kit;
  const cases: ContractCase[] = [];

  const transientFaults: [string, (injector: FaultInjector, match: FaultMatch | undefined) => void][] = [
    ['a 500 InternalError', (f, match) => f.failNext(1, { status: 500, code: 'InternalError', match })],
    [
      'a 503 SlowDown with Retry-After',
      (f, match) => f.failNext(1, { status: 503, code: 'SlowDown', retryAfterSeconds: 1, match }),
    ],
    ['a connection reset mid-body', (f, match) => f.resetNext(1, { afterBodyBytes: 64 * 1024, match })],
  ];
  for (const [fault, inject] of transientFaults) {
    cases.push(
      defineCase(
        `retries through ${fault} and lands exactly one object`,
        ['networkFaults'],
        async ({ ctx, target }) => {
          const { injector, match } = faultsFor(ctx, target);
          inject(injector, match);
          const artifact = sampleArtifact(ctx.key, ctx.taskId);
          const receipt = await upload(target.transport, artifact);
          check.equal(injector.pending, 0, `faults still queued (${fault} never reached the transport)`);
          check.equal(receipt.key, ctx.key, 'receipt.key');
          await expectIntact(target, ctx.key, artifact);
          check.equal(writes(ctx, target, ctx.key), 1, `objects written at ${ctx.key}`);
        },
      ),
    );
  }

  cases.push(
    defineCase('does not retry a 400', ['networkFaults'], async ({ ctx, target }) => {
      const { injector, match } = faultsFor(ctx, target);
      injector.failNext(3, { status: 400, code: 'InvalidRequest', message: 'Injected client error', match });
      await expectUploadError(
        'upload answered 400',
        upload(target.transport, sampleArtifact(ctx.key, ctx.taskId)),
      );
      check.equal(3 - injector.pending, 1, 'attempts that reached the server');
      check.isUndefined(await target.read(ctx.key), `object at ${ctx.key}`);
    }),
  );

  cases.push(
    defineCase(
      'does not retry a 403 AccessDenied (beyond one URL refresh)',
      ['networkFaults'],
      async ({ ctx, target }) => {
        const { injector, match } = faultsFor(ctx, target);
        injector.failNext(3, { status: 403, code: 'AccessDenied', message: 'Access Denied', match });
        await expectUploadError(
          'upload answered 403',
          upload(target.transport, sampleArtifact(ctx.key, ctx.taskId)),
        );
        const refreshes = unsupportedReason(target.capabilities, 'refreshOnExpiry') === undefined ? 1 : 0;
        check.within(3 - injector.pending, 1, 1 + refreshes, 'attempts that reached the server');
        check.isUndefined(await target.read(ctx.key), `object at ${ctx.key}`);
      },
    ),
  );

  cases.push(
    defineCase(
      'refreshes an expired URL once and succeeds',
      ['refreshOnExpiry', 'networkFaults'],
      async ({ ctx, target }) => {
        const { injector, match } = faultsFor(ctx, target);
        injector.failNext(1, { status: 403, code: 'AccessDenied', message: 'Request has expired', match });
        const artifact = sampleArtifact(ctx.key, ctx.taskId);
        await upload(target.transport, artifact);
        check.equal(injector.pending, 0, 'faults still queued (the expiry never reached the transport)');
        await expectIntact(target, ctx.key, artifact);
        check.equal(writes(ctx, target, ctx.key), 1, `objects written at ${ctx.key}`);
      },
    ),
  );

  return cases;
}
