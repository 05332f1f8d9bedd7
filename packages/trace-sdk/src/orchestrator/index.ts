/**
 * `@agent-trace/trace-sdk/orchestrator`: what the orchestrator uses to let a runtime upload one
 * trace without S3 permissions: presigned PUT URLs scoped to one exact key, and upload grants
 * for the uploader Lambda.
 *
 * @packageDocumentation
 */
export * from '../protocol/grant.js';
export * from '../protocol/presign.js';
