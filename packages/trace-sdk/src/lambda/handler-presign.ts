/**
 * Presigning: the uploader Lambda's `presign`. Answers a short-lived presigned PUT for the key
 * derived from the grant, with the exact size, SHA-256 and attribution signed in, and never longer
 * lived than the grant.
 *
 * @packageDocumentation
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { AttributionError } from '../errors.js';
import type { VerifiedUploadGrant } from '../protocol/grant.js';
import type { UploaderPresignRequest, UploaderResponse } from '../protocol/lambda-messages.js';
import { createTraceUploadUrl } from '../protocol/presign.js';
import { refusal } from './handler-request.js';

/** Where and for how much and how long the handler presigns. */
export interface PresignTarget {
  readonly bucket: string;
  readonly client: () => Promise<S3Client>;
  /** Largest body a request may announce, in bytes. */
  readonly maxObjectBytes: number;
  /** Lifetime of the URL, in seconds (cut to the grant's expiry). */
  readonly presignExpiresIn: number;
  readonly now: () => number;
}

/** Answers a `presign` whose grant is verified: the URL and its headers, or the refusal. */
export async function presignUpload(
  target: PresignTarget,
  request: UploaderPresignRequest,
  grant: VerifiedUploadGrant,
): Promise<UploaderResponse> {
  if (request.byteLength > target.maxObjectBytes) {
    return refusal(
      'ERR_UPLOAD_TOO_LARGE',
      `the body is ${request.byteLength} bytes; at most ${target.maxObjectBytes} accepted`,
    );
  }
  let minted: Awaited<ReturnType<typeof createTraceUploadUrl>>;
  try {
    minted = await createTraceUploadUrl({
      s3: await target.client(),
      bucket: target.bucket,
      userId: grant.userId,
      taskId: grant.taskId,
      operator: grant.operator,
      sessionId: grant.sessionId,
      maxBytes: target.maxObjectBytes,
      expiresIn: Math.max(
        1,
        Math.min(target.presignExpiresIn, Math.floor((grant.expiresAt.getTime() - target.now()) / 1000)),
      ),
      contentLength: request.byteLength,
      sha256: request.sha256,
    });
  } catch (err) {
    if (err instanceof AttributionError) return refusal('ERR_UPLOAD_BAD_REQUEST', err.message);
    throw err;
  }
  return {
    ok: true,
    action: 'presign',
    key: minted.key,
    url: minted.url,
    headers: minted.headers,
    expiresAt: minted.expiresAt.toISOString(),
  };
}
