/**
 * What every contract case is built from ({@link CaseKit}): a fresh world per case, capability
 * checks, and the few helpers the cases share. Made by `transportContract` for one transport.
 *
 * @packageDocumentation
 */
import { type TraceArtifact, type TraceTransport, userPrefix } from '@agent-trace/trace-sdk';
import type { FaultInjector, FaultMatch } from '../local-s3/faults.js';
import type { CapabilityName } from './capabilities.js';
import type { ContractWorld } from './context.js';
import type {
  ContractCase,
  ContractContext,
  ContractTarget,
  ContractTestContext,
  TransportCapabilities,
} from './types.js';

/** One case's world: its context, the first target, and how to make more targets in it. */
export interface Prepared {
  readonly world: ContractWorld;
  readonly ctx: ContractContext;
  readonly target: ContractTarget;
  /** Calls `setup` again (the parallel case), for a context derived from the same world. */
  make(ctx: ContractContext): Promise<ContractTarget>;
}

/** The pieces the case modules use. */
export interface CaseKit {
  /** The transport's name. */
  readonly name: string;
  /** Capabilities declared up front, in the options. */
  readonly declared: TransportCapabilities;
  /** A case with a fresh world that skips what the target lacks and always cleans up. */
  defineCase(
    caseName: string,
    requires: readonly CapabilityName[],
    body: (p: Prepared, t: ContractTestContext) => Promise<void>,
    opts?: { timeoutMs?: number; onDisk?: boolean },
  ): ContractCase;
  /** Skips the running case, or fails saying what to declare where the runner cannot skip. */
  skip(t: ContractTestContext, reason: string): never;
  /** `<name> does not support <what>: <reason>`, or undefined when supported. */
  unsupportedReason(
    capabilities: TransportCapabilities | undefined,
    capability: CapabilityName,
  ): string | undefined;
  /** The skip reason of the attribution case when the transport declared nothing. */
  readonly undeclaredAttribution: string;
}

/** Where the case's network faults go: the target's injector, or the local S3 for the user's prefix. */
export function faultsFor(
  ctx: ContractContext,
  target: ContractTarget,
): { injector: FaultInjector; match?: FaultMatch } {
  return target.faults ?? { injector: ctx.s3.faults, match: { keyPrefix: userPrefix(ctx.userId) } };
}

/** How many times `key` was written: the target's count, or the local S3's storing requests. */
export function writes(ctx: ContractContext, target: ContractTarget, key: string): number {
  return target.writes !== undefined
    ? target.writes(key)
    : ctx.s3.requests.filter((r) => r.stored && r.key === key).length;
}

/** `transport.upload` with the signal, when there is one. */
export const upload = (transport: TraceTransport, artifact: TraceArtifact, signal?: AbortSignal) =>
  transport.upload(artifact, signal === undefined ? {} : { signal });
