/**
 * Option checks shared by the transports, the retry policy and the uploader handler, so every
 * bad value fails at construction the same way: a {@link ConfigError} whose `variable` names
 * the option and whose message says what was expected (never the value, which may be a secret).
 *
 * @packageDocumentation
 */
import { ConfigError } from './errors.js';

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
    throw new ConfigError(`${owner}: ${name} must be ${integer ? 'an integer' : 'a number'} ${range}`, name);
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
    throw new ConfigError(`${owner}: ${name} must be a function`, name);
  }
  return value;
}

/** `value` when it is a boolean or `undefined`; a ConfigError naming the option otherwise. */
export function booleanOption(owner: string, name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new ConfigError(`${owner}: ${name} must be true or false`, name);
  }
  return value;
}
