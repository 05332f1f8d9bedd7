/**
 * `@agent-trace/trace-sdk`: what an agent runtime imports.
 *
 * record → serialize → compress → spool → upload.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './key.js';
export * from './upload/artifact.js';
export * from './upload/types.js';
export * from './serialize/redact.js';
