/**
 * How the local S3 answers what is not a successful operation: an S3 error as S3's XML error body
 * (after reading the rest of the request body, so the client sees the answer and not a broken pipe),
 * and a queued fault (a failure, a delay, a connection reset or a hang).
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fault } from './faults.js';
import type { MutableRecord } from './local-s3-api.js';
import { S3Error } from './s3-error.js';
import { errorDocument } from './xml.js';

/** Answers `error` with S3's XML error body (a non-S3 error as a 500 `InternalError`), recording its code. */
export async function respondError(
  req: IncomingMessage,
  res: ServerResponse,
  record: MutableRecord,
  error: unknown,
): Promise<void> {
  const s3Error =
    error instanceof S3Error
      ? error
      : new S3Error(
          500,
          'InternalError',
          `We encountered an internal error: ${(error as Error)?.message ?? error}`,
        );
  record.errorCode = s3Error.s3Code;
  if (req.socket.destroyed || res.headersSent) {
    if (!res.headersSent) return;
    res.destroy();
    return;
  }
  // Read the rest of the body first, so the client sees the answer rather than a broken pipe.
  await drain(req);
  if (req.socket.destroyed) return;
  const requestId = res.getHeader('x-amz-request-id') as string;
  const resource = record.path.split('?')[0] ?? '/';
  const body =
    req.method === 'HEAD'
      ? undefined
      : errorDocument(s3Error.s3Code, s3Error.message, requestId, { ...s3Error.extra, Resource: resource });
  const bytes = body === undefined ? undefined : Buffer.from(body);
  res.writeHead(s3Error.status, {
    ...s3Error.headers,
    'Content-Type': 'application/xml',
    'Content-Length': bytes?.byteLength ?? 0,
  });
  res.end(bytes);
}

/**
 * Applies a fault; returns true when the request is finished with (answered, reset or hung).
 * `closing` fires when the server closes: it ends a delay or a hang.
 */
export async function applyFault(
  fault: Fault,
  req: IncomingMessage,
  res: ServerResponse,
  record: MutableRecord,
  closing: AbortSignal,
): Promise<boolean> {
  switch (fault.kind) {
    case 'delay':
      await sleep(fault.ms, undefined, { signal: closing });
      return false;
    case 'fail': {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
      await respondError(req, res, record, new S3Error(fault.status, fault.code, fault.message, {}, headers));
      return true;
    }
    case 'reset': {
      const reset = () => {
        if (!req.socket.destroyed) req.socket.resetAndDestroy();
      };
      if (fault.afterBodyBytes === 0 || record.bytes >= fault.afterBodyBytes) {
        reset();
        return true;
      }
      req.on('data', () => {
        if (record.bytes >= fault.afterBodyBytes) reset();
      });
      await drain(req);
      reset(); // the body was shorter than afterBodyBytes: reset before answering
      return true;
    }
    case 'hang':
      await drain(req);
      await new Promise<void>((resolve) => {
        if (closing.aborted) resolve();
        closing.addEventListener('abort', () => resolve(), { once: true });
      });
      return true;
  }
}

/** Waits for the rest of a request body, discarding it. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.resume();
  await finished(req).catch(() => undefined);
}
