/**
 * `@agent-trace/trace-sdk-testing/contract/node-test`: the transport contract suite for Node's
 * built-in test runner (`node --test`).
 *
 * @packageDocumentation
 */
export { describeTransportContract } from './bindings/node-test.js';
export {
  ABORT_SETTLE_MS,
  type Capability,
  CONTRACT_BUCKET,
  type ContractAttribution,
  type ContractContext,
  type ContractOptions,
  type ContractSetup,
  type ContractTarget,
  DEFAULT_MAX_MEMORY_GROWTH_BYTES,
  LARGE_BODY_BYTES,
  largeFileArtifact,
  localS3Reader,
  type ObjectReader,
  PARALLEL_UPLOADS,
  randomTaskId,
  type StoredObjectHeaders,
  sampleArtifact,
  sampleBody,
  stallingArtifact,
  type TransportCapabilities,
  type Unsupported,
  unsupported,
} from './core.js';
