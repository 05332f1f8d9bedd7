/**
 * S3 helpers the examples' "reader" side uses.
 *
 * @packageDocumentation
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Whether `key` exists in `bucket`. Only a 404 means "no": any other failure is thrown. */
export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}
