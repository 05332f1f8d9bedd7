/**
 * `@agent-trace/trace-sdk-testing/contract`: the transport contract suite for vitest (an optional
 * peer dependency, imported only here). The same suite for jest is `./contract/jest`, for
 * node:test `./contract/node-test`, and without a runner `./contract/core`.
 *
 * @packageDocumentation
 */
export { describeTransportContract } from './bindings/vitest.js';
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
