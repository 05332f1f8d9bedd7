/**
 * The jest binding: one `describe` with one `test` per contract case, through jest's globals (so
 * this module imports nothing from jest). Jest cannot skip a test once it runs, so capabilities a
 * transport lacks are declared in the options and registered as `test.skip` up front; a case
 * that would need a run-time skip fails, saying what to declare.
 *
 * @packageDocumentation
 */
import { transportContract } from '../cases.js';
import { runContractCase } from '../run-case.js';
import type { ContractOptions, ContractSetup } from '../types.js';

type TestFn = () => Promise<void> | void;
interface JestGlobals {
  describe(name: string, fn: () => void): void;
  test: ((name: string, fn: TestFn, timeout?: number) => void) & { skip(name: string, fn: TestFn): void };
}

function jestGlobals(): JestGlobals {
  const g = globalThis as Partial<JestGlobals>;
  if (typeof g.describe !== 'function' || typeof g.test !== 'function' || typeof g.test.skip !== 'function') {
    throw new Error(
      '@agent-trace/trace-sdk-testing/contract/jest registers tests through jest globals (describe, test): run it under jest with injectGlobals on (the default)',
    );
  }
  return g as JestGlobals;
}

/**
 * Registers the transport contract suite (a jest `describe`) for the transport that `setup`
 * builds. Declare every capability the transport lacks in `options.capabilities` (jest cannot
 * skip at run time), and `attribution: true` to opt into the attribution test.
 *
 * @example
 * import { describeTransportContract, unsupported } from '@agent-trace/trace-sdk-testing/contract/jest';
 * describeTransportContract('my-transport', (ctx) => ({ transport: myTransport(ctx), ...ctx.objects }), {
 *   capabilities: { refreshOnExpiry: unsupported('long-lived credentials') },
 * });
 */
export function describeTransportContract(
  name: string,
  setup: ContractSetup,
  options?: ContractOptions,
): void {
  const { describe, test } = jestGlobals();
  const contract = transportContract(name, setup, options, { canSkipAtRuntime: false });
  describe(contract.title, () => {
    for (const c of contract.cases) {
      if (c.skipReason !== undefined) {
        test.skip(`${c.name} (skipped: ${c.skipReason})`, () => {});
        continue;
      }
      test(
        c.name,
        () =>
          runContractCase(c, {
            note: (message) => console.info(`[${contract.title} > ${c.name}] ${message}`),
          }),
        c.timeoutMs,
      );
    }
  });
}
