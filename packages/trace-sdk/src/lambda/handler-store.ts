/**
 * Storing an inline body: the uploader Lambda's `put`. Checks the decoded body against its
 * announced length and SHA-256 and that it is a trace of the grant's task, then writes it with
 * PutObject at the key derived from the grant, with the grant's attribution as metadata.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { AttributionError } from '../errors.js';
import { attributionMetadata } from '../protocol/attribution.js';
import type { VerifiedUploadGrant } from '../protocol/grant.js';
import {
  base64Length,
  type UploaderErrorCode,
  type UploaderPutRequest,
  type UploaderResponse,
} from '../protocol/lambda-messages.js';
import { TRACE_CONTENT_TYPE } from '../protocol/trace-object.js';
import { safeErrorMessage } from '../sanitize.js';
import { fromAwsSdkError } from '../upload/classify.js';
import { checkArtifactHeader } from './artifact-header-check.js';
import { refusal } from './handler-request.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const TRANSPORT = 'uploader-lambda';

/** Where and how much the handler stores inline. */
export interface InlineStoreTarget {
  readonly bucket: string;
  readonly client: () => Promise<S3Client>;
  /** Largest inline (decoded) body accepted, in bytes. */
  readonly maxInlineBytes: number;
  /** Longest header line inflated when checking the body, in bytes. */
  readonly maxHeaderBytes: number;
}

/** Answers a `put` whose grant is verified: the body checked, then stored, or the refusal. */
export async function storeInline(
  target: InlineStoreTarget,
  request: UploaderPutRequest,
  grant: VerifiedUploadGrant,
): Promise<UploaderResponse> {
  if (
    request.byteLength > target.maxInlineBytes ||
    request.body.length > base64Length(target.maxInlineBytes)
  ) {
    return refusal(
      'ERR_UPLOAD_TOO_LARGE',
      `inline bodies are limited to ${target.maxInlineBytes} bytes; use presign`,
    );
  }
  // Length first, on the encoded text: cheap, and it bounds what is decoded.
  if (request.body.length !== base64Length(request.byteLength) || !BASE64.test(request.body)) {
    return refusal('ERR_UPLOAD_CHECKSUM', 'the body is not base64 of the announced byteLength');
  }
  const bytes = Buffer.from(request.body, 'base64');
  if (bytes.byteLength !== request.byteLength) {
    return refusal('ERR_UPLOAD_CHECKSUM', `the body is ${bytes.byteLength} bytes, not ${request.byteLength}`);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== request.sha256) {
    return refusal('ERR_UPLOAD_CHECKSUM', 'the body does not match its sha256');
  }
  // A grant lets the runtime store its own trace, not any bytes: the body must be gzip whose
  // header names the grant's task (and user). Presigned bodies are bound by length and sha256.
  const check = await checkArtifactHeader(bytes, grant, { maxHeaderBytes: target.maxHeaderBytes });
  if (!check.ok) {
    return { ...refusal('ERR_UPLOAD_NOT_A_TRACE', `not stored: ${check.reason}`), status: 400 };
  }
  let metadata: Record<string, string>;
  try {
    metadata = attributionMetadata(grant, 'uploader-lambda');
  } catch (err) {
    if (err instanceof AttributionError) return refusal('ERR_UPLOAD_BAD_REQUEST', err.message);
    throw err;
  }
  return putTrace(target, grant, request.sha256, bytes, metadata);
}

/** PutObject of a checked body; S3 failures come back as `{ ok: false }` answers. */
async function putTrace(
  target: InlineStoreTarget,
  grant: VerifiedUploadGrant,
  sha256: string,
  bytes: Buffer,
  metadata: Record<string, string>,
): Promise<UploaderResponse> {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const out = await (await target.client()).send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: grant.key,
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType: TRACE_CONTENT_TYPE,
        ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
        // Attribution from the verified grant: trusted, unlike anything inside the body.
        Metadata: metadata,
      }),
    );
    return {
      ok: true,
      action: 'put',
      key: grant.key,
      uri: `s3://${target.bucket}/${grant.key}`,
      etag: out.ETag,
    };
  } catch (err) {
    const mapped = fromAwsSdkError(err, TRANSPORT);
    // S3 re-checked ChecksumSHA256 and found the body different: same code as our own check.
    if (mapped.code === 'ERR_UPLOAD_CHECKSUM') {
      return refusal('ERR_UPLOAD_CHECKSUM', 'S3 rejected the body: its checksum does not match');
    }
    const code: UploaderErrorCode =
      mapped.code === 'ERR_UPLOAD_NETWORK' ? 'ERR_UPLOAD_NETWORK' : 'ERR_UPLOAD_HTTP';
    return {
      ok: false,
      code,
      message: `S3 PutObject failed: ${safeErrorMessage(err)}`,
      retryable: mapped.retryable || code === 'ERR_UPLOAD_NETWORK',
      ...(mapped.status !== undefined ? { status: mapped.status } : {}),
      ...(mapped.s3Code !== undefined ? { s3Code: mapped.s3Code } : {}),
    };
  }
}
