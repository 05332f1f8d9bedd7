/**
 * `@agent-trace/trace-sdk-testing/contract`: the transport contract suite for vitest (an optional
 * peer dependency, imported only here).
 *
 * @packageDocumentation
 */
export { CONTRACT_BUCKET, localS3Reader } from './context.js';
export { largeFileArtifact, randomTaskId, sampleArtifact, sampleBody, stallingArtifact } from './fixtures.js';
export {
  DEFAULT_MAX_MEMORY_GROWTH_BYTES,
  describeTransportContract,
  LARGE_BODY_BYTES,
  PARALLEL_UPLOADS,
} from './suite.js';
export {
  type Capability,
  type ContractContext,
  type ContractSetup,
  type ContractTarget,
  type ObjectReader,
  type StoredObjectHeaders,
  type TransportCapabilities,
  type Unsupported,
  unsupported,
} from './types.js';
