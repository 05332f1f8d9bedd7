/**
 * The uploader Lambda's answers as the transport's typed errors: the transport's name, its
 * `UploadError` factory, the mapping of a handler refusal onto error codes, and the shape check of
 * a response.
 *
 * @packageDocumentation
 */
import { UploadError } from '../../errors.js';
import type { UploaderResponse } from '../../protocol/lambda-messages.js';
import { safeText } from '../../sanitize.js';

/** Name of the uploader-Lambda transport in receipts, errors and metrics. */
export const LAMBDA_UPLOADER_TRANSPORT = 'lambda';

/** An `UploadError` of the lambda transport (not retryable unless `extra` says so). */
export function fail(
  code: UploadError['code'],
  message: string,
  extra: { status?: number; s3Code?: string; retryable?: boolean; cause?: unknown } = {},
) {
  return new UploadError(code, `${LAMBDA_UPLOADER_TRANSPORT}: ${message}`, {
    transport: LAMBDA_UPLOADER_TRANSPORT,
    retryable: false,
    ...extra,
  });
}

/** Maps a handler refusal onto the transport's typed errors. */
export function fromHandlerError(response: Extract<UploaderResponse, { ok: false }>): UploadError {
  const message = `the uploader refused: ${response.code}: ${safeText(String(response.message ?? ''))}`;
  switch (response.code) {
    case 'ERR_UPLOAD_TOO_LARGE':
      return fail('ERR_UPLOAD_TOO_LARGE', message, { s3Code: response.code });
    case 'ERR_UPLOAD_CHECKSUM':
      return fail('ERR_UPLOAD_CHECKSUM', message, { s3Code: response.code });
    case 'ERR_UPLOAD_NETWORK':
      return fail('ERR_UPLOAD_NETWORK', message, { retryable: true });
    case 'ERR_UPLOAD_HTTP':
      return fail('ERR_UPLOAD_HTTP', message, {
        ...(typeof response.status === 'number' ? { status: response.status } : {}),
        ...(typeof response.s3Code === 'string' ? { s3Code: response.s3Code } : {}),
        retryable: response.retryable === true,
      });
    default:
      // Grant refusals and malformed requests: retrying the same request cannot help.
      return fail('ERR_UPLOAD_REJECTED', message, { s3Code: response.code });
  }
}

/** Whether `value` has the shape of an uploader response (`ok` is a boolean). */
export function isResponse(value: unknown): value is UploaderResponse {
  return value !== null && typeof value === 'object' && typeof (value as { ok?: unknown }).ok === 'boolean';
}
