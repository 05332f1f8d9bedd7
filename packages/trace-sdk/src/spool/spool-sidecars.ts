/**
 * The sidecar formats of a spool directory and their validation: `<stem>.json` describing a spooled
 * artifact, and the spill file's sidecar. Every sidecar is read as untrusted input.
 *
 * @packageDocumentation
 */
import { parseTraceKey } from '../key.js';
import type { PartSidecar } from './event-spool.js';

/** Why the last upload attempt of a spooled artifact failed. */
export interface SpooledLastError {
  readonly code: string;
  readonly message: string;
}

/** The sidecar of a spooled artifact (`<stem>.json`). */
export interface SpooledSidecar {
  readonly version: 1;
  /** Object key to upload the body at. */
  readonly key: string;
  /** Lowercase hex SHA-256 of the body; verified before every upload. */
  readonly sha256: string;
  readonly byteLength: number;
  /** Name of the transport that failed (or `spool-recovery` for a recovered spill file). */
  readonly transport: string;
  /** When the artifact was spooled (ISO 8601). */
  readonly createdAt: string;
  /** Upload attempts made so far. */
  readonly attempts?: number | undefined;
  readonly lastError?: SpooledLastError | undefined;
  /** True when the body was rebuilt from a killed recorder's spill file. */
  readonly recovered?: boolean | undefined;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Validates a parsed artifact sidecar; undefined when it is not one. */
export function parseSpooledSidecar(value: unknown): SpooledSidecar | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v['version'] !== 1 || typeof v['key'] !== 'string') return undefined;
  try {
    parseTraceKey(v['key']);
  } catch {
    return undefined;
  }
  if (typeof v['sha256'] !== 'string' || !SHA256_HEX.test(v['sha256'])) return undefined;
  if (!Number.isSafeInteger(v['byteLength']) || (v['byteLength'] as number) < 0) return undefined;
  if (typeof v['transport'] !== 'string' || typeof v['createdAt'] !== 'string') return undefined;
  if (
    v['attempts'] !== undefined &&
    (!Number.isSafeInteger(v['attempts']) || (v['attempts'] as number) < 0)
  ) {
    return undefined;
  }
  return value as SpooledSidecar;
}

/** Validates a parsed spill-file sidecar; undefined when it is not one. */
export function parsePartSidecar(value: unknown): PartSidecar | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v['version'] !== 1 || typeof v['key'] !== 'string' || !Number.isSafeInteger(v['pid'])) return undefined;
  if (typeof v['startedAt'] !== 'string') return undefined;
  if (v['hostname'] !== undefined && typeof v['hostname'] !== 'string') return undefined;
  try {
    parseTraceKey(v['key']);
  } catch {
    return undefined;
  }
  return value as PartSidecar;
}
