/**
 * `describeTransportContract`: the one vitest suite every transport must pass, built-in or custom.
 *
 * Each test gets a fresh local S3 and fresh ids ({@link ContractContext}), calls `setup` for the
 * transport under test and checks what landed. Capabilities a transport lacks must be declared
 * with `unsupported(reason)`; those tests are reported as skipped with the reason.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type TraceArtifact, type TraceTransport, traceKey, userPrefix } from '@agent-trace/trace-sdk';
import { describe, expect, it, type TestContext, vi } from 'vitest';
import type { FaultInjector, FaultMatch } from '../local-s3/faults.js';
import { createWorld } from './context.js';
import { largeFileArtifact, sampleArtifact, stallingArtifact } from './fixtures.js';
import { sampleMemory } from './memory.js';
import type { ContractContext, ContractSetup, ContractTarget, TransportCapabilities } from './types.js';

/** Size of the large-body test's artifact. */
export const LARGE_BODY_BYTES = 200 * 1024 * 1024;
/** Default of {@link TransportCapabilities.maxMemoryGrowthBytes}. */
export const DEFAULT_MAX_MEMORY_GROWTH_BYTES = 96 * 1024 * 1024;
/** Number of uploads in the parallel test. */
export const PARALLEL_UPLOADS = 20;

const TEST_TIMEOUT_MS = 60_000;
const LARGE_TEST_TIMEOUT_MS = 180_000;

type CapabilityName = Exclude<keyof TransportCapabilities, 'maxMemoryGrowthBytes'>;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** What a failed upload must look like: the SDK's `UploadError` with a string `code`. */
async function expectUploadError(upload: Promise<unknown>, code?: string): Promise<Error & { code: string }> {
  const error = await upload.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the upload should have been rejected').toBeInstanceOf(Error);
  expect((error as Error).name, String(error)).toBe('UploadError');
  expect(typeof (error as { code?: unknown }).code).toBe('string');
  if (code !== undefined) expect((error as { code: string }).code, String(error)).toBe(code);
  return error as Error & { code: string };
}

/** How long an aborted upload may take to settle before the suite calls it stuck. */
const ABORT_SETTLE_MS = 10_000;

/** Fails clearly (instead of at the test timeout) when an aborted upload never settles. */
function settlesAfterAbort<T>(upload: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`the upload did not settle within ${ABORT_SETTLE_MS} ms of its signal aborting`)),
      ABORT_SETTLE_MS,
    );
  });
  return Promise.race([upload, stuck]).finally(() => clearTimeout(timer));
}

/** Asserts the bytes at `key` are exactly the artifact's. */
async function expectIntact(target: ContractTarget, key: string, artifact: TraceArtifact): Promise<void> {
  const stored = await target.read(key);
  expect(stored, `nothing was stored at ${key}`).toBeDefined();
  expect(stored!.byteLength, `size of ${key}`).toBe(artifact.byteLength);
  expect(sha256(stored!), `sha256 of ${key}`).toBe(artifact.sha256);
}

function checkCapabilities(name: string, target: ContractTarget): void {
  for (const [capability, value] of Object.entries(target.capabilities ?? {})) {
    if (capability === 'maxMemoryGrowthBytes') {
      if (value !== undefined && !(typeof value === 'number' && value > 0)) {
        throw new TypeError(`${name}: capabilities.maxMemoryGrowthBytes must be a positive number`);
      }
      continue;
    }
    const reason = (value as { unsupported?: unknown } | undefined)?.unsupported;
    if (value !== undefined && value !== true && !(typeof reason === 'string' && reason.trim() !== '')) {
      throw new TypeError(`${name}: capabilities.${capability} must be true or unsupported('why')`);
    }
  }
}

/**
 * Registers the transport contract suite (vitest `describe`) for the transport that `setup`
 * builds. Call it at the top level of a test file:
 *
 * @example
 * import { describeTransportContract, unsupported } from '@agent-trace/trace-sdk-testing/contract';
 * describeTransportContract('my-transport', (ctx) => ({
 *   transport: myTransport({ endpoint: ctx.s3.endpoint, bucket: ctx.bucket, credentials: ctx.userCredentials }),
 *   ...ctx.objects,
 * }));
 *
 * The suite checks: exact bytes at the exact key; `Content-Type: application/gzip` and no
 * `Content-Encoding`; retries through a 500, a 503 SlowDown and a connection reset, landing
 * exactly one object; no retry on 400/403 (beyond one URL refresh); refresh on expiry; abort
 * before, during the body and while the server hangs; a 200 MB body in bounded memory; refusal of
 * another user's key with nothing written; 20 parallel uploads.
 */
export function describeTransportContract(name: string, setup: ContractSetup): void {
  describe(`${name} transport contract`, () => {
    async function prepare(t: TestContext, options: { onDisk?: boolean } = {}) {
      const world = await createWorld(options);
      const targets: ContractTarget[] = [];
      t.onTestFinished(async () => {
        for (const target of targets) await target.teardown?.();
        await world.dispose();
      });
      const make = async (ctx: ContractContext): Promise<ContractTarget> => {
        const target = await setup(ctx);
        targets.push(target);
        if (typeof target?.transport?.upload !== 'function' || typeof target.read !== 'function') {
          throw new TypeError(`${name}: setup must return { transport, read, ... }`);
        }
        checkCapabilities(name, target);
        return target;
      };
      const ctx = world.context;
      return { world, ctx, target: await make(ctx), make };
    }

    function requireCapability(
      t: TestContext,
      target: ContractTarget,
      capability: CapabilityName,
      what: string,
    ) {
      const value = target.capabilities?.[capability];
      if (value !== undefined && value !== true)
        t.skip(`${name} does not support ${what}: ${value.unsupported}`);
    }

    function faultsFor(
      ctx: ContractContext,
      target: ContractTarget,
    ): { injector: FaultInjector; match?: FaultMatch } {
      return target.faults ?? { injector: ctx.s3.faults, match: { keyPrefix: userPrefix(ctx.userId) } };
    }

    function writes(ctx: ContractContext, target: ContractTarget, key: string): number {
      return target.writes !== undefined
        ? target.writes(key)
        : ctx.s3.requests.filter((r) => r.stored && r.key === key).length;
    }

    const upload = (transport: TraceTransport, artifact: TraceArtifact, signal?: AbortSignal) =>
      transport.upload(artifact, signal === undefined ? {} : { signal });

    // First, so that memory freed by earlier tests cannot hide growth.
    it(
      'uploads a 200 MB body with bounded memory',
      async (t) => {
        const { ctx, target } = await prepare(t, { onDisk: true });
        requireCapability(t, target, 'largeBody', 'large bodies');
        const artifact = await largeFileArtifact(
          ctx.key,
          join(ctx.tmpDir, 'large.jsonl.gz'),
          LARGE_BODY_BYTES,
        );
        const budget = target.capabilities?.maxMemoryGrowthBytes ?? DEFAULT_MAX_MEMORY_GROWTH_BYTES;
        const sampler = sampleMemory();
        let growth: ReturnType<ReturnType<typeof sampleMemory>['stop']>;
        try {
          const receipt = await upload(target.transport, artifact);
          expect(receipt.key).toBe(ctx.key);
        } finally {
          growth = sampler.stop();
        }
        await t.annotate(
          `${mib(artifact.byteLength)} uploaded; peak growth: RSS ${mib(growth.rss)}, heap+buffers ${mib(growth.live)} (budget ${mib(budget)})`,
        );
        expect(growth.rss, 'RSS growth while uploading').toBeLessThan(budget);
        expect(growth.live, 'heap + buffer growth while uploading').toBeLessThan(budget);
        await expectIntact(target, ctx.key, artifact);
      },
      LARGE_TEST_TIMEOUT_MS,
    );

    it(
      'stores the exact bytes at the exact key',
      async (t) => {
        const { ctx, target } = await prepare(t);
        const artifact = sampleArtifact(ctx.key, ctx.taskId);
        const receipt = await upload(target.transport, artifact);
        expect(receipt.key).toBe(ctx.key);
        expect(JSON.stringify(receipt), 'a receipt must not carry a signature').not.toMatch(
          /X-Amz-Signature|X-Amz-Credential|Signature=/i,
        );
        await expectIntact(target, ctx.key, artifact);
        if (target.list !== undefined) expect(await target.list()).toEqual([ctx.key]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'stores Content-Type application/gzip and no Content-Encoding',
      async (t) => {
        const { ctx, target } = await prepare(t);
        requireCapability(t, target, 'contentHeaders', 'stored content headers');
        if (target.stat === undefined) {
          throw new TypeError(
            `${name}: provide stat() or declare capabilities.contentHeaders unsupported('why')`,
          );
        }
        await upload(target.transport, sampleArtifact(ctx.key, ctx.taskId));
        const headers = await target.stat(ctx.key);
        expect(headers?.contentType).toBe('application/gzip');
        expect(headers?.contentEncoding).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );

    const transientFaults: [string, (injector: FaultInjector, match: FaultMatch | undefined) => void][] = [
      ['a 500 InternalError', (f, match) => f.failNext(1, { status: 500, code: 'InternalError', match })],
      [
        'a 503 SlowDown with Retry-After',
        (f, match) => f.failNext(1, { status: 503, code: 'SlowDown', retryAfterSeconds: 1, match }),
      ],
      ['a connection reset mid-body', (f, match) => f.resetNext(1, { afterBodyBytes: 64 * 1024, match })],
    ];
    for (const [fault, inject] of transientFaults) {
      it(
        `retries through ${fault} and lands exactly one object`,
        async (t) => {
          const { ctx, target } = await prepare(t);
          requireCapability(t, target, 'networkFaults', 'network fault injection');
          const { injector, match } = faultsFor(ctx, target);
          inject(injector, match);
          const artifact = sampleArtifact(ctx.key, ctx.taskId);
          const receipt = await upload(target.transport, artifact);
          expect(injector.pending, 'the injected fault never reached the transport').toBe(0);
          expect(receipt.key).toBe(ctx.key);
          await expectIntact(target, ctx.key, artifact);
          expect(writes(ctx, target, ctx.key), 'objects written').toBe(1);
        },
        TEST_TIMEOUT_MS,
      );
    }

    it(
      'does not retry a 400',
      async (t) => {
        const { ctx, target } = await prepare(t);
        requireCapability(t, target, 'networkFaults', 'network fault injection');
        const { injector, match } = faultsFor(ctx, target);
        injector.failNext(3, {
          status: 400,
          code: 'InvalidRequest',
          message: 'Injected client error',
          match,
        });
        await expectUploadError(upload(target.transport, sampleArtifact(ctx.key, ctx.taskId)));
        expect(3 - injector.pending, 'attempts that reached the server').toBe(1);
        expect(await target.read(ctx.key)).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'does not retry a 403 AccessDenied (beyond one URL refresh)',
      async (t) => {
        const { ctx, target } = await prepare(t);
        requireCapability(t, target, 'networkFaults', 'network fault injection');
        const { injector, match } = faultsFor(ctx, target);
        injector.failNext(3, { status: 403, code: 'AccessDenied', message: 'Access Denied', match });
        await expectUploadError(upload(target.transport, sampleArtifact(ctx.key, ctx.taskId)));
        const refreshes =
          target.capabilities?.refreshOnExpiry === undefined || target.capabilities.refreshOnExpiry === true
            ? 1
            : 0;
        expect(3 - injector.pending, 'attempts that reached the server').toBeGreaterThanOrEqual(1);
        expect(3 - injector.pending, 'attempts that reached the server').toBeLessThanOrEqual(1 + refreshes);
        expect(await target.read(ctx.key)).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'refreshes an expired URL once and succeeds',
      async (t) => {
        const { ctx, target } = await prepare(t);
        requireCapability(t, target, 'refreshOnExpiry', 'refreshing an expired URL');
        requireCapability(t, target, 'networkFaults', 'network fault injection');
        const { injector, match } = faultsFor(ctx, target);
        injector.failNext(1, { status: 403, code: 'AccessDenied', message: 'Request has expired', match });
        const artifact = sampleArtifact(ctx.key, ctx.taskId);
        await upload(target.transport, artifact);
        expect(injector.pending, 'the expiry never reached the transport').toBe(0);
        await expectIntact(target, ctx.key, artifact);
        expect(writes(ctx, target, ctx.key), 'objects written').toBe(1);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'rejects with ERR_UPLOAD_ABORTED when already aborted, and stores nothing',
      async (t) => {
        const { ctx, target } = await prepare(t);
        const controller = new AbortController();
        controller.abort();
        await expectUploadError(
          settlesAfterAbort(upload(target.transport, sampleArtifact(ctx.key, ctx.taskId), controller.signal)),
          'ERR_UPLOAD_ABORTED',
        );
        expect(await target.read(ctx.key)).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'stops when aborted mid-body: ERR_UPLOAD_ABORTED, nothing stored',
      async (t) => {
        const { ctx, target } = await prepare(t);
        const controller = new AbortController();
        const artifact = stallingArtifact(sampleArtifact(ctx.key, ctx.taskId), 32 * 1024, () =>
          setImmediate(() => controller.abort()),
        );
        await expectUploadError(
          settlesAfterAbort(upload(target.transport, artifact, controller.signal)),
          'ERR_UPLOAD_ABORTED',
        );
        expect(await target.read(ctx.key)).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'stops when aborted while the server hangs',
      async (t) => {
        const { ctx, target } = await prepare(t);
        requireCapability(t, target, 'networkFaults', 'network fault injection');
        const { injector, match } = faultsFor(ctx, target);
        injector.hangNext(1, { match });
        const controller = new AbortController();
        const pending = upload(target.transport, sampleArtifact(ctx.key, ctx.taskId), controller.signal);
        const outcome = pending.then(
          () => 'resolved',
          () => 'rejected',
        );
        await vi.waitFor(
          async () => {
            if ((await Promise.race([outcome, 'pending'])) !== 'pending') return;
            expect(injector.pending, 'waiting for the request to reach the hung server').toBe(0);
          },
          { timeout: 20_000, interval: 20 },
        );
        controller.abort();
        await expectUploadError(settlesAfterAbort(pending), 'ERR_UPLOAD_ABORTED');
        expect(await target.read(ctx.key)).toBeUndefined();
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "refuses an artifact for another user's key and writes nothing outside the user's prefix",
      async (t) => {
        const { ctx, target } = await prepare(t);
        requireCapability(t, target, 'userScoped', 'per-user scoping');
        const foreignKey = traceKey({ userId: ctx.otherUserId, taskId: ctx.taskId });
        await expectUploadError(upload(target.transport, sampleArtifact(foreignKey, ctx.taskId)));
        expect(await target.read(foreignKey)).toBeUndefined();
        expect(
          await target.read(ctx.key),
          "another user's bytes stored under the user's key",
        ).toBeUndefined();
        if (target.list !== undefined) expect(await target.list()).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      `lands ${PARALLEL_UPLOADS} parallel uploads intact`,
      async (t) => {
        const { world, ctx, target, make } = await prepare(t);
        const contexts = [ctx, ...Array.from({ length: PARALLEL_UPLOADS - 1 }, () => world.derive())];
        const targets = [target, ...(await Promise.all(contexts.slice(1).map(make)))];
        const artifacts = contexts.map((c) => sampleArtifact(c.key, c.taskId, 64 * 1024));
        const receipts = await Promise.all(targets.map((tg, i) => upload(tg.transport, artifacts[i]!)));
        expect(receipts.map((r) => r.key)).toEqual(contexts.map((c) => c.key));
        for (const [i, c] of contexts.entries()) await expectIntact(targets[i]!, c.key, artifacts[i]!);
        if (target.list !== undefined)
          expect((await target.list()).sort()).toEqual(contexts.map((c) => c.key).sort());
      },
      TEST_TIMEOUT_MS,
    );
  });
}
