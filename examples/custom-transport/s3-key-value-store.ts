/**
 * A {@link KeyValueStore} over any S3-compatible API, standing in for "your own store". The
 * contract test points it at the testing package's local S3, so the suite can inject network
 * faults (500, 503 SlowDown, connection resets, a hung server) between the transport and its store.
 */
import type { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KeyValueStore } from './key-value-transport.ts';

/** Stores values as objects of `bucket`, through a configured client (give it `maxAttempts: 1`). */
export function s3KeyValueStore(client: S3Client, bucket: string): KeyValueStore {
  return {
    async put(key: string, body: Readable, meta, { signal }) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentLength: meta.byteLength,
            ContentType: meta.contentType,
            ChecksumSHA256: Buffer.from(meta.sha256, 'hex').toString('base64'),
          }),
          { abortSignal: signal },
        );
      } catch (error) {
        // Surface the HTTP status and Retry-After the way the transport expects.
        const sdkError = error as {
          $metadata?: { httpStatusCode?: number };
          $response?: { headers?: Record<string, string> };
        };
        const retryAfter = Number(sdkError.$response?.headers?.['retry-after']);
        throw Object.assign(new Error(`store put failed: ${(error as Error).name}`, { cause: error }), {
          status: sdkError.$metadata?.httpStatusCode,
          retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
        });
      }
    },
  };
}
