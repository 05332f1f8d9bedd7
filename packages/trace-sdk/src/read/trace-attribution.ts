/**
 * Telling trusted attribution from claimed: the object key and the metadata the orchestrator or
 * uploader Lambda wrote are trusted; the artifact's header is whatever the runtime wrote.
 *
 * @packageDocumentation
 */
import { parseTraceKey, type TraceKeyParts } from '../key.js';
import { readAttributionMetadata, type StoredAttribution } from '../protocol/attribution.js';

/** Where a reader may find trusted attribution for a trace it reads. */
export interface TrustedTraceContext {
  /** The object key the trace was read from (`traces/<user>/<task>.jsonl.gz`). */
  readonly key?: string | undefined;
  /**
   * The object's user metadata, as S3 `HeadObject`/`GetObject` return it (`Metadata`). Trusted
   * only when no runtime holds `s3:PutObject` on the prefix (see docs/security-model.md).
   */
  readonly metadata?: Readonly<Record<string, string | undefined>> | undefined;
}

/** Attribution from the trusted side: the key, and the metadata when the object carries it. */
export interface TrustedAttribution {
  /**
   * `presigned-url` / `uploader-lambda` when metadata stated it, `key` when only the key did (never
   * for an object marked `unattributed`: its runtime held bucket-wide writes and chose the key).
   */
  readonly source: 'presigned-url' | 'uploader-lambda' | 'key';
  readonly userId: string;
  readonly taskId: string;
  readonly operator?: string | undefined;
  readonly sessionId?: string | undefined;
}

/** What the artifact's header claims (runtime-written, untrusted). */
export interface ClaimedAttribution {
  readonly userId?: unknown;
  readonly taskId?: unknown;
  readonly operator?: unknown;
}

/** The comparison of trusted and claimed attribution. */
export interface TraceAttributionReport {
  /**
   * - `attested`: metadata written by the trusted side, and the header agrees with it;
   * - `key-only`: no attribution metadata, the header agrees with the key;
   * - `unattributed`: the object was written by the legacy transport (its runtime chose the metadata
   *   and the key, so nothing is trusted; the header is still compared with the key);
   * - `unknown`: neither key nor metadata was given;
   * - `mismatch`: the header, key or metadata disagree (see `mismatches`).
   */
  readonly status: 'attested' | 'key-only' | 'unattributed' | 'unknown' | 'mismatch';
  /** Trusted attribution, when a key or metadata gave it (none for an `unattributed` object). */
  readonly trusted: TrustedAttribution | undefined;
  /** What the header claims. */
  readonly claimed: ClaimedAttribution;
  /** One sentence per disagreement. */
  readonly mismatches: readonly string[];
}

/**
 * A claimed value for a message: JSON-quoted, with every control, format (bidi) and C1 character
 * escaped, since the header is runtime-written and messages reach terminals.
 */
const show = (value: unknown): string =>
  value === undefined
    ? 'nothing'
    : (JSON.stringify(value) ?? String(value)).replace(
        /[\p{Cc}\p{Cf}\u2028\u2029]/gu,
        (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
      );

/**
 * Compares a trace header's claims with the trusted key and metadata.
 *
 * @example
 * const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
 * const report = traceAttribution(header, { key: Key, metadata: head.Metadata });
 * if (report.status === 'mismatch') throw new Error(report.mismatches.join('; '));
 */
export function traceAttribution(
  header: Readonly<Record<string, unknown>> | undefined,
  context: TrustedTraceContext = {},
): TraceAttributionReport {
  const mismatches: string[] = [];
  let fromKey: TraceKeyParts | undefined;
  if (context.key !== undefined) {
    try {
      fromKey = parseTraceKey(context.key);
    } catch {
      mismatches.push(`the key ${JSON.stringify(context.key)} is not a trace key`);
    }
  }
  const stored: StoredAttribution | undefined = readAttributionMetadata(context.metadata);
  const unattributed = stored?.source === 'unattributed';
  // What the header is compared with: the trusted attribution, or for an unattributed object the
  // key alone, which its runtime chose (a disagreement is still a mismatch, never "trusted").
  let reference: TrustedAttribution | undefined;
  if (stored !== undefined && stored.source !== 'unattributed') {
    reference = stored;
    if (fromKey !== undefined && (fromKey.userId !== stored.userId || fromKey.taskId !== stored.taskId)) {
      mismatches.push(
        `the metadata names user ${show(stored.userId)} task ${show(stored.taskId)}, the key user ${show(fromKey.userId)} task ${show(fromKey.taskId)}`,
      );
    }
  } else if (fromKey !== undefined) {
    reference = { source: 'key', ...fromKey };
  }
  const trusted = unattributed ? undefined : reference;
  const named = (what: string, value: unknown) =>
    trusted === undefined
      ? `the key of this unattributed object names ${what} ${show(value)}`
      : `the trusted ${what} is ${show(value)}`;

  const attribution = header?.['attribution'];
  const claimedOperator =
    attribution !== null && typeof attribution === 'object'
      ? (attribution as Record<string, unknown>)['operator']
      : undefined;
  const claimed: ClaimedAttribution = {
    ...(header?.['user_id'] !== undefined ? { userId: header['user_id'] } : {}),
    ...(header?.['task_id'] !== undefined ? { taskId: header['task_id'] } : {}),
    ...(claimedOperator !== undefined ? { operator: claimedOperator } : {}),
  };

  if (reference !== undefined && header !== undefined) {
    if (claimed.taskId !== reference.taskId) {
      mismatches.push(`the header claims task ${show(claimed.taskId)}, ${named('task', reference.taskId)}`);
    }
    // Older artifacts (the Python agent) carry no user_id; a present one must agree.
    if (claimed.userId !== undefined && claimed.userId !== reference.userId) {
      mismatches.push(`the header claims user ${show(claimed.userId)}, ${named('user', reference.userId)}`);
    }
    if (
      reference.operator !== undefined &&
      claimed.operator !== undefined &&
      claimed.operator !== reference.operator
    ) {
      mismatches.push(
        `the header claims operator ${show(claimed.operator)}, ${named('operator', reference.operator)}`,
      );
    }
  }

  let status: TraceAttributionReport['status'];
  if (mismatches.length > 0) status = 'mismatch';
  else if (unattributed) status = 'unattributed';
  else if (trusted === undefined) status = 'unknown';
  else status = trusted.source === 'key' ? 'key-only' : 'attested';
  return { status, trusted, claimed, mismatches };
}
