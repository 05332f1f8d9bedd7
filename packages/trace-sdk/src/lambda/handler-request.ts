/**
 * The uploader Lambda's requests: parsing and validating a payload into a `put` or `presign`
 * request, and the refusal answered for anything malformed. The payload is untrusted input.
 *
 * @packageDocumentation
 */
import type {
  UploaderErrorCode,
  UploaderErrorResponse,
  UploaderRequest,
} from '../protocol/lambda-messages.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The `{ ok: false }` answer for a refused request (not retryable unless said so). */
export const refusal = (
  code: UploaderErrorCode,
  message: string,
  retryable = false,
): UploaderErrorResponse => ({
  ok: false,
  code,
  message,
  retryable,
});

/** Validates the payload's shape; returns the request or the refusal to send back. */
export function parseRequest(event: unknown): UploaderRequest | UploaderErrorResponse {
  let value = event;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return refusal('ERR_UPLOAD_BAD_REQUEST', 'the request is not JSON');
    }
  }
  if (value === null || typeof value !== 'object')
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'the request is not an object');
  const r = value as Record<string, unknown>;
  if (r.action !== 'put' && r.action !== 'presign') {
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'action must be "put" or "presign"');
  }
  if (typeof r.grant !== 'string' || r.grant.length === 0)
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'grant is required');
  if (typeof r.sha256 !== 'string' || !SHA256_HEX.test(r.sha256)) {
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'sha256 must be 64 lowercase hex characters');
  }
  if (typeof r.byteLength !== 'number' || !Number.isSafeInteger(r.byteLength) || r.byteLength < 0) {
    return refusal('ERR_UPLOAD_BAD_REQUEST', 'byteLength must be a non-negative integer');
  }
  if (r.action === 'put') {
    if (typeof r.body !== 'string') return refusal('ERR_UPLOAD_BAD_REQUEST', 'body (base64) is required');
    return { action: 'put', grant: r.grant, sha256: r.sha256, byteLength: r.byteLength, body: r.body };
  }
  return { action: 'presign', grant: r.grant, sha256: r.sha256, byteLength: r.byteLength };
}
