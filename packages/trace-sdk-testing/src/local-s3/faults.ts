/**
 * Fault injection for the local S3: queue failures, connection resets, delays and hangs for the
 * next requests (optionally only those matching a method, bucket or key prefix), or add latency to
 * every request. A fault is taken when a matching request arrives, before anything is stored, so a
 * faulted request never leaves an object.
 *
 * @packageDocumentation
 */

/** Limits a fault to some requests. Every given field must match. */
export interface FaultMatch {
  /** HTTP method, e.g. `PUT`. */
  readonly method?: string | undefined;
  /** Bucket name. */
  readonly bucket?: string | undefined;
  /** Object key prefix, e.g. `traces/u1/`. Bucket-level requests never match a key prefix. */
  readonly keyPrefix?: string | undefined;
}

/** An S3 error answer to inject, e.g. `{ status: 503, code: 'SlowDown', retryAfterSeconds: 1 }`. */
export interface FailOptions {
  readonly status: number;
  /** S3 error code for the XML body, e.g. `InternalError`. */
  readonly code: string;
  /** Message for the XML body; defaults to a generic one for the code. */
  readonly message?: string | undefined;
  /** Adds a `Retry-After` header (seconds). */
  readonly retryAfterSeconds?: number | undefined;
  readonly match?: FaultMatch | undefined;
}

/** One injected fault, as the server applies it. */
export type Fault =
  | {
      readonly kind: 'fail';
      readonly status: number;
      readonly code: string;
      readonly message: string;
      readonly retryAfterSeconds: number | undefined;
    }
  /** Destroy the socket once this many request body bytes arrived (0: as soon as the request does). */
  | { readonly kind: 'reset'; readonly afterBodyBytes: number }
  | { readonly kind: 'delay'; readonly ms: number }
  /** Read the body, then never answer (until the server closes). */
  | { readonly kind: 'hang' };

/** What a request looks like to a matcher. */
export interface FaultTarget {
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
}

interface Armed {
  readonly fault: Fault;
  readonly match: FaultMatch | undefined;
  remaining: number;
}

const DEFAULT_MESSAGES: Record<string, string> = {
  InternalError: 'We encountered an internal error. Please try again.',
  SlowDown: 'Please reduce your request rate.',
  ServiceUnavailable: 'Service is unable to handle request.',
  RequestTimeout:
    'Your socket connection to the server was not read from or written to within the timeout period.',
  AccessDenied: 'Access Denied',
};

function assertCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`fault count must be a positive integer, got ${n}`);
}

function matches(match: FaultMatch | undefined, target: FaultTarget): boolean {
  if (match === undefined) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== target.method) return false;
  if (match.bucket !== undefined && match.bucket !== target.bucket) return false;
  if (match.keyPrefix !== undefined && !(target.key ?? '').startsWith(match.keyPrefix)) return false;
  if (match.keyPrefix !== undefined && target.key === undefined) return false;
  return true;
}

/**
 * The fault queue of one local S3 server (`server.faults`). Faults are taken in the order they
 * were queued; each request takes at most one. Methods return `this` so calls chain:
 * `s3.faults.failNext(1, { status: 500, code: 'InternalError' }).resetNext(1, { afterBodyBytes: 1024 })`.
 */
export class FaultInjector {
  readonly #queue: Armed[] = [];
  #latencyMs = 0;

  /** Answers the next `n` matching requests with an S3 error (after reading their body). */
  failNext(n: number, options: FailOptions): this {
    assertCount(n);
    if (!Number.isInteger(options.status) || options.status < 400 || options.status > 599) {
      throw new RangeError(`failNext status must be 4xx or 5xx, got ${options.status}`);
    }
    const fault: Fault = {
      kind: 'fail',
      status: options.status,
      code: options.code,
      message: options.message ?? DEFAULT_MESSAGES[options.code] ?? `Injected ${options.code}`,
      retryAfterSeconds: options.retryAfterSeconds,
    };
    this.#queue.push({ fault, match: options.match, remaining: n });
    return this;
  }

  /** Destroys the connection of the next `n` matching requests after `afterBodyBytes` body bytes. */
  resetNext(
    n: number,
    options: { afterBodyBytes?: number | undefined; match?: FaultMatch | undefined } = {},
  ): this {
    assertCount(n);
    const afterBodyBytes = options.afterBodyBytes ?? 0;
    if (!Number.isInteger(afterBodyBytes) || afterBodyBytes < 0) {
      throw new RangeError(`afterBodyBytes must be a non-negative integer, got ${afterBodyBytes}`);
    }
    this.#queue.push({ fault: { kind: 'reset', afterBodyBytes }, match: options.match, remaining: n });
    return this;
  }

  /** Delays the next `n` matching requests by `ms` before they are processed. */
  delayNext(n: number, ms: number, options: { match?: FaultMatch | undefined } = {}): this {
    assertCount(n);
    if (!(ms >= 0)) throw new RangeError(`delay must be >= 0 ms, got ${ms}`);
    this.#queue.push({ fault: { kind: 'delay', ms }, match: options.match, remaining: n });
    return this;
  }

  /** Never answers the next `n` matching requests; their sockets are destroyed when the server closes. */
  hangNext(n: number, options: { match?: FaultMatch | undefined } = {}): this {
    assertCount(n);
    this.#queue.push({ fault: { kind: 'hang' }, match: options.match, remaining: n });
    return this;
  }

  /** Adds `ms` of latency to every request from now on (0 turns it off). */
  latency(ms: number): this {
    if (!(ms >= 0)) throw new RangeError(`latency must be >= 0 ms, got ${ms}`);
    this.#latencyMs = ms;
    return this;
  }

  /** The latency added to every request. */
  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** Faults still queued (counting each of `n` repetitions). */
  get pending(): number {
    return this.#queue.reduce((sum, armed) => sum + armed.remaining, 0);
  }

  /** Drops every queued fault and the latency. */
  clear(): void {
    this.#queue.length = 0;
    this.#latencyMs = 0;
  }

  /** Takes the fault for an arriving request, if one matches. Used by the server. */
  take(target: FaultTarget): Fault | undefined {
    const index = this.#queue.findIndex((armed) => matches(armed.match, target));
    if (index < 0) return undefined;
    const armed = this.#queue[index]!;
    armed.remaining -= 1;
    if (armed.remaining === 0) this.#queue.splice(index, 1);
    return armed.fault;
  }
}
