/**
 * The local Lambda's HTTP reading and writing: an Invoke request's payload (bounded by Lambda's
 * limit), JSON answers, errors of the Lambda API itself as AWS answers them, and a function's
 * unhandled error as Lambda reports it.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': bytes.byteLength,
    ...headers,
  });
  res.end(bytes);
}

/** An error of the Lambda API itself (not of the function), as AWS answers it. */
export function apiError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
) {
  sendJson(
    res,
    status,
    { Type: status >= 500 ? 'Service' : 'User', message },
    { 'x-amzn-ErrorType': type, ...headers },
  );
}

/** Reads the rest of a request body, discarding it. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  for await (const _ of req) {
    // discard
  }
}

/** Reads the payload, or returns `undefined` once it exceeds `limit` (the rest is drained). */
export async function readPayload(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) {
      chunks.length = 0;
      continue; // keep reading so the client receives the 413 rather than a broken pipe
    }
    chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

/** A thrown value as Lambda reports an unhandled function error. */
export function describeError(error: unknown): { errorType: string; errorMessage: string; trace: string[] } {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}
