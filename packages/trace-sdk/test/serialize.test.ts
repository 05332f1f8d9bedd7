import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../src/serialize/redact.js';
import { fieldShape, JsonWriter, SizeBudgetExceeded, safeStringify } from '../src/serialize/safe-json.js';
import { hostileValue } from './recorder-support.js';

const AKIA = `AKIA${'IOSFODNN7EXAMPLE'}`;

function parse(value: unknown): unknown {
  return JSON.parse(safeStringify(value));
}

describe('safeStringify: plain JSON', () => {
  it('matches JSON.stringify for JSON-safe values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // No secrets in generated ASCII-ish data is not guaranteed, so compare parsed shapes only
        // where redaction changed nothing.
        const expected = JSON.stringify(v);
        if (new Redactor().redact(expected) !== expected) return;
        expect(safeStringify(v)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('omits undefined properties and writes undefined array items as null', () => {
    expect(safeStringify({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it('writes NaN and Infinity as null, -0 as 0', () => {
    expect(safeStringify([Number.NaN, Number.POSITIVE_INFINITY, -0])).toBe('[null,null,0]');
  });

  it('writes repeated (non-circular) references in full each time', () => {
    const shared = { x: 1 };
    expect(parse({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });
});

describe('safeStringify: values JSON cannot hold', () => {
  it('BigInt becomes its decimal string', () => {
    expect(parse({ n: 12345678901234567890n })).toEqual({ n: '12345678901234567890' });
  });

  it('functions and symbols become markers', () => {
    function namedFn() {}
    expect(parse({ f: namedFn, g: () => 1, s: Symbol('why'), arr: [Symbol.iterator] })).toEqual({
      f: '[Function namedFn]',
      g: '[Function g]',
      s: '[Symbol(why)]',
      arr: ['[Symbol(Symbol.iterator)]'],
    });
  });

  it('Errors become { name, message, stack, own props, cause }', () => {
    const cause = new RangeError('inner');
    const err = Object.assign(new TypeError('outer', { cause }), { code: 'E_X' });
    const out = parse({ err }) as { err: Record<string, unknown> };
    expect(out.err['name']).toBe('TypeError');
    expect(out.err['message']).toBe('outer');
    expect(out.err['code']).toBe('E_X');
    expect(String(out.err['stack'])).toContain('TypeError: outer');
    expect((out.err['cause'] as Record<string, unknown>)['message']).toBe('inner');
  });

  it('an Error whose cause is itself is cut as circular', () => {
    const err = new Error('loop');
    (err as { cause?: unknown }).cause = err;
    expect((parse(err) as Record<string, unknown>)['cause']).toBe('[Circular]');
  });

  it('circular references become "[Circular]"', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a['self'] = a;
    a['list'] = [a, { back: a }];
    expect(parse(a)).toEqual({ name: 'a', self: '[Circular]', list: ['[Circular]', { back: '[Circular]' }] });
  });

  it('Map and Set become objects and arrays', () => {
    expect(
      parse({
        m: new Map<unknown, unknown>([
          ['a', 1],
          [2, 'b'],
        ]),
        s: new Set([1, 'x']),
      }),
    ).toEqual({
      m: { a: 1, '2': 'b' },
      s: [1, 'x'],
    });
    expect(parse(new Map([[{ k: 1 }, 'v']]))).toEqual([[{ k: 1 }, 'v']]);
  });

  it('binary data becomes a short marker', () => {
    expect(
      parse({
        buf: Buffer.alloc(1000),
        u8: new Uint8Array(3),
        f64: new Float64Array(2),
        ab: new ArrayBuffer(7),
        dv: new DataView(new ArrayBuffer(4)),
      }),
    ).toEqual({
      buf: '[Buffer 1000 bytes]',
      u8: '[Uint8Array 3 bytes]',
      f64: '[Float64Array 16 bytes]',
      ab: '[ArrayBuffer 7 bytes]',
      dv: '[DataView 4 bytes]',
    });
  });

  it('Dates become ISO strings (invalid ones null), boxed primitives their value', () => {
    expect(
      parse({
        d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
        bad: new Date(Number.NaN),
        s: new String('x'),
        n: new Number(3),
        b: new Boolean(false),
      }),
    ).toEqual({ d: '2024-01-02T03:04:05.000Z', bad: null, s: 'x', n: 3, b: false });
  });

  it('uses toJSON, and a toJSON that throws becomes a marker', () => {
    const ok = { toJSON: () => ({ replaced: true }) };
    const bad = {
      toJSON() {
        throw new SyntaxError('nope');
      },
    };
    expect(parse({ ok, bad, gone: { toJSON: () => undefined } })).toEqual({
      ok: { replaced: true },
      bad: '[toJSON threw: SyntaxError]',
    });
  });

  it('a getter that throws becomes a marker; the other properties are kept', () => {
    const obj = {
      before: 1,
      get boom(): never {
        throw new TypeError('getter');
      },
      after: 2,
    };
    expect(parse(obj)).toEqual({ before: 1, boom: '[Unserializable: TypeError]', after: 2 });
  });

  it('Proxies whose traps throw become markers', () => {
    const throwing = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('ownKeys');
        },
      },
    );
    const getThrows = new Proxy(
      { a: 1 },
      {
        get() {
          throw new Error('get');
        },
      },
    );
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    expect(parse({ throwing, getThrows, revoked: revocable.proxy, ok: 1 })).toEqual({
      throwing: '[Unserializable: Error]',
      // Even `toJSON` cannot be looked up: the whole object is a marker.
      getThrows: '[Unserializable: Error]',
      revoked: '[Unserializable: TypeError]',
      ok: 1,
    });
  });

  it('caps nesting with "[Max depth]"', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const text = safeStringify(deep, { maxDepth: 5 });
    expect(JSON.parse(text)).toEqual({ d: { d: { d: { d: { d: '[Max depth]' } } } } });
    // The default depth survives very deep input too.
    expect(() => JSON.parse(safeStringify(deep))).not.toThrow();
  });

  it('never throws and always returns valid JSON, whatever the value', () => {
    fc.assert(
      fc.property(hostileValue(), (v) => {
        const text = safeStringify(v);
        expect(() => JSON.parse(text)).not.toThrow();
      }),
      { numRuns: 400 },
    );
  });
});

describe('safeStringify: redaction', () => {
  it('redacts string values, object keys and markers', () => {
    const out = safeStringify({ [`key-${AKIA}`]: `value ${AKIA}`, fn: { [AKIA]: 1 } });
    expect(out).not.toContain(AKIA);
    expect(out).toContain('[REDACTED-AWS-ACCESS-KEY-ID]');
  });

  it('replaces the whole value of a secret-named key', () => {
    expect(
      parse({
        Result: { AccessKeyId: 'x', SecretAccessKey: 'abc', SessionToken: 'tok' },
        password: 'p',
      }),
    ).toEqual({
      Result: {
        AccessKeyId: 'x',
        SecretAccessKey: '[REDACTED-AWS-SECRET-KEY]',
        SessionToken: '[REDACTED-AWS-SECURITY-TOKEN]',
      },
      password: '[REDACTED-PASSWORD]',
    });
  });

  it('replaces the value of a secret-named key whatever its type, but keeps flags and nulls', () => {
    expect(
      parse({
        api_key: ['k1', 'k2'],
        apiKey: 12345678,
        token: { value: 'abc', expires: 1 },
        client_secret: 99n,
        authorization: () => 1,
        private_key: { kty: 'RSA', d: 'xyz' },
        GITHUB_TOKEN: 'ghx',
        OPENAI_API_KEY: 'sk',
        Credentials: { AccessKeyId: 'x', SecretAccessKey: 'abc' },
        password: true,
        secret: null,
        token_count: 3,
        max_tokens: 1024,
      }),
    ).toEqual({
      api_key: '[REDACTED-SECRET]',
      apiKey: '[REDACTED-SECRET]',
      token: '[REDACTED-SECRET]',
      client_secret: '[REDACTED-SECRET]',
      authorization: '[REDACTED-SECRET]',
      private_key: '[REDACTED-PRIVATE-KEY]',
      GITHUB_TOKEN: '[REDACTED-SECRET]',
      OPENAI_API_KEY: '[REDACTED-SECRET]',
      Credentials: '[REDACTED-SECRET]',
      password: true,
      secret: null,
      token_count: 3,
      max_tokens: 1024,
    });
  });

  it('counts every replacement, including repeated secret keys (no caching of redacted keys)', () => {
    const redactor = new Redactor();
    const writer = new JsonWriter(redactor);
    writer.value({ [AKIA]: AKIA, nested: [{ [AKIA]: 1 }], password: 'x' });
    expect(redactor.count).toBe(4);
  });
});

describe('JsonWriter: field limits, string cap and budget', () => {
  it('applies per-field limits by shape, to strings and to text blocks of arrays', () => {
    const writer = new JsonWriter(new Redactor());
    const shape = fieldShape({ text: 5, results: fieldShape({ content: 3 }) });
    const out = JSON.parse(
      `{${writer.members(
        {
          text: 'abcdefgh',
          other: 'abcdefgh',
          results: [
            { content: 'abcdef' },
            { content: [{ type: 'text', text: 'abcdef' }, 'abcdef', { type: 'image', data: 'abcdef' }] },
          ],
        },
        0,
        shape,
      )}}`,
    );
    expect(out).toEqual({
      text: 'abcde... [truncated, 8 chars total]',
      other: 'abcdefgh',
      results: [
        { content: 'abc... [truncated, 6 chars total]' },
        {
          content: [
            { type: 'text', text: 'abc... [truncated, 6 chars total]' },
            'abc... [truncated, 6 chars total]',
            { type: 'image', data: 'abcdef' },
          ],
        },
      ],
    });
    expect(writer.truncated).toBe(4);
  });

  it('the string cap cuts every string, and the budget stops early', () => {
    const writer = new JsonWriter(new Redactor());
    writer.reset(2);
    expect(writer.value({ a: 'xyz', b: 'xy' })).toBe('{"a":"xy... [truncated, 3 chars total]","b":"xy"}');
    writer.reset(Number.POSITIVE_INFINITY, 100);
    expect(() => writer.value(['x'.repeat(60), 'y'.repeat(60)])).toThrow(SizeBudgetExceeded);
    writer.reset(Number.POSITIVE_INFINITY, 100);
    expect(() => writer.value(new Array(1_000_000))).toThrow(SizeBudgetExceeded);
  });

  it('counts punctuation and empty containers against the budget', () => {
    const writer = new JsonWriter(new Redactor());
    const empties = [Array.from({ length: 40 }, () => []), Array.from({ length: 40 }, () => ({}))];
    for (const value of empties) {
      writer.reset(Number.POSITIVE_INFINITY, 100);
      // 40 x "[]" plus commas is 121 characters: past 100.
      expect(() => writer.value(value)).toThrow(SizeBudgetExceeded);
      writer.reset(Number.POSITIVE_INFINITY, 200);
      const out = writer.value(value)!;
      expect(writer.size).toBeGreaterThanOrEqual(out.length);
    }
    // Omitted values still cost a unit each: a million undefined properties is work too.
    const undefineds: Record<string, undefined> = {};
    for (let i = 0; i < 200; i++) undefineds[`k${i}`] = undefined;
    writer.reset(Number.POSITIVE_INFINITY, 150);
    expect(() => writer.value(undefineds)).toThrow(SizeBudgetExceeded);
  });

  it('size is never less than the length of what was written (property)', () => {
    const writer = new JsonWriter(new Redactor());
    fc.assert(
      fc.property(fc.anything({ withMap: true, withSet: true, withSparseArray: true }), (v) => {
        writer.reset();
        const out = writer.value(v) ?? '';
        expect(writer.size).toBeGreaterThanOrEqual(out.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('JsonWriter: shared references', () => {
  /** A DAG: `levels` pairs of references to the same array, over a leaf. */
  function dag(levels: number, leaf: unknown): unknown {
    let x: unknown = leaf;
    for (let i = 0; i < levels; i++) x = [x, { left: x, right: x }];
    return x;
  }

  it('writes a DAG exactly as its tree copy, with the same redaction counts', () => {
    // 3^10 paths: enough containers that the writer reuses shared ones.
    const shared = dag(10, [`id ${AKIA}`, { password: 'p', n: 1 }]);
    const tree = JSON.parse(JSON.stringify(shared));
    const a = new Redactor();
    const b = new Redactor();
    const fromDag = new JsonWriter(a).value(shared);
    const fromTree = new JsonWriter(b).value(tree);
    expect(fromDag).toBe(fromTree);
    expect(a.count).toBe(b.count);
    expect(a.count).toBe(2 * 3 ** 10);
  });

  it('a shared container still becomes [Max depth] where the copy would', () => {
    const leaf = { deep: { deeper: { deepest: 1 } } };
    const shared = dag(9, leaf);
    const tree = JSON.parse(JSON.stringify(shared));
    const opts = { maxDepth: 12 };
    expect(new JsonWriter(new Redactor(), opts).value(shared)).toBe(
      new JsonWriter(new Redactor(), opts).value(tree),
    );
  });

  it('stops a DAG with 2^40 paths within its budget, quickly', () => {
    let x: unknown = [];
    for (let i = 0; i < 40; i++) x = [x, x];
    const writer = new JsonWriter(new Redactor());
    writer.reset(Number.POSITIVE_INFINITY, 1024 * 1024);
    expect(() => writer.value(x)).toThrow(SizeBudgetExceeded);
    expect(writer.size).toBeLessThan(2 * 1024 * 1024);
  });
});
