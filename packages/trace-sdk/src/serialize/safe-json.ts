/**
 * Safe JSON: turns any JavaScript value into JSON text in one pass, redacting every string and key
 * on the way, and never throws on bad data.
 *
 * A single walker rather than `JSON.stringify` with a replacer: the replacer cannot rename keys,
 * see how deep it is, or survive a throwing getter, and the fallback it would need is this walker
 * anyway. The walker builds strings directly (pino-style), quotes strings with the engine's own
 * `JSON.stringify`, and caches the quoted form of clean keys, so its cost is dominated by the
 * redaction pre-check over the string bytes.
 *
 * Values JSON cannot hold become:
 *
 * | Value                              | Written as                                                |
 * | ---------------------------------- | --------------------------------------------------------- |
 * | `undefined`                        | property omitted; `null` in arrays                        |
 * | `NaN`, `Infinity`                  | `null` (as `JSON.stringify`)                              |
 * | BigInt                             | its decimal string, e.g. `"12345678901234567890"`         |
 * | function                           | `"[Function name]"`                                       |
 * | symbol                             | `"[Symbol(description)]"`                                 |
 * | `Error`                            | `{ "name", "message", "stack", ...own props, "cause" }`   |
 * | `Date`                             | ISO string (its `toJSON`)                                 |
 * | `Map`                              | object when every key is a string/number/boolean, else `[[key, value], ...]` |
 * | `Set`                              | array                                                     |
 * | Buffer, typed array, `DataView`, `ArrayBuffer` | `"[Uint8Array 1234 bytes]"`                   |
 * | boxed primitive                    | the primitive                                             |
 * | a circular reference               | `"[Circular]"`                                            |
 * | nesting deeper than `maxDepth`     | `"[Max depth]"`                                           |
 * | `toJSON` that throws               | `"[toJSON threw: TypeError]"`                             |
 * | a getter or Proxy trap that throws | `"[Unserializable: TypeError]"`                           |
 *
 * Bounded work: the writer counts every character it writes (punctuation and empty containers
 * included) and one unit for every value it visits but omits, and stops with
 * {@link SizeBudgetExceeded} as soon as that count passes its budget. A shared reference is written
 * again each time it is met (as `JSON.stringify` does; only ancestors are `[Circular]`), so a graph
 * with exponentially many paths (`x = [x, x]` thirty times) costs at most the budget, never 2^30.
 * Past a few thousand containers in one value, a large container met again is not walked again: its
 * text from the first visit is reused (with its redaction counts) when nothing in it depended on
 * where it was (no `[Circular]` or `[Max depth]` inside), so such a graph costs a few thousand visits.
 *
 * @packageDocumentation
 */
import { RedactionFailure, Redactor, secretLabelForKey } from './redact.js';
import { redactAndTruncate } from './truncate.js';

/**
 * Per-field character limits by property name: a number limits the string value of that property
 * (and, for an array value, its string items and the `text` of its object items); a nested shape
 * applies to an object value, or to each object item of an array value.
 */
export interface FieldShape {
  readonly [key: string]: number | FieldShape;
}

type Rule = number | FieldShape | undefined;

/** The text of a container already written in this value, and what writing it counted. */
interface Memo {
  readonly json: string;
  readonly rule: Rule;
  /** How many levels below the container its deepest descendant was. */
  readonly height: number;
  readonly redactions: number;
  readonly truncated: number;
}

/** Thrown (and caught by the caller) when the work done passes {@link JsonWriter.budget}. */
export class SizeBudgetExceeded extends Error {
  constructor() {
    super('Serialized output exceeds its budget');
    this.name = 'SizeBudgetExceeded';
  }
}
const BUDGET_EXCEEDED = new SizeBudgetExceeded();

const CIRCULAR = '"[Circular]"';
const MAX_DEPTH = '"[Max depth]"';
/** Work budget of {@link safeStringify} (characters written plus values visited). */
const SAFE_STRINGIFY_BUDGET = 64 * 1024 * 1024;
/** Containers visited in one value before the writer starts remembering their text (see `memo`). */
const MEMO_AFTER_CONTAINERS = 4096;
/** Only containers with at least this many containers inside are remembered: re-walking smaller ones is cheap. */
const MEMO_MIN_CONTAINERS = 32;
/** Quoted clean keys kept per writer. */
const KEY_CACHE_MAX = 4096;
const KEY_CACHE_MAX_LENGTH = 256;
const SAFE_NAME = /^[\w$.:-]{1,64}$/;

interface KeyInfo {
  /** The key, redacted and JSON-quoted. */
  readonly json: string;
  /** Set when the key names a credential: its string value is replaced whole. */
  readonly valueLabel: string | undefined;
}

/** Builds a null-prototype shape, so no property name can reach `Object.prototype`. */
export function fieldShape(fields: Record<string, number | FieldShape>): FieldShape {
  return Object.assign(Object.create(null) as Record<string, number | FieldShape>, fields);
}

const textShapes = new Map<number, FieldShape>();
function textShape(limit: number): FieldShape {
  let shape = textShapes.get(limit);
  if (shape === undefined) {
    shape = fieldShape({ text: limit });
    if (textShapes.size < 64) textShapes.set(limit, shape);
  }
  return shape;
}

/** A short, safe name for an error in a marker (never its message, which may hold data). */
function errorName(err: unknown): string {
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

function functionName(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? name : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

function constructorName(v: object): string {
  try {
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && SAFE_NAME.test(name)) return name;
  } catch {
    // Fall through.
  }
  return 'Object';
}

function readProperty(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch (err) {
    return `[Unserializable: ${errorName(err)}]`;
  }
}

/**
 * Serializes values to JSON text with redaction, per-field truncation and an optional global
 * string cap. One writer per recorder: it owns a {@link Redactor} (and its count) and a key cache.
 * Not re-entrant.
 */
export class JsonWriter {
  /** Redacts every string and key written. */
  readonly redactor: Redactor;
  /** Containers nested deeper than this are written as `"[Max depth]"`. */
  readonly maxDepth: number;
  /** Strings longer than this are cut, whatever their field (the oversize pass). */
  stringCap = Number.POSITIVE_INFINITY;
  /**
   * Work (see {@link JsonWriter.size}) past which {@link SizeBudgetExceeded} is thrown. It bounds
   * the time and memory of one value, whatever its shape.
   */
  budget = Number.POSITIVE_INFINITY;
  /**
   * Work done since the last {@link JsonWriter.reset}: every UTF-16 unit written (strings, keys,
   * scalars, punctuation, `[]` and `{}`), plus one for each value visited and left out
   * (`undefined`, functions under a key). At least the output length.
   */
  size = 0;
  /** Strings cut so far. */
  truncated = 0;
  /** Longest string met (before any cut) since the last {@link JsonWriter.reset}. */
  longestString = 0;

  private readonly stack: object[] = [];
  /** Containers visited since the last reset. */
  private containers = 0;
  /** `[Circular]` and `[Max depth]` markers written since the last reset. */
  private cutoffs = 0;
  /** Deepest container depth reached in the container being written. */
  private deepest = 0;
  /** Text of containers written in this value, kept once it has many (shared references). */
  private memo: Map<object, Memo> | undefined;
  private readonly keyCache = new Map<string, KeyInfo>();
  private readonly redact: (s: string) => string;

  constructor(redactor: Redactor, opts: { maxDepth?: number } = {}) {
    this.redactor = redactor;
    this.maxDepth = opts.maxDepth ?? 64;
    this.redact = (s) => redactor.redact(s);
  }

  /** Starts a new top-level value: clears the size, string cap and budget. */
  reset(stringCap = Number.POSITIVE_INFINITY, budget = Number.POSITIVE_INFINITY): void {
    this.stringCap = stringCap;
    this.budget = budget;
    this.size = 0;
    this.longestString = 0;
    this.stack.length = 0;
    this.containers = 0;
    this.cutoffs = 0;
    this.deepest = 0;
    this.memo = undefined;
  }

  /**
   * JSON text of `value`, or `undefined` when JSON has none (`undefined` itself).
   *
   * @throws {@link RedactionFailure} when a user redaction pattern throws.
   * @throws {@link SizeBudgetExceeded} when the output passes {@link JsonWriter.budget}.
   */
  value(v: unknown, depth = 0, rule: Rule = undefined): string | undefined {
    switch (typeof v) {
      case 'string':
        return this.string(v, typeof rule === 'number' ? rule : Number.POSITIVE_INFINITY);
      case 'number': {
        const s = Number.isFinite(v) ? String(v) : 'null';
        this.charge(s.length);
        return s;
      }
      case 'boolean':
        this.charge(5);
        return v ? 'true' : 'false';
      case 'object':
        if (v === null) {
          this.charge(4);
          return 'null';
        }
        return this.object(v, depth, rule);
      case 'bigint':
        return this.string(v.toString(), Number.POSITIVE_INFINITY);
      case 'function':
        return this.marker(`[Function ${functionName(v)}]`);
      case 'symbol':
        return this.marker(`[${v.toString()}]`);
      default:
        // `undefined`: nothing is written, but visiting it is work all the same.
        this.charge(1);
        return undefined;
    }
  }

  /** Adds `n` to {@link JsonWriter.size}; throws once it passes the budget. */
  private charge(n: number): void {
    this.size += n;
    if (this.size > this.budget) throw BUDGET_EXCEEDED;
  }

  /**
   * The members of `obj` as `"key":value` pairs joined by commas (no braces), skipping the names
   * in `skip`. Each property that cannot be read becomes a marker; the rest are kept.
   */
  members(obj: object, depth: number, shape: FieldShape | undefined, skip?: ReadonlySet<string>): string {
    const keys = Object.keys(obj);
    let out = '';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (skip?.has(key)) continue;
      const info = this.key(key);
      let s: string | undefined;
      try {
        const v = (obj as Record<string, unknown>)[key];
        if (info.valueLabel !== undefined && isMaskable(v)) {
          // A credential-named key: its value goes whole, whatever its type (a string, a number,
          // an array of tokens, an object of credentials).
          s = JSON.stringify(this.redactor.redactWhole(info.valueLabel));
          this.charge(s.length);
        } else {
          s = this.value(v, depth + 1, shape === undefined ? undefined : shape[key]);
        }
      } catch (err) {
        s = this.unserializable(err);
      }
      if (s === undefined) continue;
      // The key, its colon and the comma before it.
      this.charge(info.json.length + 2);
      out += out === '' ? `${info.json}:${s}` : `,${info.json}:${s}`;
    }
    return out;
  }

  /** A marker string (redacted and quoted like any other string). */
  marker(text: string): string {
    return this.string(text, Number.POSITIVE_INFINITY);
  }

  private string(s: string, limit: number): string {
    if (s.length > this.longestString) this.longestString = s.length;
    const cap = Math.min(limit, this.stringCap);
    let text: string;
    if (s.length > cap) {
      const r = redactAndTruncate(s, cap, this.redact);
      if (r.truncated) this.truncated++;
      text = r.text;
    } else {
      // Refuse to copy a huge string twice (redaction, quoting) only to find it is too large.
      if (s.length > this.budget) throw BUDGET_EXCEEDED;
      text = this.redactor.redact(s);
    }
    const quoted = JSON.stringify(text);
    this.charge(quoted.length);
    return quoted;
  }

  private key(key: string): KeyInfo {
    const cached = this.keyCache.get(key);
    if (cached !== undefined) return cached;
    // As for values: never redact a key longer than what may still be written.
    if (key.length > this.budget - this.size) throw BUDGET_EXCEEDED;
    const before = this.redactor.count;
    const info: KeyInfo = {
      json: JSON.stringify(this.redactor.redact(key)),
      valueLabel: secretLabelForKey(key),
    };
    // Keys that needed redaction are redone (and counted) every time.
    if (
      this.redactor.count === before &&
      key.length <= KEY_CACHE_MAX_LENGTH &&
      this.keyCache.size < KEY_CACHE_MAX
    ) {
      this.keyCache.set(key, info);
    }
    return info;
  }

  private object(v: object, depth: number, rule: Rule): string | undefined {
    if (depth >= this.maxDepth) {
      this.cutoffs++;
      this.charge(MAX_DEPTH.length);
      return MAX_DEPTH;
    }
    const stack = this.stack;
    if (stack.includes(v)) {
      this.cutoffs++;
      this.charge(CIRCULAR.length);
      return CIRCULAR;
    }
    if (this.memo !== undefined) {
      const m = this.memo.get(v);
      if (m !== undefined && m.rule === rule && depth + m.height < this.maxDepth) {
        this.charge(m.json.length);
        this.redactor.count += m.redactions;
        this.truncated += m.truncated;
        return m.json;
      }
    }
    if (++this.containers <= MEMO_AFTER_CONTAINERS) return this.walk(v, depth, rule);
    // Many containers: remember this one's text, in case it is met again.
    const containers = this.containers;
    const cutoffs = this.cutoffs;
    const redactions = this.redactor.count;
    const truncated = this.truncated;
    const deepest = this.deepest;
    this.deepest = depth;
    const json = this.walk(v, depth, rule);
    const height = this.deepest - depth;
    this.deepest = Math.max(deepest, this.deepest);
    if (
      json !== undefined &&
      this.cutoffs === cutoffs &&
      this.containers - containers >= MEMO_MIN_CONTAINERS
    ) {
      this.memo ??= new Map();
      this.memo.set(v, {
        json,
        rule,
        height,
        redactions: this.redactor.count - redactions,
        truncated: this.truncated - truncated,
      });
    }
    return json;
  }

  /** Writes a container that is neither too deep nor an ancestor of itself. */
  private walk(v: object, depth: number, rule: Rule): string | undefined {
    if (depth > this.deepest) this.deepest = depth;
    const stack = this.stack;
    const height = stack.length;
    stack.push(v);
    try {
      if (Array.isArray(v)) return this.array(v, depth, rule);
      // Fast path: a plain object without toJSON (the shape of nearly every event field).
      const proto = Object.getPrototypeOf(v);
      if (
        (proto === Object.prototype || proto === null) &&
        typeof (v as { toJSON?: unknown }).toJSON !== 'function'
      ) {
        const shape =
          typeof rule === 'object' ? rule : typeof rule === 'number' ? textShape(rule) : undefined;
        this.charge(2);
        return `{${this.members(v, depth, shape)}}`;
      }
      if (ArrayBuffer.isView(v)) return this.marker(`[${constructorName(v)} ${v.byteLength} bytes]`);
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        let r: unknown;
        try {
          r = toJSON.call(v, '');
        } catch (err) {
          return this.marker(`[toJSON threw: ${errorName(err)}]`);
        }
        // As JSON.stringify: what toJSON returns is written instead (`undefined` omits the property).
        if (r !== v) return this.value(r, depth + 1, rule);
      }
      if (v instanceof Error) return this.error(v, depth);
      if (v instanceof Map) return this.map(v, depth);
      if (v instanceof Set) return this.array(Array.from(v), depth, undefined);
      if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) {
        return this.marker(`[${constructorName(v)} ${v.byteLength} bytes]`);
      }
      if (v instanceof String || v instanceof Number || v instanceof Boolean || v instanceof BigInt) {
        return this.value(v.valueOf(), depth, rule);
      }
      const shape = typeof rule === 'object' ? rule : typeof rule === 'number' ? textShape(rule) : undefined;
      this.charge(2);
      return `{${this.members(v, depth, shape)}}`;
    } finally {
      stack.length = height;
    }
  }

  private array(v: readonly unknown[], depth: number, rule: Rule): string {
    const length = v.length;
    // The brackets; then a comma (or the item's `null`) per item, so even a sparse array is bounded.
    this.charge(2);
    if (length === 0) return '[]';
    let out = '[';
    for (let i = 0; i < length; i++) {
      let s: string | undefined;
      try {
        s = this.value(v[i], depth + 1, rule);
      } catch (err) {
        s = this.unserializable(err);
      }
      if (s === undefined) {
        s = 'null';
        this.charge(4);
      }
      if (i > 0) this.charge(1);
      out += i === 0 ? s : `,${s}`;
    }
    return `${out}]`;
  }

  private error(e: Error, depth: number): string {
    const fields: Record<string, unknown> = {
      name: readProperty(e, 'name'),
      message: readProperty(e, 'message'),
      stack: readProperty(e, 'stack'),
    };
    for (const key of Object.keys(e)) fields[key] = readProperty(e, key);
    if ('cause' in e) fields['cause'] = readProperty(e, 'cause');
    this.charge(2);
    return `{${this.members(fields, depth, undefined)}}`;
  }

  private map(m: Map<unknown, unknown>, depth: number): string {
    const entries = Array.from(m);
    const plainKeys = entries.every(
      ([k]) => typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean',
    );
    if (!plainKeys) return this.array(entries, depth, undefined);
    const obj: Record<string, unknown> = Object.create(null);
    for (const [k, val] of entries) obj[String(k)] = val;
    this.charge(2);
    return `{${this.members(obj, depth, undefined)}}`;
  }

  /** The marker for a value whose reading threw; budget and redaction failures propagate. */
  private unserializable(err: unknown): string {
    if (err === BUDGET_EXCEEDED || err instanceof RedactionFailure) throw err;
    return this.marker(`[Unserializable: ${errorName(err)}]`);
  }
}

/** Whether a credential-named key's value is masked: anything that can hold data, not `true`/`null`. */
function isMaskable(v: unknown): boolean {
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

/**
 * JSON text for any value, with the built-in redaction applied to every string and key. Never
 * throws on bad data; `undefined` gives `"null"`. The work is bounded (64 Mi characters written or
 * values visited): past it, the result is `"[Unserializable: SizeBudgetExceeded]"`.
 *
 * @example
 * safeStringify({ n: 1n, self: undefined, f() {} }) // '{"n":"1","f":"[Function f]"}'
 */
export function safeStringify(value: unknown, opts: { maxDepth?: number } = {}): string {
  const writer = new JsonWriter(new Redactor(), opts);
  writer.reset(Number.POSITIVE_INFINITY, SAFE_STRINGIFY_BUDGET);
  try {
    return writer.value(value) ?? 'null';
  } catch (err) {
    return JSON.stringify(`[Unserializable: ${errorName(err)}]`);
  }
}
