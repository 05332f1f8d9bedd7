/**
 * The node:test binding: one `describe` with one `it` per contract case, from Node's built-in
 * test runner. Skips go through `t.skip(reason)`, notes through `t.diagnostic`.
 *
 * @packageDocumentation
 */
import { describe, it } from 'node:test';
import { transportContract } from '../cases.js';
import { runContractCase } from '../run-case.js';
import { type ContractOptions, type ContractSetup, ContractSkip } from '../types.js';

/**
 * Registers the transport contract suite (a node:test `describe`) for the transport that `setup`
 * builds. Call it at the top level of a test file and run it with `node --test`.
 *
 * @example
 * import { describeTransportContract } from '@agent-trace/trace-sdk-testing/contract/node-test';
 * describeTransportContract('my-transport', (ctx) => ({ transport: myTransport(ctx), ...ctx.objects }));
 */
export function describeTransportContract(
  name: string,
  setup: ContractSetup,
  options?: ContractOptions,
): void {
  const contract = transportContract(name, setup, options);
  describe(contract.title, () => {
    for (const c of contract.cases) {
      if (c.skipReason !== undefined) {
        it(c.name, { skip: c.skipReason }, () => {});
        continue;
      }
      it(c.name, { timeout: c.timeoutMs }, async (t) => {
        await runContractCase(c, {
          skip(reason) {
            t.skip(reason); // marks the test skipped but returns: end the case ourselves
            throw new ContractSkip(reason);
          },
          note: (message) => t.diagnostic(message),
        });
      });
    }
  });
}
