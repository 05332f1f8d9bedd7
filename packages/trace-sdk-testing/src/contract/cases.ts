/**
 * The transport contract as data: {@link transportContract} returns every case as a name, a
 * timeout and a `run(t)` that needs nothing from a test runner but a way to skip and to attach a
 * note ({@link ContractTestContext}). The vitest, jest and node:test bindings only register these.
 *
 * Each case gets a fresh local S3 and fresh ids ({@link ContractContext}), calls `setup` for the
 * transport under test and checks what landed. Capabilities a transport lacks must be declared
 * with `unsupported(reason)`; those cases are skipped with the reason.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TraceArtifact, type TraceTransport, traceKey, userPrefix } from '@agent-trace/trace-sdk';
import type { FaultInjector, FaultMatch } from '../local-s3/faults.js';
import * as check from './assert.js';
import { createWorld } from './context.js';
import { largeFileArtifact, sampleArtifact, stallingArtifact } from './fixtures.js';
import { sampleMemory } from './memory.js';
import type {
  ContractCase,
  ContractContext,
  ContractOptions,
  ContractSetup,
  ContractTarget,
  ContractTestContext,
  TransportCapabilities,
  TransportContract,
} from './types.js';

/** Size of the large-body test's artifact. */
export const LARGE_BODY_BYTES = 200 * 1024 * 1024;
/** Default of {@link TransportCapabilities.maxMemoryGrowthBytes}. */
export const DEFAULT_MAX_MEMORY_GROWTH_BYTES = 96 * 1024 * 1024;
/** Number of uploads in the parallel test. */
export const PARALLEL_UPLOADS = 20;
/**
 * How long an upload may take to settle once its signal aborted. A transport that honours the
 * signal settles within milliseconds; one that ignores it is reported after this, by name.
 */
export const ABORT_SETTLE_MS = 3_000;

const TEST_TIMEOUT_MS = 60_000;
const LARGE_TEST_TIMEOUT_MS = 180_000;

type CapabilityName = Exclude<keyof TransportCapabilities, 'maxMemoryGrowthBytes'>;
const CAPABILITY_NAMES: readonly CapabilityName[] = [
  'networkFaults',
  'refreshOnExpiry',
  'contentHeaders',
  'userScoped',
  'largeBody',
  'attribution',
];

/**
 * `Name: message` of a thrown value. Duck-typed, not `instanceof Error`: under jest, errors made
 * by Node's own modules come from another realm.
 */
function errorText(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown } | null | undefined;
  return typeof e?.message === 'string' ? `${String(e.name ?? 'Error')}: ${e.message}` : String(error);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** How a binding runs the cases. */
export interface ContractBinding {
  /**
   * False for runners that cannot skip a running test (jest): every capability must then be
   * declared in the options, and cases that would need a run-time skip are registered as skipped.
   */
  readonly canSkipAtRuntime?: boolean | undefined;
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Settles `upload` after its signal aborted, or fails by name when the transport ignored the
 * signal: resolving anyway, or not settling within {@link ABORT_SETTLE_MS}.
 */
async function settleAfterAbort<T>(upload: Promise<T>, when: string): Promise<unknown> {
  const timer = new AbortController();
  const outcome: Settled<T> | 'stuck' = await Promise.race([
    upload.then(
      (value) => ({ ok: true, value }) as const,
      (error: unknown) => ({ ok: false, error }) as const,
    ),
    sleep(ABORT_SETTLE_MS, 'stuck' as const, { signal: timer.signal }).catch(() => 'stuck' as const),
  ]);
  timer.abort();
  if (outcome === 'stuck') {
    check.failWith(
      `upload aborted ${when}`,
      `the transport ignored the abort signal: the upload had not settled ${ABORT_SETTLE_MS} ms after it aborted (it must stop its request and reject with an UploadError, code ERR_UPLOAD_ABORTED)`,
    );
  }
  if (outcome.ok) {
    check.failWith(
      `upload aborted ${when}`,
      'the transport ignored the abort signal: the upload resolved instead of rejecting with an UploadError, code ERR_UPLOAD_ABORTED',
    );
  }
  return outcome.error;
}

/** What a failed upload must be: the SDK's `UploadError` with a string `code` (`code` when given). */
async function expectUploadError(
  what: string,
  upload: Promise<unknown> | { settled: unknown },
  code?: string,
): Promise<void> {
  let error: unknown;
  if ('settled' in upload) error = upload.settled;
  else {
    const outcome = await upload.then(
      () => ({ resolved: true }) as const,
      (e: unknown) => ({ resolved: false, e }) as const,
    );
    if (outcome.resolved) check.failWith(what, 'expected the upload to be rejected, but it resolved');
    error = outcome.e;
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (name !== 'UploadError') {
    check.failWith(
      what,
      `expected an UploadError${code === undefined ? '' : ` (${code})`}, got ${errorText(error)}`,
    );
  }
  const actual = (error as { code?: unknown }).code;
  check.equal(typeof actual, 'string', `${what}: type of UploadError.code (${errorText(error)})`);
  if (code !== undefined) check.equal(actual, code, `${what}: UploadError.code (${errorText(error)})`);
}

/** Asserts the bytes at `key` are exactly the artifact's. */
async function expectIntact(target: ContractTarget, key: string, artifact: TraceArtifact): Promise<void> {
  const stored = await target.read(key);
  check.isDefined(stored, `object at ${key}`);
  check.equal(stored.byteLength, artifact.byteLength, `size of the object at ${key}`);
  check.equal(sha256(stored), artifact.sha256, `sha256 of the object at ${key}`);
}

function validateCapabilities(where: string, capabilities: TransportCapabilities | undefined): void {
  for (const [capability, value] of Object.entries(capabilities ?? {})) {
    if (capability === 'maxMemoryGrowthBytes') {
      if (value !== undefined && !(typeof value === 'number' && value > 0)) {
        throw new TypeError(`${where}: capabilities.maxMemoryGrowthBytes must be a positive number`);
      }
      continue;
    }
    const reason = (value as { unsupported?: unknown } | undefined)?.unsupported;
    if (value !== undefined && value !== true && !(typeof reason === 'string' && reason.trim() !== '')) {
      throw new TypeError(`${where}: capabilities.${capability} must be true or unsupported('why')`);
    }
  }
}

const WHAT: Record<CapabilityName, string> = {
  networkFaults: 'network fault injection',
  refreshOnExpiry: 'refreshing an expired URL',
  contentHeaders: 'stored content headers',
  userScoped: 'per-user scoping',
  largeBody: 'large bodies',
  attribution: 'attribution metadata',
};

/**
 * The transport contract for the transport `setup` builds, as runner-neutral cases. Bindings
 * (`describeTransportContract` of `./contract`, `./contract/jest`, `./contract/node-test`)
 * register each case with their runner; call this directly to bind another runner.
 *
 * The cases: a 200 MB body in bounded memory (first, so memory freed by earlier tests cannot hide
 * growth); exact bytes at the exact key; `Content-Type: application/gzip` and no
 * `Content-Encoding`; retries through a 500, a 503 SlowDown and a connection reset, landing
 * exactly one object; no retry on 400/403 (beyond one URL refresh); refresh on expiry; abort
 * before, during the body and while the server hangs; refusal of another user's key with nothing
 * written; 20 parallel uploads; and, opted into, the attribution metadata on the stored object.
 */
export function transportContract(
  name: string,
  setup: ContractSetup,
  options: ContractOptions = {},
  binding: ContractBinding = {},
): TransportContract {
  if (typeof name !== 'string' || name.trim() === '')
    throw new TypeError('transportContract: name the transport');
  if (typeof setup !== 'function') throw new TypeError(`${name}: setup must be a function (ctx) => target`);
  validateCapabilities(`${name} (options)`, options.capabilities);
  const declared = options.capabilities ?? {};
  const canSkipAtRuntime = binding.canSkipAtRuntime ?? true;

  /** Why a capability rules a case out, from a capabilities object; undefined when supported. */
  function unsupportedReason(capabilities: TransportCapabilities | undefined, capability: CapabilityName) {
    const value = capabilities?.[capability];
    return value !== undefined && value !== true
      ? `${name} does not support ${WHAT[capability]}: ${value.unsupported}`
      : undefined;
  }

  const undeclaredAttribution = `${name} did not declare attribution metadata: set target.attribution (and capabilities.attribution: true) or capabilities.attribution: unsupported('why')`;

  function staticSkip(requires: readonly CapabilityName[]): string | undefined {
    for (const capability of requires) {
      const reason = unsupportedReason(declared, capability);
      if (reason !== undefined) return reason;
      // Opt-in: without a run-time skip, an undeclared opt-in cannot be discovered in setup().
      if (capability === 'attribution' && !canSkipAtRuntime && declared.attribution !== true) {
        return undeclaredAttribution;
      }
    }
    return undefined;
  }

  function skip(t: ContractTestContext, reason: string): never {
    if (t.skip !== undefined) return t.skip(reason);
    throw new Error(
      `${reason}. This runner cannot skip a test once it runs: declare the capability up front, in the options of describeTransportContract(name, setup, { capabilities: { ... } })`,
    );
  }

  async function prepare(options: { onDisk?: boolean } = {}) {
    const world = await createWorld(options);
    const targets: ContractTarget[] = [];
    const make = async (ctx: ContractContext): Promise<ContractTarget> => {
      const target = await setup(ctx);
      if (typeof target?.transport?.upload !== 'function' || typeof target.read !== 'function') {
        throw new TypeError(`${name}: setup must return { transport, read, ... }`);
      }
      targets.push(target);
      validateCapabilities(name, target.capabilities);
      if (!canSkipAtRuntime) {
        for (const capability of CAPABILITY_NAMES) {
          if (
            unsupportedReason(target.capabilities, capability) !== undefined &&
            unsupportedReason(declared, capability) === undefined
          ) {
            throw new TypeError(
              `${name}: setup() declared capabilities.${capability} unsupported, but this runner cannot skip a test once it runs: declare it in the options instead, describeTransportContract(name, setup, { capabilities: { ${capability}: unsupported('why') } })`,
            );
          }
        }
      }
      return target;
    };
    const dispose = async () => {
      try {
        for (const target of targets) await target.teardown?.();
      } finally {
        await world.dispose();
      }
    };
    try {
      const ctx = world.context;
      return { world, ctx, target: await make(ctx), make, dispose };
    } catch (error) {
      await dispose();
      throw error;
    }
  }

  type Prepared = Awaited<ReturnType<typeof prepare>>;

  /** A case with a fresh world: skips what the target lacks, always cleans up. */
  function defineCase(
    caseName: string,
    requires: readonly CapabilityName[],
    body: (p: Prepared, t: ContractTestContext) => Promise<void>,
    opts: { timeoutMs?: number; onDisk?: boolean } = {},
  ): ContractCase {
    return {
      name: caseName,
      timeoutMs: opts.timeoutMs ?? TEST_TIMEOUT_MS,
      skipReason: staticSkip(requires),
      async run(t) {
        const prepared = await prepare(opts.onDisk ? { onDisk: true } : {});
        try {
          for (const capability of requires) {
            const reason = unsupportedReason(prepared.target.capabilities, capability);
            if (reason !== undefined) skip(t, reason);
          }
          await body(prepared, t);
        } finally {
          await prepared.dispose();
        }
      },
    };
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
          skip(t, undeclaredAttribution);
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

  return { title: `${name} transport contract`, cases };
}
