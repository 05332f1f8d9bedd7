/**
 * The one place object keys are built and parsed. Every other module (recorder, transports,
 * orchestrator, Lambda handler, CLI) goes through {@link traceKey} and {@link parseTraceKey}, so
 * an id can never smuggle a path segment into the key.
 *
 * @packageDocumentation
 */
import { TraceKeyError } from './errors.js';

/** Every trace lives below this prefix: `traces/<user_id>/<task_id>.jsonl.gz`. */
export const TRACE_KEY_PREFIX = 'traces/';

/** Suffix of every trace object. */
export const TRACE_KEY_SUFFIX = '.jsonl.gz';

/** Largest id accepted, in UTF-8 bytes. */
export const MAX_ID_BYTES = 256;

/** Who and which task a trace belongs to. */
export interface TraceKeyParts {
  /** The user the trace belongs to, e.g. a Cognito `sub`. */
  readonly userId: string;
  /** The task (one agent run), e.g. a ULID. */
  readonly taskId: string;
}

// \p{Cc}: C0 controls, DEL and C1 controls. Line and paragraph separators are format characters
// that break line-oriented tools, so they are refused too.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const SURROUNDING_WHITESPACE = /^\s|\s$/u;

/**
 * Checks one id and throws {@link TraceKeyError} when it cannot be a key segment.
 * Valid: non-empty, at most 256 UTF-8 bytes, no `/`, `\`, control characters, not `.` or `..`,
 * no leading or trailing whitespace, well-formed Unicode.
 */
export function assertValidId(field: 'userId' | 'taskId', id: unknown): asserts id is string {
  const fail = (reason: ConstructorParameters<typeof TraceKeyError>[1], why: string): never => {
    throw new TraceKeyError(field, reason, `Invalid ${field}: ${why}`);
  };
  if (typeof id !== 'string')
    fail('not_a_string', `expected a string, got ${id === null ? 'null' : typeof id}`);
  const s = id as string;
  if (s.length === 0) fail('empty', 'must not be empty');
  if (!s.isWellFormed()) fail('malformed_unicode', 'contains a lone UTF-16 surrogate');
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes > MAX_ID_BYTES) fail('too_long', `${bytes} UTF-8 bytes, at most ${MAX_ID_BYTES} allowed`);
  if (s.includes('/')) fail('slash', 'must not contain "/"');
  if (s.includes('\\')) fail('backslash', 'must not contain "\\"');
  if (CONTROL.test(s)) fail('control_character', 'must not contain control characters');
  if (s === '.' || s === '..') fail('dot_segment', 'must not be "." or ".."');
  if (SURROUNDING_WHITESPACE.test(s)) fail('surrounding_whitespace', 'must not start or end with whitespace');
}

/** True when `id` is a valid user or task id (see {@link assertValidId}). */
export function isValidId(id: unknown): id is string {
  try {
    assertValidId('userId', id);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds the object key of a trace: `traces/<userId>/<taskId>.jsonl.gz`.
 *
 * @throws {@link TraceKeyError} when either id is invalid.
 * @example
 * traceKey({ userId: 'a1b2', taskId: '01JD4Q9Z6X' }) // 'traces/a1b2/01JD4Q9Z6X.jsonl.gz'
 */
export function traceKey(parts: TraceKeyParts): string {
  if (parts === null || typeof parts !== 'object') {
    throw new TraceKeyError('key', 'not_a_string', 'traceKey expects { userId, taskId }');
  }
  assertValidId('userId', parts.userId);
  assertValidId('taskId', parts.taskId);
  return `${TRACE_KEY_PREFIX}${parts.userId}/${parts.taskId}${TRACE_KEY_SUFFIX}`;
}

/**
 * Parses a trace object key back into its ids. The exact inverse of {@link traceKey}: any string
 * `traceKey` cannot produce is rejected.
 *
 * @throws {@link TraceKeyError} (`field: 'key'` for a wrong shape, or the id's field when an id is invalid).
 */
export function parseTraceKey(key: string): TraceKeyParts {
  const notAKey = (why: string): never => {
    throw new TraceKeyError('key', 'not_a_trace_key', `Not a trace key: ${why}`);
  };
  if (typeof key !== 'string') notAKey('expected a string');
  if (!key.startsWith(TRACE_KEY_PREFIX)) notAKey(`must start with "${TRACE_KEY_PREFIX}"`);
  if (!key.endsWith(TRACE_KEY_SUFFIX)) notAKey(`must end with "${TRACE_KEY_SUFFIX}"`);
  const inner = key.slice(TRACE_KEY_PREFIX.length, key.length - TRACE_KEY_SUFFIX.length);
  const slash = inner.indexOf('/');
  if (slash < 0) notAKey('expected traces/<user_id>/<task_id>.jsonl.gz');
  const userId = inner.slice(0, slash);
  const taskId = inner.slice(slash + 1);
  assertValidId('userId', userId);
  assertValidId('taskId', taskId);
  return { userId, taskId };
}

/** The prefix one user's traces live under: `traces/<userId>/`. Used for IAM conditions and listings. */
export function userPrefix(userId: string): string {
  assertValidId('userId', userId);
  return `${TRACE_KEY_PREFIX}${userId}/`;
}
