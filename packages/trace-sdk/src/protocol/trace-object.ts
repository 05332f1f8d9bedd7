/**
 * What a stored trace object looks like on the wire, for both sides: the runtime that uploads it
 * and the orchestrator or uploader Lambda that authorizes the write.
 *
 * @packageDocumentation
 */

/** Content type of every trace object. Never paired with a `Content-Encoding` header. */
export const TRACE_CONTENT_TYPE = 'application/gzip' as const;
