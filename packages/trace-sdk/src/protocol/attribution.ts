/**
 * Attribution the runtime cannot forge: who a trace belongs to (user, task) and, optionally,
 * which human operator and session started it. The trusted side (the orchestrator signing a
 * presigned URL, or the uploader Lambda) writes it as S3 user metadata on the stored object;
 * everything inside the artifact, header included, is only what the runtime claims.
 *
 * Metadata (names as the AWS SDK's `Metadata` map holds them; on the wire each is prefixed
 * `x-amz-meta-`):
 * - `agent-trace-user-id`, `agent-trace-task-id`: the ids of the key, percent-encoded where not
 *   printable ASCII (S3 metadata travels in HTTP headers);
 * - `agent-trace-operator`: the operator, an STS-clean `SourceIdentity`, when stated;
 * - `agent-trace-session-id`: the session id, when stated;
 * - `agent-trace-attribution`: who wrote it: `presigned-url` (signed into a presigned URL by the
 *   orchestrator, or by the uploader Lambda's `presign` route from a verified grant's claims),
 *   `uploader-lambda` (written by the Lambda from a verified grant), or `unattributed` (the
 *   legacy transport, whose runtime writes its own metadata).
 *
 * @packageDocumentation
 */
import { AttributionError } from '../errors.js';
import { isValidId } from '../key.js';

/** S3 user-metadata names (without `x-amz-meta-`) that carry trusted attribution. */
export const ATTRIBUTION_METADATA = {
  userId: 'agent-trace-user-id',
  taskId: 'agent-trace-task-id',
  operator: 'agent-trace-operator',
  sessionId: 'agent-trace-session-id',
  source: 'agent-trace-attribution',
} as const;

/** Who wrote an object's attribution metadata. */
export type AttributionSource = 'presigned-url' | 'uploader-lambda' | 'unattributed';

/** What the orchestrator may state beyond the key when it authorizes an upload. */
export interface AttributionClaims {
  /**
   * The human operator the session runs for, validated like STS `SourceIdentity`: 2–64
   * characters of `[A-Za-z0-9_+=,.@-]`, not starting with `aws:`.
   */
  readonly operator?: string | undefined;
  /** The agent session id: 1–256 characters of `[A-Za-z0-9._:@+=,/-]`. */
  readonly sessionId?: string | undefined;
}

/** Attribution of one stored trace as the trusted side stated it. */
export interface TraceAttribution extends AttributionClaims {
  readonly userId: string;
  readonly taskId: string;
}

/** STS `SourceIdentity`: 2–64 characters of upper/lowercase alphanumerics and `_+=,.@-`. */
const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;
const SESSION_ID = /^[A-Za-z0-9._:@+=,/-]{1,256}$/;
/** S3 allows at most 2 KB of user-defined metadata (names and values, UTF-8). */
export const MAX_S3_USER_METADATA_BYTES = 2048;

/**
 * Whether `operator` is a value STS accepts as `SourceIdentity` (so the same name can be bound
 * in CloudTrail): 2–64 characters of `[A-Za-z0-9_+=,.@-]`, and not the reserved `aws:` prefix.
 */
export function isValidOperator(operator: unknown): operator is string {
  return typeof operator === 'string' && SOURCE_IDENTITY.test(operator) && !/^aws:/i.test(operator);
}

/**
 * Checks the optional claims; returns them trimmed of `undefined`s.
 *
 * @throws {@link AttributionError} `invalid_operator` | `invalid_session_id`. Messages do not
 *   repeat the value (it may be a typo of a secret).
 */
export function checkAttributionClaims(claims: AttributionClaims | undefined): AttributionClaims {
  const out: { operator?: string; sessionId?: string } = {};
  if (claims?.operator !== undefined) {
    if (!isValidOperator(claims.operator)) {
      throw new AttributionError(
        'invalid_operator',
        'operator must be a valid STS SourceIdentity: 2-64 characters of [A-Za-z0-9_+=,.@-], not starting with "aws:"',
      );
    }
    out.operator = claims.operator;
  }
  if (claims?.sessionId !== undefined) {
    if (typeof claims.sessionId !== 'string' || !SESSION_ID.test(claims.sessionId)) {
      throw new AttributionError(
        'invalid_session_id',
        'sessionId must be 1-256 characters of [A-Za-z0-9._:@+=,/-]',
      );
    }
    out.sessionId = claims.sessionId;
  }
  return out;
}

/** Percent-encodes every byte outside printable ASCII (and `%` itself), so any valid id fits a header. */
export function encodeMetadataValue(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (code > 0x20 && code < 0x7f && ch !== '%') out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of {@link encodeMetadataValue}; `undefined` for a value that does not decode. */
export function decodeMetadataValue(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * The S3 `Metadata` map (names without `x-amz-meta-`) stating `attribution`, written by `source`.
 *
 * @throws {@link AttributionError} for invalid claims or metadata beyond S3's 2 KB.
 */
export function attributionMetadata(
  attribution: TraceAttribution,
  source: Exclude<AttributionSource, 'unattributed'>,
): Record<string, string> {
  const claims = checkAttributionClaims(attribution);
  const metadata: Record<string, string> = {
    [ATTRIBUTION_METADATA.userId]: encodeMetadataValue(attribution.userId),
    [ATTRIBUTION_METADATA.taskId]: encodeMetadataValue(attribution.taskId),
    [ATTRIBUTION_METADATA.source]: source,
  };
  if (claims.operator !== undefined) metadata[ATTRIBUTION_METADATA.operator] = claims.operator;
  if (claims.sessionId !== undefined) metadata[ATTRIBUTION_METADATA.sessionId] = claims.sessionId;
  const bytes = Object.entries(metadata).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
    0,
  );
  if (bytes > MAX_S3_USER_METADATA_BYTES) {
    throw new AttributionError(
      'too_large',
      `the attribution needs ${bytes} bytes of S3 metadata; S3 allows ${MAX_S3_USER_METADATA_BYTES}`,
    );
  }
  return metadata;
}

/** The metadata the legacy transport writes: it marks its objects as carrying no trusted attribution. */
export const UNATTRIBUTED_METADATA: Readonly<Record<string, string>> = Object.freeze({
  [ATTRIBUTION_METADATA.source]: 'unattributed',
});

/** Attribution read back from an object's metadata. */
export type StoredAttribution =
  | ({ readonly source: Exclude<AttributionSource, 'unattributed'> } & TraceAttribution)
  | { readonly source: 'unattributed' };

/**
 * Reads attribution from an object's user metadata, as `HeadObject`/`GetObject` return it
 * (`Metadata`, names lowercased without `x-amz-meta-`; a map with the prefix is accepted too).
 * Returns `undefined` when the object carries none, or carries a malformed one.
 */
export function readAttributionMetadata(
  metadata: Readonly<Record<string, string | undefined>> | undefined,
): StoredAttribution | undefined {
  if (metadata === undefined || metadata === null) return undefined;
  const get = (name: string): string | undefined => {
    for (const [key, value] of Object.entries(metadata)) {
      const k = key.toLowerCase();
      if (k === name || k === `x-amz-meta-${name}`) return value;
    }
    return undefined;
  };
  const source = get(ATTRIBUTION_METADATA.source);
  if (source === 'unattributed') return { source };
  if (source !== 'presigned-url' && source !== 'uploader-lambda') return undefined;
  const rawUser = get(ATTRIBUTION_METADATA.userId);
  const rawTask = get(ATTRIBUTION_METADATA.taskId);
  const userId = rawUser === undefined ? undefined : decodeMetadataValue(rawUser);
  const taskId = rawTask === undefined ? undefined : decodeMetadataValue(rawTask);
  if (!isValidId(userId) || !isValidId(taskId)) return undefined;
  const operator = get(ATTRIBUTION_METADATA.operator);
  const sessionId = get(ATTRIBUTION_METADATA.sessionId);
  if (operator !== undefined && !isValidOperator(operator)) return undefined;
  if (sessionId !== undefined && !SESSION_ID.test(sessionId)) return undefined;
  return {
    source,
    userId,
    taskId,
    ...(operator !== undefined ? { operator } : {}),
    ...(sessionId !== undefined ? { sessionId } : {}),
  };
}
