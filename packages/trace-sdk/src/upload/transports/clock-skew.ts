/**
 * The agent's clock, as the storage server sees it. A presigned URL's lifetime is judged by S3's
 * clock, not ours, so transports never refuse a URL on the local clock alone; instead they learn
 * the skew from the `Date` header of S3's answers and report it (in the receipt, and once per
 * process as a warning when it is large enough to matter).
 *
 * @packageDocumentation
 */
import { headerValue } from './http-body.js';

/** Skews smaller than this are noise: `Date` has one-second resolution and requests take time. */
export const CLOCK_SKEW_RESOLUTION_MS = 2000;
/** Skews at least this large are reported once per process with a `AGENT_TRACE_CLOCK_SKEW` warning. */
export const CLOCK_SKEW_WARNING_MS = 60_000;

let warned = false;

/**
 * The server's clock minus ours, in ms (positive: the server is ahead), from a response's `Date`
 * header and the local times the request was sent and answered; `undefined` without a usable
 * header. Below {@link CLOCK_SKEW_RESOLUTION_MS} it is reported as 0.
 */
export function clockSkewFrom(
  headers: Record<string, string | string[] | undefined>,
  sentAt: number,
  answeredAt: number,
): number | undefined {
  const raw = headerValue(headers, 'date');
  if (raw === undefined) return undefined;
  const server = Date.parse(raw);
  if (!Number.isFinite(server)) return undefined;
  // The header is truncated to the second: its true value lies in [server, server + 1000).
  const skew = Math.round(server + 500 - (sentAt + answeredAt) / 2);
  return Math.abs(skew) < CLOCK_SKEW_RESOLUTION_MS ? 0 : skew;
}

/** Warns once per process about a large skew (never with the URL). Warnings are best effort. */
export function reportClockSkew(transport: string, skewMs: number | undefined): void {
  if (skewMs === undefined || warned || Math.abs(skewMs) < CLOCK_SKEW_WARNING_MS) return;
  warned = true;
  try {
    const seconds = Math.round(skewMs / 1000);
    process.emitWarning(
      `${transport}: this host's clock is ${Math.abs(seconds)} s ${seconds > 0 ? 'behind' : 'ahead of'} the storage server's; ` +
        'presigned URLs are judged by the server, so uploads still work, but timestamps in traces are off',
      { code: 'AGENT_TRACE_CLOCK_SKEW' },
    );
  } catch {
    // Best effort.
  }
}

/** For tests: forget that the warning was given. @internal */
export function resetClockSkewWarning(): void {
  warned = false;
}
