/**
 * Response-body hygiene for undici: every response body is consumed or destroyed, or its socket
 * never returns to the pool. Error bodies are read only up to a small cap.
 *
 * @packageDocumentation
 */
import type { Dispatcher } from 'undici';

/** An undici response body. */
export type ResponseBody = Dispatcher.ResponseData['body'];

/** Error bodies larger than this are cut: S3's XML errors are a few hundred bytes. */
export const ERROR_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Reads at most `limitBytes` of `body` as UTF-8 and releases the rest. Never rejects: a body
 * that fails mid-read yields what arrived.
 */
export async function readBodyPrefix(
  body: ResponseBody,
  limitBytes = ERROR_BODY_LIMIT_BYTES,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(buf);
      size += buf.byteLength;
      if (size >= limitBytes) break;
    }
  } catch {
    // A reset while reading an error body: the status already says what happened.
  } finally {
    if (!body.destroyed) body.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limitBytes).toString('utf8');
}

/** Consumes (or, past a small limit, destroys) a body whose content is not needed. Never rejects. */
export async function discardBody(body: ResponseBody): Promise<void> {
  try {
    await body.dump({ limit: ERROR_BODY_LIMIT_BYTES });
  } catch {
    if (!body.destroyed) body.destroy();
  }
}

/** The first value of a response header. */
export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
