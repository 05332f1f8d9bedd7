import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTraceKey, TRACE_KEY_PREFIX, TraceKeyError, traceKey, userPrefix } from '../src/index.js';
import { MAX_ID_BYTES } from '../src/key.js';

/** Ids the validator must accept: anything but separators, controls, dot segments and edge whitespace. */
const validId = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 80 })
  .filter(
    (s) =>
      !/[/\\\p{Cc}\u2028\u2029]/u.test(s) &&
      !/^\s|\s$/u.test(s) &&
      s !== '.' &&
      s !== '..' &&
      Buffer.byteLength(s) <= MAX_ID_BYTES,
  );

function keyError(fn: () => unknown): TraceKeyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TraceKeyError);
    return err as TraceKeyError;
  }
  throw new Error('expected a TraceKeyError');
}

describe('traceKey', () => {
  it('builds traces/<user_id>/<task_id>.jsonl.gz for the ids we see today', () => {
    expect(
      traceKey({ userId: '3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41', taskId: '01JD4Q9Z6XKQ2V8N5R3T7W1Y0M' }),
    ).toBe('traces/3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41/01JD4Q9Z6XKQ2V8N5R3T7W1Y0M.jsonl.gz');
    expect(traceKey({ userId: 'okta|00u1abcd', taskId: 'a1b2c3d4e5f6' })).toBe(
      'traces/okta|00u1abcd/a1b2c3d4e5f6.jsonl.gz',
    );
  });

  it.each([
    ['', 'empty'],
    ['a/b', 'slash'],
    ['../other-user', 'slash'],
    ['a\\b', 'backslash'],
    ['a\nb', 'control_character'],
    ['a\u0000', 'control_character'],
    ['a\u007f', 'control_character'],
    ['a\u0085b', 'control_character'],
    ['a\u2028b', 'control_character'],
    ['.', 'dot_segment'],
    ['..', 'dot_segment'],
    [' user', 'surrounding_whitespace'],
    ['user\t', 'control_character'],
    ['user\u00a0', 'surrounding_whitespace'],
    ['\ud800x', 'malformed_unicode'],
    ['x'.repeat(MAX_ID_BYTES + 1), 'too_long'],
    ['é'.repeat(MAX_ID_BYTES / 2 + 1), 'too_long'],
  ])('rejects user id %j (%s)', (userId, reason) => {
    const err = keyError(() => traceKey({ userId, taskId: 't1' }));
    expect(err.code).toBe('ERR_TRACE_KEY');
    expect(err.field).toBe('userId');
    expect(err.reason).toBe(reason);
  });

  it('rejects a bad task id naming the task id', () => {
    const err = keyError(() => traceKey({ userId: 'u1', taskId: '..' }));
    expect(err.field).toBe('taskId');
  });

  it('rejects non-string ids and a missing argument with a typed error', () => {
    expect(keyError(() => traceKey({ userId: 42 as unknown as string, taskId: 't' })).reason).toBe(
      'not_a_string',
    );
    expect(keyError(() => traceKey(undefined as never)).field).toBe('key');
  });

  it('accepts ids of exactly 256 bytes', () => {
    expect(traceKey({ userId: 'u'.repeat(MAX_ID_BYTES), taskId: 't' })).toContain('u'.repeat(MAX_ID_BYTES));
  });
});

describe('parseTraceKey', () => {
  it.each([
    'traces/u/t.jsonl',
    'trace/u/t.jsonl.gz',
    '/traces/u/t.jsonl.gz',
    'traces/t.jsonl.gz',
    'traces/u/v/t.jsonl.gz',
    'traces/u/../t.jsonl.gz',
    'traces//t.jsonl.gz',
    'traces/u/.jsonl.gz',
    'traces/ u/t.jsonl.gz',
  ])('rejects %j', (key) => {
    expect(() => parseTraceKey(key)).toThrow(TraceKeyError);
  });

  it('keeps a task id that itself ends in .jsonl.gz', () => {
    expect(parseTraceKey('traces/u/t.jsonl.gz.jsonl.gz')).toEqual({ userId: 'u', taskId: 't.jsonl.gz' });
  });
});

describe('key properties', () => {
  it('parseTraceKey inverts traceKey for every valid pair', () => {
    fc.assert(
      fc.property(validId, validId, (userId, taskId) => {
        expect(parseTraceKey(traceKey({ userId, taskId }))).toEqual({ userId, taskId });
      }),
      { numRuns: 2000 },
    );
  });

  it('no valid pair produces a key outside traces/<user_id>/', () => {
    fc.assert(
      fc.property(validId, validId, (userId, taskId) => {
        const key = traceKey({ userId, taskId });
        expect(key.startsWith(userPrefix(userId))).toBe(true);
        expect(key.startsWith(TRACE_KEY_PREFIX)).toBe(true);
        // Exactly three path segments, none of them a dot segment: no traversal is possible.
        const segments = key.split('/');
        expect(segments).toHaveLength(3);
        expect(segments.some((s) => s === '.' || s === '..' || s === '')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('every string either is rejected with TraceKeyError or yields a key under its own user prefix', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({ maxLength: 20 }),
        (userId, taskId) => {
          let key: string;
          try {
            key = traceKey({ userId, taskId });
          } catch (err) {
            expect(err).toBeInstanceOf(TraceKeyError);
            return;
          }
          expect(parseTraceKey(key).userId).toBe(userId);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
