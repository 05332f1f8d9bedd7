/**
 * Structural stand-ins for the AWS SDK clients the transports accept. The root entry's
 * declarations must compile in a project that installed none of the optional `@aws-sdk/*` peers
 * (presigned PUT needs no AWS SDK), so option types name these instead of `S3Client` and
 * `LambdaClient`. Any AWS SDK v3 client of the right service satisfies them; the transports use it
 * as that client.
 *
 * @packageDocumentation
 */

/** What the transports call on an AWS SDK v3 client: `send(command, { abortSignal })` and `destroy()`. */
interface AwsClientLike {
  send(command: unknown, options?: unknown): Promise<unknown>;
  destroy(): void;
}

/** An `S3Client` from `@aws-sdk/client-s3` (v3), typed structurally. */
export interface S3ClientLike extends AwsClientLike {}

/** A `LambdaClient` from `@aws-sdk/client-lambda` (v3), typed structurally. */
export interface LambdaClientLike extends AwsClientLike {}
