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
import {
  CAPABILITY_NAMES,
  type CapabilityName,
  reasonUnsupported,
  validateCapabilities,
} from './capabilities.js';
import { abortCases } from './cases-abort.js';
import { deliveryCases } from './cases-delivery.js';
import { faultCases } from './cases-faults.js';
import { scopeCases } from './cases-scope.js';
import { createWorld } from './context.js';
import type { CaseKit, Prepared } from './kit.js';
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

export { DEFAULT_MAX_MEMORY_GROWTH_BYTES, LARGE_BODY_BYTES } from './cases-delivery.js';
export { PARALLEL_UPLOADS } from './cases-scope.js';

const TEST_TIMEOUT_MS = 60_000;

/** How a binding runs the cases. */
export interface ContractBinding {
  /**
   * False for runners that cannot skip a running test (jest): every capability must then be
   * declared in the options, and cases that would need a run-time skip are registered as skipped.
   */
  readonly canSkipAtRuntime?: boolean | undefined;
}

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
  const unsupportedReason = (capabilities: TransportCapabilities | undefined, capability: CapabilityName) =>
    reasonUnsupported(name, capabilities, capability);

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

  async function prepare(
    options: { onDisk?: boolean } = {},
  ): Promise<Prepared & { dispose(): Promise<void> }> {
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

  const kit: CaseKit = { name, declared, defineCase, skip, unsupportedReason, undeclaredAttribution };
  const cases = [...deliveryCases(kit), ...faultCases(kit), ...abortCases(kit), ...scopeCases(kit)];

  return { title: `${name} transport contract`, cases };
}
