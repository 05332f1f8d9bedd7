/**
 * The one set of option checks, shared by the recorder, the transports, the retry policy and the
 * uploader handler, so every bad value fails at construction the same way: a {@link ConfigError}
 * whose `variable` names the option and whose message says what was expected and what kind of
 * value came (a number is shown; anything else only by its type, since it may be a secret).
 *
 * @packageDocumentation
 */
import { ConfigError } from './errors.js';

/** What kind of value came, for a message: numbers as is, anything else by type only. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  return typeof value;
}

/** The message prefix: `owner: ` when there is an owner. */
const prefix = (owner: string) => (owner === '' ? '' : `${owner}: `);

/** Bounds of a numeric option. */
export interface NumberBounds {
  /** Smallest accepted value. Default 0. */
  readonly min?: number | undefined;
  /** Largest accepted value. Default `Number.MAX_SAFE_INTEGER`. */
  readonly max?: number | undefined;
  /** Whole numbers only. Default false. */
  readonly integer?: boolean | undefined;
}

/**
 * `value`, or `fallback` when it is `undefined`; a ConfigError (`variable: name`) when it is not
 * a finite number within `bounds`. `owner` prefixes the message, e.g. `s3PutObjectTransport`.
 */
export function numberOption(
  owner: string,
  name: string,
  value: unknown,
  fallback: number,
  bounds: NumberBounds = {},
): number {
  if (value === undefined) return fallback;
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const integer = bounds.integer ?? false;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(
      `${prefix(owner)}${name} must be ${integer ? 'an integer' : 'a number'} ${range}, got ${describeValue(value)}`,
      name,
    );
  }
  return value;
}

/** `value` when it is a function or `undefined`; a ConfigError naming the option otherwise. */
export function functionOption<T extends (...args: never[]) => unknown>(
  owner: string,
  name: string,
  value: T | undefined,
): T | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new ConfigError(`${prefix(owner)}${name} must be a function, got ${describeValue(value)}`, name);
  }
  return value;
}

/** `value` when it is a boolean or `undefined`; a ConfigError naming the option otherwise. */
export function booleanOption(owner: string, name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new ConfigError(`${prefix(owner)}${name} must be true or false, got ${describeValue(value)}`, name);
  }
  return value;
}
