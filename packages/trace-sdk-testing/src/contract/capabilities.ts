/**
 * Capabilities a transport may lack: their names, how a skip reason reads, and validation of what
 * `setup` (or the options) declared.
 *
 * @packageDocumentation
 */
import type { TransportCapabilities } from './types.js';

export type CapabilityName = Exclude<keyof TransportCapabilities, 'maxMemoryGrowthBytes'>;
export const CAPABILITY_NAMES: readonly CapabilityName[] = [
  'networkFaults',
  'refreshOnExpiry',
  'contentHeaders',
  'userScoped',
  'largeBody',
  'attribution',
];

/** Throws a TypeError naming `where` when a declared capability is malformed. */
export function validateCapabilities(where: string, capabilities: TransportCapabilities | undefined): void {
  for (const [capability, value] of Object.entries(capabilities ?? {})) {
    if (capability === 'maxMemoryGrowthBytes') {
      if (value !== undefined && !(typeof value === 'number' && value > 0)) {
        throw new TypeError(`${where}: capabilities.maxMemoryGrowthBytes must be a positive number`);
      }
      continue;
    }
    const reason = (value as { unsupported?: unknown } | undefined)?.unsupported;
    if (value !== undefined && value !== true && !(typeof reason === 'string' && reason.trim() !== '')) {
      throw new TypeError(`${where}: capabilities.${capability} must be true or unsupported('why')`);
    }
  }
}

const WHAT: Record<CapabilityName, string> = {
  networkFaults: 'network fault injection',
  refreshOnExpiry: 'refreshing an expired URL',
  contentHeaders: 'stored content headers',
  userScoped: 'per-user scoping',
  largeBody: 'large bodies',
  attribution: 'attribution metadata',
};

/** `<name> does not support <what>: <reason>` when `capability` is declared unsupported, else undefined. */
export function reasonUnsupported(
  name: string,
  capabilities: TransportCapabilities | undefined,
  capability: CapabilityName,
): string | undefined {
  const value = capabilities?.[capability];
  return value !== undefined && value !== true
    ? `${name} does not support ${WHAT[capability]}: ${value.unsupported}`
    : undefined;
}
