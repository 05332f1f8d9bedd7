/**
 * The upload-level checks the contract cases share: an intact object, a proper `UploadError`, and
 * a transport that honours its abort signal, each failing with a labeled message.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TraceArtifact } from '@agent-trace/trace-sdk';
import * as check from './assert.js';
import type { ContractTarget } from './types.js';

/**
 * How long an upload may take to settle once its signal aborted. A transport that honours the
 * signal settles within milliseconds; one that ignores it is reported after this, by name.
 */
export const ABORT_SETTLE_MS = 3_000;

/**
 * `Name: message` of a thrown value. Duck-typed, not `instanceof Error`: under jest, errors made
 * by Node's own modules come from another realm.
 */
export function errorText(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown } | null | undefined;
  return typeof e?.message === 'string' ? `${String(e.name ?? 'Error')}: ${e.message}` : String(error);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Settles `upload` after its signal aborted, or fails by name when the transport ignored the
 * signal: resolving anyway, or not settling within {@link ABORT_SETTLE_MS}.
 */
export async function settleAfterAbort<T>(upload: Promise<T>, when: string): Promise<unknown> {
  const timer = new AbortController();
  const outcome: Settled<T> | 'stuck' = await Promise.race([
    upload.then(
      (value) => ({ ok: true, value }) as const,
      (error: unknown) => ({ ok: false, error }) as const,
    ),
    sleep(ABORT_SETTLE_MS, 'stuck' as const, { signal: timer.signal }).catch(() => 'stuck' as const),
  ]);
  timer.abort();
  if (outcome === 'stuck') {
    check.failWith(
      `upload aborted ${when}`,
      `the transport ignored the abort signal: the upload had not settled ${ABORT_SETTLE_MS} ms after it aborted (it must stop its request and reject with an UploadError, code ERR_UPLOAD_ABORTED)`,
    );
  }
  if (outcome.ok) {
    check.failWith(
      `upload aborted ${when}`,
      'the transport ignored the abort signal: the upload resolved instead of rejecting with an UploadError, code ERR_UPLOAD_ABORTED',
    );
  }
  return outcome.error;
}

/** What a failed upload must be: the SDK's `UploadError` with a string `code` (`code` when given). */
export async function expectUploadError(
  what: string,
  upload: Promise<unknown> | { settled: unknown },
  code?: string,
): Promise<void> {
  let error: unknown;
  if ('settled' in upload) error = upload.settled;
  else {
    const outcome = await upload.then(
      () => ({ resolved: true }) as const,
      (e: unknown) => ({ resolved: false, e }) as const,
    );
    if (outcome.resolved) check.failWith(what, 'expected the upload to be rejected, but it resolved');
    error = outcome.e;
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (name !== 'UploadError') {
    check.failWith(
      what,
      `expected an UploadError${code === undefined ? '' : ` (${code})`}, got ${errorText(error)}`,
    );
  }
  const actual = (error as { code?: unknown }).code;
  check.equal(typeof actual, 'string', `${what}: type of UploadError.code (${errorText(error)})`);
  if (code !== undefined) check.equal(actual, code, `${what}: UploadError.code (${errorText(error)})`);
}

/** Asserts the bytes at `key` are exactly the artifact's. */
export async function expectIntact(
  target: ContractTarget,
  key: string,
  artifact: TraceArtifact,
): Promise<void> {
  const stored = await target.read(key);
  check.isDefined(stored, `object at ${key}`);
  check.equal(stored.byteLength, artifact.byteLength, `size of the object at ${key}`);
  check.equal(sha256(stored), artifact.sha256, `sha256 of the object at ${key}`);
}
