/**
 * Running one contract case from a binding: a skip signalled with {@link ContractSkip} ends the
 * case quietly (the binding already told its runner); anything else propagates as the failure.
 *
 * @packageDocumentation
 */
import { type ContractCase, ContractSkip, type ContractTestContext } from './types.js';

/** Runs `c` with the binding's context; resolves when it passed or was skipped. */
export async function runContractCase(c: ContractCase, t: ContractTestContext): Promise<void> {
  try {
    await c.run(t);
  } catch (error) {
    if (error instanceof ContractSkip) return;
    throw error;
  }
}
