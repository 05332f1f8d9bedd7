/**
 * The artifact header: the first line of every trace, with the final counts. Compressed as its own
 * gzip member and prepended at `finish`, so `zcat trace.jsonl.gz | head -1` shows it.
 *
 * @packageDocumentation
 */
import { SDK_NAME, SDK_VERSION } from '../version.js';
import { TRAJECTORY_ARTIFACT_HEADER } from './events.js';

/** Version of the artifact format written in `schema_version`. */
export const SCHEMA_VERSION = 1;

/**
 * The header line. The first six fields are the Python agent's; the rest are new in this SDK.
 * Field order is fixed.
 */
export interface ArtifactHeader {
  readonly event: typeof TRAJECTORY_ARTIFACT_HEADER;
  readonly task_id: string;
  /** Event lines kept (the lines after this one). */
  readonly accumulated_events: number;
  /**
   * UTF-8 bytes of the kept event lines, newlines **not** counted (the header line excluded): the
   * Python agent's `sum(len(json.dumps(e).encode()))` over the lines as written.
   */
  readonly accumulated_bytes: number;
  /** Events not written because they did not fit under `max_bytes`. */
  readonly dropped: number;
  readonly max_bytes: number;
  readonly schema_version: typeof SCHEMA_VERSION;
  readonly user_id: string;
  /** When the recorder was created (ISO 8601). */
  readonly started_at: string;
  /** When `finish` was called (ISO 8601). */
  readonly finished_at: string;
  readonly sdk: { readonly name: string; readonly version: string };
  /** Secrets replaced by redaction in the kept lines. */
  readonly redactions: number;
  /** Strings cut by per-field truncation (or to fit the per-event limit) in the kept lines. */
  readonly truncated_fields: number;
  /** Who ran the task, when the recorder was told. */
  readonly attribution?: { readonly operator: string };
  /** Present (always `true`) on a checkpoint upload: the trace so far; the final upload replaces it. */
  readonly partial?: true;
  /** Which checkpoint of the recording this is (1, 2, ...), on a checkpoint upload. */
  readonly checkpoint?: number;
}

/** The counts and identity a header is built from. */
export interface HeaderInput {
  readonly userId: string;
  readonly taskId: string;
  readonly events: number;
  /** UTF-8 bytes of the kept events' JSON, without their newlines (the Python agent's sum). */
  readonly bytes: number;
  readonly dropped: number;
  readonly maxBytes: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly redactions: number;
  readonly truncatedFields: number;
  readonly operator?: string | undefined;
  /** Set for a checkpoint upload: its ordinal. The header then says `partial: true`. */
  readonly checkpoint?: number | undefined;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/** Builds the header object. */
export function buildHeader(h: HeaderInput): ArtifactHeader {
  const header: ArtifactHeader = {
    event: TRAJECTORY_ARTIFACT_HEADER,
    task_id: h.taskId,
    accumulated_events: h.events,
    accumulated_bytes: h.bytes,
    dropped: h.dropped,
    max_bytes: h.maxBytes,
    schema_version: SCHEMA_VERSION,
    user_id: h.userId,
    started_at: iso(h.startedAt),
    finished_at: iso(h.finishedAt),
    sdk: { name: SDK_NAME, version: SDK_VERSION },
    redactions: h.redactions,
    truncated_fields: h.truncatedFields,
  };
  const attributed = h.operator === undefined ? header : { ...header, attribution: { operator: h.operator } };
  return h.checkpoint === undefined ? attributed : { ...attributed, partial: true, checkpoint: h.checkpoint };
}

/** The header as one JSONL line, trailing newline included. */
export function headerLine(h: HeaderInput): string {
  return `${JSON.stringify(buildHeader(h))}\n`;
}
