/**
 * The vitest binding: one `describe` with one `it` per contract case. Uses only `describe`, `it`
 * and the test context's `skip`; notes go to `t.annotate` where vitest has it (3.2+)
 * and to the console otherwise.
 *
 * @packageDocumentation
 */
import { describe, it } from 'vitest';
import { transportContract } from '../cases.js';
import { runContractCase } from '../run-case.js';
import { type ContractOptions, type ContractSetup, ContractSkip } from '../types.js';

/** The parts of vitest's test context the binding uses, typed loosely to span vitest versions. */
interface VitestContext {
  skip(note?: string): void;
  annotate?: (message: string) => Promise<unknown>;
}

/**
 * Registers the transport contract suite (a vitest `describe`) for the transport that `setup`
 * builds. Call it at the top level of a test file:
 *
 * @example
 * import { describeTransportContract, unsupported } from '@agent-trace/trace-sdk-testing/contract';
 * describeTransportContract('my-transport', (ctx) => ({
 *   transport: myTransport({ endpoint: ctx.s3.endpoint, bucket: ctx.bucket, credentials: ctx.userCredentials }),
 *   ...ctx.objects,
 * }));
 *
 * See `transportContract` (`./contract/core`) for the cases.
 */
export function describeTransportContract(
  name: string,
  setup: ContractSetup,
  options?: ContractOptions,
): void {
  const contract = transportContract(name, setup, options);
  describe(contract.title, () => {
    for (const c of contract.cases) {
      const skipReason = c.skipReason;
      if (skipReason !== undefined) {
        // Skipped from inside, so the name stays the case's and the reason shows as its note.
        it(c.name, (context) => (context as unknown as VitestContext).skip(skipReason));
        continue;
      }
      it(
        c.name,
        async (context) => {
          const t = context as unknown as VitestContext;
          await runContractCase(c, {
            skip(reason) {
              t.skip(reason);
              throw new ContractSkip(reason); // vitest's skip throws first; this is for the types
            },
            async note(message) {
              if (typeof t.annotate === 'function') await t.annotate(message);
              else console.info(`[${contract.title} > ${c.name}] ${message}`);
            },
          });
        },
        c.timeoutMs,
      );
    }
  });
}
