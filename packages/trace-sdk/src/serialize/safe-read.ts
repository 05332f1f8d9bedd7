/**
 * Reading hostile values without throwing: safe names for errors, functions and constructors (never
 * a message, which may hold data), property reads that survive throwing getters and Proxy traps,
 * and which values a credential-named key masks.
 *
 * @packageDocumentation
 */

const SAFE_NAME = /^[\w$.:-]{1,64}$/;

/** A short, safe name for an error in a marker (never its message, which may hold data). */
export function errorName(err: unknown): string {
  try {
    if (err !== null && typeof err === 'object') {
      const name = (err as { name?: unknown }).name;
      if (typeof name === 'string' && SAFE_NAME.test(name)) return name;
    }
  } catch {
    // A hostile error object: fall through.
  }
  return 'Error';
}

/** A function's name for its marker, or `anonymous`. */
export function functionName(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? name : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

/** A safe constructor name for a marker, or `Object`. */
export function constructorName(v: object): string {
  try {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && SAFE_NAME.test(name)) return name;
  } catch {
    // Fall through.
  }
  return 'Object';
}

/** `obj[key]`, or an `[Unserializable: ...]` marker when reading it throws. */
export function readProperty(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch (err) {
    return `[Unserializable: ${errorName(err)}]`;
  }
}

/** Whether a credential-named key's value is masked: anything that can hold data, not `true`/`null`. */
export function isMaskable(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
      return v !== '';
    case 'number':
    case 'bigint':
    case 'symbol':
      return true;
    case 'object':
    case 'function':
      return v !== null;
    default:
      return false;
  }
}
