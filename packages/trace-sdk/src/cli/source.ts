/**
 * Where a command's trace bytes come from: a file, stdin (`-` or nothing), or `s3://bucket/key`.
 *
 * @packageDocumentation
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type AwsOptions, readerS3Client } from './aws.js';
import { usageError } from './errors.js';
import type { CliIo } from './io.js';

/** An opened input. */
export interface OpenedSource {
  /** For messages: the path, `stdin`, or the `s3://` URI. */
  readonly name: string;
  readonly stream: Readable;
  /** Size in bytes when known up front (files, S3 objects). */
  readonly size: number | undefined;
  /** For S3 objects: the object key, trusted attribution of the trace (see `traceAttribution`). */
  readonly key?: string | undefined;
  /** For S3 objects: the user metadata GetObject returned (trusted attribution, when written by the orchestrator or uploader Lambda). */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** Releases the file handle or connection, read to the end or not. Idempotent. */
  close(): void;
}

/** Splits `s3://bucket/key` (the key may contain `/`). */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (match === null) throw usageError(`Not an S3 URI (expected s3://bucket/key): ${uri.split('?')[0]}`);
  return { bucket: match[1]!, key: match[2]! };
}

/**
 * Opens `spec`. A missing file fails here (exit 3) rather than midway; an S3 object is fetched with
 * GetObject and streamed, never buffered whole.
 */
export async function openSource(
  spec: string | undefined,
  io: CliIo,
  aws: AwsOptions = {},
): Promise<OpenedSource> {
  if (spec === undefined || spec === '-') {
    // stdin belongs to the process: leave it open for whoever reads it next.
    return { name: 'stdin', stream: io.stdin, size: undefined, close: () => {} };
  }
  if (spec.startsWith('s3://')) {
    const { bucket, key } = parseS3Uri(spec);
    const s3 = await readerS3Client(aws, io.env);
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const stream = response.Body as Readable | undefined;
    if (stream === undefined) throw usageError(`Empty response for ${spec}`);
    stream.once('close', () => s3.destroy());
    return {
      name: spec,
      stream,
      size: response.ContentLength,
      key,
      metadata: response.Metadata ?? {},
      close: () => stream.destroy(),
    };
  }
  const handle = await open(spec, 'r');
  try {
    const { size } = await handle.stat();
    const stream = handle.createReadStream();
    return { name: spec, stream, size, close: () => stream.destroy() };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
