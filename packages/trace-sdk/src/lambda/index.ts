/**
 * `@agent-trace/trace-sdk/lambda`: the uploader Lambda's handler and its request/response protocol.
 *
 * @packageDocumentation
 */

export * from '../protocol/lambda-messages.js';
export * from './handler.js';
