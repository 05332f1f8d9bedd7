/**
 * `@agent-trace/trace-sdk-testing`: test agents and trace transports without AWS.
 *
 * - {@link startLocalS3}: an S3-compatible server on 127.0.0.1 that verifies SigV4 like S3, with
 *   fault injection and request records.
 * - {@link startLocalLambda}: the Lambda Invoke API around an in-process handler.
 * - {@link mockPresignedPut} / {@link nockPresignedPut}: HTTP mocks for unit tests.
 * - The transport contract suite lives in the `./contract` subpath (it imports vitest).
 *
 * @packageDocumentation
 */
export * from './local-lambda/index.js';
export * from './local-s3/index.js';
export * from './mocks.js';
