/**
 * `@agent-trace/trace-sdk/lambda`: the uploader Lambda's handler and its request/response protocol.
 *
 * @packageDocumentation
 */
export * from './handler.js';
export * from './protocol.js';
