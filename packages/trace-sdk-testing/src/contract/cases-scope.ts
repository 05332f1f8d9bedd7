/**
 * The scope cases: another user's key refused with nothing written, parallel uploads landing
 * intact (through targets that share one store), and the attribution metadata on the stored object.
 *
 * @packageDocumentation
 */
import { traceKey } from '@agent-trace/trace-sdk';
import * as check from './assert.js';
import { sampleArtifact } from './fixtures.js';
import { type CaseKit, upload } from './kit.js';
import type { ContractCase } from './types.js';
import { expectIntact, expectUploadError } from './upload-checks.js';

/** Number of uploads in the parallel test. */
export const PARALLEL_UPLOADS = 20;

/** Cross-user refusal, parallel uploads, attribution. */
export function scopeCases(kit: CaseKit): ContractCase[] {
  const { defineCase, declared, name, undeclaredAttribution } = kit;
  const cases: ContractCase[] = [];

  cases.push(
    defineCase(
      "refuses an artifact for another user's key and writes nothing outside the user's prefix",
      ['userScoped'],
      async ({ ctx, target }) => {
        const foreignKey = traceKey({ userId: ctx.otherUserId, taskId: ctx.taskId });
        await expectUploadError(
          `upload of an artifact for another user's key ${foreignKey}`,
          upload(target.transport, sampleArtifact(foreignKey, ctx.taskId)),
        );
        check.isUndefined(await target.read(foreignKey), `object at the other user's key ${foreignKey}`);
        check.isUndefined(
          await target.read(ctx.key),
          `object at the user's own key ${ctx.key} (another user's bytes)`,
        );
        if (target.list !== undefined)
          check.deepEqual(await target.list(), [], 'keys stored (target.list())');
      },
    ),
  );

  cases.push(
    defineCase(
      `lands ${PARALLEL_UPLOADS} parallel uploads intact`,
      [],
      async ({ world, ctx, target, make }) => {
        const contexts = [ctx, ...Array.from({ length: PARALLEL_UPLOADS - 1 }, () => world.derive())];
        const targets = [target, ...(await Promise.all(contexts.slice(1).map(make)))];
        const artifacts = contexts.map((c) => sampleArtifact(c.key, c.taskId, 64 * 1024));
        const receipts = await Promise.all(targets.map((tg, i) => upload(tg.transport, artifacts[i]!)));
        check.deepEqual(
          receipts.map((r) => r.key),
          contexts.map((c) => c.key),
          'receipt keys, in upload order',
        );
        for (const [i, c] of contexts.entries()) await expectIntact(targets[i]!, c.key, artifacts[i]!);
        // The first target reads and lists for all: the setup() calls of one test must share a store.
        const unseen: string[] = [];
        for (const c of contexts.slice(1)) if ((await target.read(c.key)) === undefined) unseen.push(c.key);
        if (unseen.length > 0) {
          check.failWith(
            `${PARALLEL_UPLOADS} parallel uploads`,
            `each upload landed through its own target, but the first target's read() cannot see ${unseen.length} of them (e.g. ${unseen[0]}). The ${PARALLEL_UPLOADS} setup() calls of this test must store into the same place (build the store from ctx.s3 / ctx.bucket, or once outside setup), because the suite reads and lists through the first target`,
          );
        }
        if (target.list !== undefined) {
          check.deepEqual(
            (await target.list()).sort(),
            contexts.map((c) => c.key).sort(),
            `keys stored (the first target's list(), which must see every setup() call's uploads)`,
          );
        }
      },
    ),
  );

  cases.push(
    defineCase(
      'stored object carries the attribution metadata the credential was bound to',
      ['attribution'],
      async ({ ctx, target }, t) => {
        if (target.attribution === undefined) {
          if (declared.attribution === true || target.capabilities?.attribution === true) {
            throw new TypeError(
              `${name}: capabilities.attribution is true, so setup() must return target.attribution`,
            );
          }
          kit.skip(t, undeclaredAttribution);
        }
        const expected = target.attribution.metadata;
        if (Object.keys(expected).length === 0) {
          throw new TypeError(`${name}: target.attribution.metadata names no entry to check`);
        }
        if (target.stat === undefined) {
          throw new TypeError(`${name}: the attribution test reads stat(key).metadata: provide stat()`);
        }
        const artifact = sampleArtifact(ctx.key, ctx.taskId);
        await upload(target.transport, artifact);
        await expectIntact(target, ctx.key, artifact);
        const stored = await target.stat(ctx.key);
        check.isDefined(stored, `stat() of the object at ${ctx.key}`);
        check.isDefined(stored.metadata, `stat(${ctx.key}).metadata (stat() must report user metadata)`);
        for (const [entry, value] of Object.entries(expected)) {
          check.equal(
            stored.metadata[entry.toLowerCase()],
            value,
            `x-amz-meta-${entry.toLowerCase()} stored at ${ctx.key}`,
          );
        }
      },
    ),
  );

  return cases;
}
