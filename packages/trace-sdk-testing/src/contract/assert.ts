/**
 * The contract suite's assertions: runner-neutral (they throw `node:assert`'s `AssertionError`,
 * which vitest, jest and node:test all report with a diff), and every one labeled, so a failure
 * says what was checked ("Content-Encoding stored at traces/u/t.jsonl.gz") and not only the values.
 *
 * @packageDocumentation
 */
import { AssertionError } from 'node:assert';
import { inspect, isDeepStrictEqual } from 'node:util';

const show = (value: unknown) => inspect(value, { depth: 4, breakLength: Number.POSITIVE_INFINITY });

function fail(label: string, detail: string, actual: unknown, expected: unknown, operator: string): never {
  throw new AssertionError({ message: `${label}: ${detail}`, actual, expected, operator });
}

/** `actual === expected`. */
export function equal<T>(actual: T, expected: T, label: string): void {
  if (!Object.is(actual, expected)) {
    fail(label, `expected ${show(expected)}, got ${show(actual)}`, actual, expected, 'strictEqual');
  }
}

/** Deep structural equality. */
export function deepEqual<T>(actual: T, expected: T, label: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    fail(label, `expected ${show(expected)}, got ${show(actual)}`, actual, expected, 'deepStrictEqual');
  }
}

/** `actual` is `undefined`. */
export function isUndefined(actual: unknown, label: string): void {
  if (actual !== undefined)
    fail(label, `expected none, got ${show(actual)}`, actual, undefined, 'strictEqual');
}

/** `actual` is not `undefined`. */
export function isDefined<T>(actual: T | undefined, label: string): asserts actual is T {
  if (actual === undefined)
    fail(label, 'expected a value, got undefined', actual, 'a value', 'notStrictEqual');
}

/** `actual < limit`. */
export function below(actual: number, limit: number, label: string): void {
  if (!(actual < limit)) fail(label, `expected below ${limit}, got ${actual}`, actual, limit, '<');
}

/** `min <= actual <= max`. */
export function within(actual: number, min: number, max: number, label: string): void {
  if (!(actual >= min && actual <= max)) {
    fail(label, `expected ${min}..${max}, got ${actual}`, actual, `${min}..${max}`, 'within');
  }
}

/** `text` does not match `pattern`. */
export function doesNotMatch(text: string, pattern: RegExp, label: string): void {
  if (pattern.test(text))
    fail(label, `expected no match for ${pattern}, got ${show(text)}`, text, pattern, 'doesNotMatch');
}

/** Fails with `label: detail` (for checks the helpers above do not express). */
export function failWith(label: string, detail: string): never {
  throw new AssertionError({ message: `${label}: ${detail}` });
}
