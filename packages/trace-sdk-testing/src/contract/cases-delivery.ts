/**
 * The delivery cases: a 200 MB body in bounded memory, the exact bytes at the exact key, and the
 * content headers a trace is stored with.
 *
 * @packageDocumentation
 */
import { join } from 'node:path';
import * as check from './assert.js';
import { largeFileArtifact, sampleArtifact } from './fixtures.js';
import { type CaseKit, upload } from './kit.js';
import { sampleMemory } from './memory.js';
import type { ContractCase } from './types.js';
import { expectIntact } from './upload-checks.js';

/** Size of the large-body test's artifact. */
export const LARGE_BODY_BYTES = 200 * 1024 * 1024;
/** Default of `capabilities.maxMemoryGrowthBytes`. */
export const DEFAULT_MAX_MEMORY_GROWTH_BYTES = 96 * 1024 * 1024;
const LARGE_TEST_TIMEOUT_MS = 180_000;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The 200 MB body (first, so memory freed by earlier cases cannot hide growth), exact bytes, headers. */
export function deliveryCases(kit: CaseKit): ContractCase[] {
  const { defineCase, declared, name } = kit;
  const cases: ContractCase[] = [];

  cases.push(
    defineCase(
      'uploads a 200 MB body with bounded memory',
      ['largeBody'],
      async ({ ctx, target }, t) => {
        const artifact = await largeFileArtifact(
          ctx.key,
          join(ctx.tmpDir, 'large.jsonl.gz'),
          LARGE_BODY_BYTES,
        );
        const budget =
          target.capabilities?.maxMemoryGrowthBytes ??
          declared.maxMemoryGrowthBytes ??
          DEFAULT_MAX_MEMORY_GROWTH_BYTES;
        const sampler = sampleMemory();
        let growth: ReturnType<ReturnType<typeof sampleMemory>['stop']>;
        try {
          const receipt = await upload(target.transport, artifact);
          check.equal(receipt.key, ctx.key, 'receipt.key');
        } finally {
          growth = sampler.stop();
        }
        await t.note(
          `${mib(artifact.byteLength)} uploaded; peak growth: RSS ${mib(growth.rss)}, heap+buffers ${mib(growth.live)} (budget ${mib(budget)})`,
        );
        check.below(growth.rss, budget, 'RSS growth while uploading (bytes)');
        check.below(growth.live, budget, 'heap + buffer growth while uploading (bytes)');
        await expectIntact(target, ctx.key, artifact);
      },
      { timeoutMs: LARGE_TEST_TIMEOUT_MS, onDisk: true },
    ),
  );

  cases.push(
    defineCase('stores the exact bytes at the exact key', [], async ({ ctx, target }) => {
      const artifact = sampleArtifact(ctx.key, ctx.taskId);
      const receipt = await upload(target.transport, artifact);
      check.equal(receipt.key, ctx.key, 'receipt.key');
      check.doesNotMatch(
        JSON.stringify(receipt),
        /X-Amz-Signature|X-Amz-Credential|Signature=/i,
        'the receipt (it must not carry a signature)',
      );
      await expectIntact(target, ctx.key, artifact);
      if (target.list !== undefined)
        check.deepEqual(await target.list(), [ctx.key], 'keys stored (target.list())');
    }),
  );

  cases.push(
    defineCase(
      'stores Content-Type application/gzip and no Content-Encoding',
      ['contentHeaders'],
      async ({ ctx, target }) => {
        if (target.stat === undefined) {
          throw new TypeError(
            `${name}: provide stat() or declare capabilities.contentHeaders unsupported('why')`,
          );
        }
        await upload(target.transport, sampleArtifact(ctx.key, ctx.taskId));
        const headers = await target.stat(ctx.key);
        check.isDefined(headers, `stat() of the object at ${ctx.key}`);
        check.equal(headers.contentType, 'application/gzip', `Content-Type stored at ${ctx.key}`);
        check.isUndefined(
          headers.contentEncoding,
          `Content-Encoding stored at ${ctx.key} (a trace is a gzip file, not a gzip-encoded response)`,
        );
      },
    ),
  );

  return cases;
}
