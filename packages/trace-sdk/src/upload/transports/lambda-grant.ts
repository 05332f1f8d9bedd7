/**
 * The upload grant of the lambda transport: a fixed grant or one asked of the grant provider
 * (bounded, cached per artifact, asked afresh when the Lambda reports it expired), and the local
 * check that a grant's (unverified) claims name the artifact's user and task.
 *
 * @packageDocumentation
 */
import { GrantError } from '../../errors.js';
import { traceKey } from '../../key.js';
import { readUploadGrantClaims } from '../../protocol/grant.js';
import type { TraceArtifact } from '../types.js';
import { fail, LAMBDA_UPLOADER_TRANSPORT } from './lambda-answers.js';
import { callProvider } from './provider-call.js';

/**
 * What a grant provider is told: the trace the grant must be minted for. Untrusted when the artifact
 * comes from a spool directory (`uploadSpooled`): mint only after checking, in the orchestrator's
 * own records, that the task belongs to the user this runtime serves.
 */
export interface UploadGrantRequest {
  /** The object key the grant must cover. */
  readonly key: string;
  readonly userId: string;
  readonly taskId: string;
  /** Fires when the upload is aborted, its deadline passes or `providerTimeoutMs` runs out. */
  readonly signal: AbortSignal;
}

/** The grants of one transport: `obtain` one (cached per artifact unless `fresh`), `forget` it once used. */
export interface GrantSource {
  obtain(artifact: TraceArtifact, fresh: boolean, signal: AbortSignal | undefined): Promise<string>;
  forget(artifact: TraceArtifact): void;
}

/** The grant source for a transport's `grant` option; a provider is bounded by `providerTimeoutMs`. */
export function grantSource(
  grant: string | ((request: UploadGrantRequest) => Promise<string>),
  providerTimeoutMs: number,
): GrantSource {
  const grants = new WeakMap<TraceArtifact, string>();
  const obtain = async (
    artifact: TraceArtifact,
    fresh: boolean,
    signal: AbortSignal | undefined,
  ): Promise<string> => {
    if (typeof grant === 'string') return grant;
    const cached = fresh ? undefined : grants.get(artifact);
    if (cached !== undefined) return cached;
    const token: unknown = await callProvider(
      (providerSignal) =>
        grant({
          key: artifact.key,
          userId: artifact.userId,
          taskId: artifact.taskId,
          signal: providerSignal,
        }),
      { transport: LAMBDA_UPLOADER_TRANSPORT, what: 'grant', signal, timeoutMs: providerTimeoutMs },
    );
    if (typeof token !== 'string') throw fail('ERR_UPLOAD_REJECTED', 'the grant provider returned no grant');
    grants.set(artifact, token);
    return token;
  };
  return { obtain, forget: (artifact) => grants.delete(artifact) };
}

/** Throws `ERR_UPLOAD_REJECTED` unless `token` is a well-formed grant for `artifact`'s key. */
export function checkGrantScope(token: string, artifact: TraceArtifact): void {
  let claims: ReturnType<typeof readUploadGrantClaims>;
  try {
    claims = readUploadGrantClaims(token);
  } catch (err) {
    throw fail('ERR_UPLOAD_REJECTED', 'the grant is malformed', {
      s3Code: err instanceof GrantError ? err.code : undefined,
    });
  }
  // The handler writes traceKey(grant), so that, not the artifact's separate ids, must be the key.
  if (traceKey({ userId: claims.userId, taskId: claims.taskId }) !== artifact.key) {
    throw fail('ERR_UPLOAD_REJECTED', `the grant is for another user or task than ${artifact.key}`, {
      s3Code: 'ERR_GRANT_SCOPE',
    });
  }
}
