/**
 * `@agent-trace/trace-sdk-testing/contract/core`: the transport contract suite without a test
 * runner. {@link transportContract} returns the cases as data; the `./contract` (vitest),
 * `./contract/jest` and `./contract/node-test` entries register them with their runner, and
 * another runner needs only a few lines (see the README).
 *
 * @packageDocumentation
 */
export {
  type ContractBinding,
  DEFAULT_MAX_MEMORY_GROWTH_BYTES,
  LARGE_BODY_BYTES,
  PARALLEL_UPLOADS,
  transportContract,
} from './cases.js';
export { CONTRACT_BUCKET, localS3Reader } from './context.js';
export { largeFileArtifact, randomTaskId, sampleArtifact, sampleBody, stallingArtifact } from './fixtures.js';
export { runContractCase } from './run-case.js';
export {
  type Capability,
  type ContractAttribution,
  type ContractCase,
  type ContractContext,
  type ContractOptions,
  type ContractSetup,
  ContractSkip,
  type ContractTarget,
  type ContractTestContext,
  type ObjectReader,
  type StoredObjectHeaders,
  type TransportCapabilities,
  type TransportContract,
  type Unsupported,
  unsupported,
} from './types.js';
export { ABORT_SETTLE_MS } from './upload-checks.js';
