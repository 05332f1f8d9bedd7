/**
 * The abort cases: `ERR_UPLOAD_ABORTED` and nothing stored when aborted before the upload, mid-body
 * and while the server hangs; a transport that ignores its signal is named as such.
 *
 * @packageDocumentation
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as check from './assert.js';
import { sampleArtifact, stallingArtifact } from './fixtures.js';
import { type CaseKit, faultsFor, upload } from './kit.js';
import type { ContractCase } from './types.js';
import { errorText, expectUploadError, settleAfterAbort } from './upload-checks.js';

/** Before, mid-body, while the server hangs. */
export function abortCases(kit: CaseKit): ContractCase[] {
  const { defineCase } = kit;
  const cases: ContractCase[] = [];

  cases.push(
    defineCase(
      'rejects with ERR_UPLOAD_ABORTED when already aborted, and stores nothing',
      [],
      async ({ ctx, target }) => {
        const controller = new AbortController();
        controller.abort();
        const pending = upload(target.transport, sampleArtifact(ctx.key, ctx.taskId), controller.signal);
        const settled = await settleAfterAbort(pending, 'before it started');
        await expectUploadError('upload aborted before it started', { settled }, 'ERR_UPLOAD_ABORTED');
        check.isUndefined(await target.read(ctx.key), `object at ${ctx.key}`);
      },
    ),
  );

  cases.push(
    defineCase(
      'stops when aborted mid-body: ERR_UPLOAD_ABORTED, nothing stored',
      [],
      async ({ ctx, target }) => {
        const controller = new AbortController();
        const artifact = stallingArtifact(sampleArtifact(ctx.key, ctx.taskId), 32 * 1024, () =>
          setImmediate(() => controller.abort()),
        );
        const pending = upload(target.transport, artifact, controller.signal);
        // The settle window starts at the abort, which comes once the body stalled.
        const early = await Promise.race([
          pending.then(
            () => 'resolved',
            (error: unknown) => `rejected (${errorText(error)})`,
          ),
          new Promise<undefined>((resolve) =>
            controller.signal.addEventListener('abort', () => resolve(undefined), { once: true }),
          ),
        ]);
        if (early !== undefined && !controller.signal.aborted) {
          check.failWith(
            'upload aborted mid-body',
            `the upload ${early} before its body stalled: the transport must stream artifact.open()`,
          );
        }
        const error = await settleAfterAbort(pending, 'mid-body');
        await expectUploadError('upload aborted mid-body', { settled: error }, 'ERR_UPLOAD_ABORTED');
        check.isUndefined(await target.read(ctx.key), `object at ${ctx.key}`);
      },
    ),
  );

  cases.push(
    defineCase('stops when aborted while the server hangs', ['networkFaults'], async ({ ctx, target }) => {
      const { injector, match } = faultsFor(ctx, target);
      injector.hangNext(1, { match });
      const controller = new AbortController();
      const pending = upload(target.transport, sampleArtifact(ctx.key, ctx.taskId), controller.signal);
      let settled: string | undefined;
      pending.then(
        () => {
          settled = 'resolved';
        },
        (error: unknown) => {
          settled = `rejected (${errorText(error)})`;
        },
      );
      const deadline = Date.now() + 20_000;
      while (injector.pending > 0 && settled === undefined) {
        if (Date.now() > deadline) {
          check.failWith('waiting for the upload to reach the hung server', 'no request arrived within 20 s');
        }
        await sleep(20);
      }
      await sleep(20);
      if (settled !== undefined) {
        check.failWith(
          'upload to a hung server',
          `it ${settled} before the abort; it must wait for the server's answer or its signal`,
        );
      }
      controller.abort();
      const error = await settleAfterAbort(pending, 'while the server hangs');
      await expectUploadError(
        'upload aborted while the server hangs',
        { settled: error },
        'ERR_UPLOAD_ABORTED',
      );
      check.isUndefined(await target.read(ctx.key), `object at ${ctx.key}`);
    }),
  );

  return cases;
}
