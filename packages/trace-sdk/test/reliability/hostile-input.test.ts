/**
 * Hostile input, fuzzed with fast-check: ids through `traceKey`, events through `record`, garbage
 * configurations through the transport factories and the recorder, and corrupt or truncated gzip
 * through `readTrace` and the CLI. Nothing crashes, hangs, throws an untyped error, or builds a key
 * outside `traces/<user_id>/`.
 */
import { writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { TRANSPORT_ENV_VARS, TRANSPORT_KINDS } from '../../src/config.js';
import {
  ConfigError,
  createTraceRecorder,
  parseTraceKey,
  readTraceLines,
  type TraceArtifact,
  TraceFormatError,
  TraceKeyError,
  type TraceTransport,
  traceKey,
  transportFromConfig,
  transportFromEnv,
} from '../../src/index.js';
import { tempDir } from './support.js';

/** Fails with a clear message instead of letting a hung read stall the suite. */
async function within<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A transport that keeps uploaded bodies in memory. */
function memoryTransport(): TraceTransport & { bodies: Map<string, Buffer> } {
  const bodies = new Map<string, Buffer>();
  return {
    name: 'memory',
    bodies,
    async upload(artifact: TraceArtifact) {
      const chunks: Buffer[] = [];
      for await (const chunk of artifact.open()) chunks.push(chunk as Buffer);
      bodies.set(artifact.key, Buffer.concat(chunks));
      return { key: artifact.key };
    },
  };
}

// ---- ids ----------------------------------------------------------------------------------------

/** Ids an attacker would try, next to what fast-check invents. */
const NASTY_IDS = [
  '',
  '.',
  '..',
  '...',
  '../other-user',
  'a/b',
  '/',
  '\\',
  '..\\..\\x',
  '%2e%2e',
  '%2F',
  'a\u0000b',
  'a\nb',
  '\r',
  ' a',
  'a ',
  '\t',
  '\u2028',
  '\u0085',
  '\ud800',
  'a\udc00',
  'x'.repeat(257),
  '\u00e9'.repeat(129),
  'traces',
  'C:',
  '~',
  '*',
  '?',
  '#',
  'user@example.com',
  'google-oauth2|1234',
  '01JD4Q9Z6XAB',
];

const idArbitrary = fc.oneof(
  fc.constantFrom(...NASTY_IDS),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.anything(),
);

describe('ids: traceKey never yields a key outside traces/<user_id>/', () => {
  it('either refuses with TraceKeyError or builds one normalized key inside the user prefix', () => {
    fc.assert(
      fc.property(idArbitrary, idArbitrary, (userId, taskId) => {
        let key: string;
        try {
          key = traceKey({ userId, taskId } as { userId: string; taskId: string });
        } catch (err) {
          expect(err).toBeInstanceOf(TraceKeyError);
          return;
        }
        const prefix = `traces/${userId as string}/`;
        expect(key.startsWith(prefix)).toBe(true);
        expect(key.slice(prefix.length)).toBe(`${taskId as string}.jsonl.gz`);
        expect(key.split('/')).toHaveLength(3);
        // As a path, the key stays where it says: no segment climbs out or collapses.
        expect(posix.normalize(key)).toBe(key);
        expect(posix.resolve('/bucket', key).startsWith(`/bucket/${prefix}`)).toBe(true);
        expect(parseTraceKey(key)).toEqual({ userId, taskId });
      }),
      { numRuns: 3000 },
    );
  });

  it('parseTraceKey accepts exactly the keys traceKey builds', () => {
    const keyish = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc
        .tuple(fc.constantFrom(...NASTY_IDS), fc.constantFrom(...NASTY_IDS))
        .map(([u, t]) => `traces/${u}/${t}.jsonl.gz`),
      fc.tuple(fc.string(), fc.string()).map(([u, t]) => `traces/${u}/${t}.jsonl.gz`),
      fc.constantFrom(
        'traces/a/b/c.jsonl.gz',
        'traces//t.jsonl.gz',
        'traces/../t.jsonl.gz',
        '/traces/u/t.jsonl.gz',
      ),
    );
    fc.assert(
      fc.property(keyish, (text) => {
        try {
          const parts = parseTraceKey(text);
          expect(traceKey(parts)).toBe(text);
        } catch (err) {
          expect(err).toBeInstanceOf(TraceKeyError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('createTraceRecorder refuses bad ids with TraceKeyError, and its key is traceKey otherwise', () => {
    fc.assert(
      fc.property(idArbitrary, idArbitrary, (userId, taskId) => {
        try {
          const rec = createTraceRecorder({ userId, taskId, transport: null } as never);
          expect(rec.key).toBe(traceKey({ userId, taskId } as { userId: string; taskId: string }));
          void rec.abort();
        } catch (err) {
          expect(err).toBeInstanceOf(TraceKeyError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

// ---- events -------------------------------------------------------------------------------------

/** Names a hostile value in fast-check's reports (printing it would trip its own traps). */
function labelled<T extends object>(value: T, label: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => label });
  return value;
}

/**
 * Events that fight back when the recorder reads their `event` field (a throwing `get` trap or
 * getter). The recorder drops them and counts them in `stats().errors`; see the report (they leave
 * no marker in the artifact).
 */
const FIGHTS_BACK = new WeakSet<object>();

/** Values JSON cannot hold, or that fight back when read. */
function hostileValues(): unknown[] {
  const circular: Record<string, unknown> = { name: 'loop' };
  circular['self'] = circular;
  const throwingGetter = Object.defineProperty({}, 'boom', {
    enumerable: true,
    get() {
      throw new Error('getter exploded');
    },
  });
  const throwingEventGetter = Object.defineProperty({ text: 'hi' }, 'event', {
    enumerable: true,
    get() {
      throw new Error('event getter exploded');
    },
  });
  FIGHTS_BACK.add(throwingEventGetter);
  const throwingToJson = { x: 1 };
  Object.defineProperty(throwingToJson, 'toJSON', {
    value: () => {
      throw new Error('toJSON exploded');
    },
  });
  const trapped = new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('ownKeys trap');
      },
      get(_target, property) {
        if (property === fc.toStringMethod) return () => 'Proxy(throwing traps)';
        throw new Error('get trap');
      },
    },
  );
  FIGHTS_BACK.add(trapped);
  let deep: unknown = 'bottom';
  for (let i = 0; i < 5000; i++) deep = { d: deep };
  let deepArray: unknown = [];
  for (let i = 0; i < 5000; i++) deepArray = [deepArray];
  return [
    labelled(circular, 'circular'),
    labelled(throwingGetter, 'throwing getter'),
    labelled(throwingEventGetter, 'throwing event getter'),
    labelled(throwingToJson, 'throwing toJSON'),
    trapped,
    labelled(deep as object, 'nested 5000 deep'),
    labelled(deepArray as object, 'arrays nested 5000 deep'),
    10n ** 30n,
    Symbol('s'),
    () => 1,
    new Error('an error with a stack'),
    new Date(Number.NaN),
    new Map([[{}, 1]]),
    new Set([1, 2]),
    new Uint8Array([1, 2, 3]),
    new ArrayBuffer(8),
    Number.NaN,
    -0,
    Number.POSITIVE_INFINITY,
    '\ud800 lone surrogate',
    'line\nbreak\u2028separator\u0000nul',
    'x'.repeat(300 * 1024),
    JSON.parse('{"__proto__": {"polluted": true}}'),
    Object.create(null),
    // A sparse array: holes, not undefineds.
    Object.assign(new Array(3), { 2: 1 }),
    labelled(
      new (class Weird {
        get [Symbol.toStringTag]() {
          throw new Error('tag');
        }
      })(),
      'throwing toStringTag',
    ),
  ];
}

const HOSTILE = hostileValues();

const valueArbitrary = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      withBoxedValues: true,
      withObjectString: true,
      stringUnit: 'binary',
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE) },
);

const eventArbitrary = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.string(), fc.constantFrom('TRAJECTORY_TURN', 'seq', '', 'x'.repeat(500)), fc.anything()),
        fc.dictionary(fc.string(), valueArbitrary, { maxKeys: 6 }),
      )
      .map(([event, fields]) => ({ ...fields, event })),
  },
  // Fields the recorder stamps, supplied by the caller: they must be replaced, not duplicated.
  {
    weight: 1,
    arbitrary: fc.record({
      event: fc.string(),
      seq: valueArbitrary,
      ts: valueArbitrary,
      task_id: valueArbitrary,
    }),
  },
  { weight: 1, arbitrary: valueArbitrary },
);

describe('events: record never throws, and the output is always a valid, counted trace', () => {
  let spool: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    spool = await tempDir('agent-trace-fuzz-');
  });
  afterAll(async () => {
    await spool.remove();
  });

  it('keeps every accepted event as one JSON line, with dense seq and header counts that match', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArbitrary, { maxLength: 12 }), fc.boolean(), async (events, small) => {
        const transport = memoryTransport();
        const rec = createTraceRecorder({
          userId: 'fuzz-user',
          taskId: 'fuzz-task',
          transport,
          spoolDir: spool.dir,
          // A small cap makes some events drop: dropped events must be counted, never written.
          ...(small ? { maxBytes: 4096 } : {}),
        });
        let kept = 0;
        const fighting = events.filter(
          (e) => typeof e === 'object' && e !== null && FIGHTS_BACK.has(e),
        ).length;
        for (const event of events) {
          let ok: boolean | undefined;
          expect(() => {
            ok = rec.record(event as never);
          }).not.toThrow();
          if (ok === true) kept++;
        }
        const stats = rec.stats();
        expect(stats.errors).toBeLessThanOrEqual(fighting);
        const result = await rec.finish();
        expect(result.status).toBe('uploaded');
        expect(result.events).toBe(kept);
        expect(result.events + result.dropped + stats.filtered + stats.errors).toBe(events.length);

        const body = transport.bodies.get(rec.key)!;
        const lines = [];
        for await (const line of readTraceLines(body)) lines.push(line);
        const [header, ...rest] = lines;
        expect(header!.value).toMatchObject({
          event: 'TRAJECTORY_ARTIFACT_HEADER',
          accumulated_events: kept,
          dropped: result.dropped,
          // Without newlines, as the Python agent counts.
          accumulated_bytes: rest.reduce((n, l) => n + l.bytes - 1, 0),
        });
        rest.forEach((line, seq) => {
          expect(line.value).toMatchObject({ task_id: 'fuzz-task', seq });
          expect(typeof line.value['event']).toBe('string');
          expect(typeof line.value['ts']).toBe('number');
          expect(line.text.isWellFormed()).toBe(true);
        });
        if (small) expect(result.uncompressedBytes).toBeLessThanOrEqual(4096);
      }),
      { numRuns: 150 },
    );
  });
});

// ---- bounded work -------------------------------------------------------------------------------

/** A list of `n` items that counts how many of them were read, without holding them. */
function countingList(n: number, item: () => unknown): { list: unknown[]; reads: () => number } {
  let reads = 0;
  const list = new Proxy([] as unknown[], {
    get(target, property, receiver) {
      if (property === 'length') return n;
      if (typeof property === 'string' && /^\d+$/.test(property)) {
        reads++;
        return item();
      }
      return Reflect.get(target, property, receiver);
    },
  });
  return { list, reads: () => reads };
}

/** Records one event on a fresh recorder; returns the written line, the result and the time taken. */
async function recordOne(dir: string, event: Record<string, unknown>) {
  const transport = memoryTransport();
  const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir: dir });
  const started = performance.now();
  const kept = rec.record(event as never);
  const ms = performance.now() - started;
  const result = await rec.finish();
  const lines = [];
  for await (const line of readTraceLines(transport.bodies.get(rec.key)!)) lines.push(line);
  return { kept, ms, result, line: lines[1]?.value };
}

// Safety bounds, not performance targets: without the byte budget counting every container these
// take minutes or exhaust memory (n = 27 killed the process), with it they take milliseconds.
describe('events whose work is exponential or unbounded: record() stays within its byte budget', () => {
  let spool: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    spool = await tempDir('agent-trace-bounded-');
  });
  afterAll(async () => {
    await spool.remove();
  });

  it('a shared-reference DAG with 2^30 paths (x = [x, x], the shape of YAML anchors)', async () => {
    let x: unknown = [];
    for (let i = 0; i < 30; i++) x = [x, x];
    const { kept, ms, line } = await recordOne(spool.dir, { event: 'DAG', x });
    expect(kept).toBe(true);
    expect(line).toMatchObject({ event: 'DAG', oversized: true, truncated: true });
    expect(ms).toBeLessThan(2000);
  });

  it('a wide shared-reference DAG (4^15 paths through objects)', async () => {
    let x: unknown = { leaf: 'v' };
    for (let i = 0; i < 15; i++) x = { a: x, b: x, c: x, d: x };
    const { kept, ms, line } = await recordOne(spool.dir, { event: 'WIDE', x });
    expect(kept).toBe(true);
    expect(line).toMatchObject({ event: 'WIDE', oversized: true });
    expect(ms).toBeLessThan(2000);
  });

  it('a DAG small enough to fit is written in full, as JSON.stringify writes it', async () => {
    let x: unknown = ['leaf'];
    for (let i = 0; i < 12; i++) x = [x, x];
    const { line } = await recordOne(spool.dir, { event: 'SMALL-DAG', x });
    expect(line?.['x']).toEqual(JSON.parse(JSON.stringify(x)));
  });

  it.each([
    ['empty objects', () => ({})],
    ['empty arrays', () => []],
    ['undefined items', () => undefined],
  ])('a list of 50 million %s is read only as far as the budget reaches', async (_name, item) => {
    const { list, reads } = countingList(50_000_000, item);
    const { kept, ms, line } = await recordOne(spool.dir, { event: 'EMPTIES', list });
    expect(kept).toBe(true);
    expect(line).toMatchObject({ event: 'EMPTIES', oversized: true });
    // Every item costs at least 2 characters of a budget of 16 x 256 KiB (then 2 x 256 KiB to shrink).
    expect(reads()).toBeLessThan(3_000_000);
    expect(ms).toBeLessThan(20_000);
  });

  it('an object with 200,000 keys holding undefined (nothing written, every key visited)', async () => {
    const many: Record<string, undefined> = {};
    for (let i = 0; i < 200_000; i++) many[`k${i}`] = undefined;
    const { kept, ms } = await recordOne(spool.dir, { event: 'UNDEFINEDS', many });
    expect(kept).toBe(true);
    expect(ms).toBeLessThan(20_000);
  });
});

// ---- configurations -----------------------------------------------------------------------------

/** Only the documented construction errors may escape a factory. */
function expectConfigOutcome(build: () => unknown): void {
  let built: unknown;
  try {
    built = build();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TraceKeyError) return;
    throw new Error(
      `expected ConfigError or TraceKeyError, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
      {
        cause: err,
      },
    );
  }
  expect(built).toBeTypeOf('object');
}

const garbage = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withBoxedValues: true,
});
/** Kinds that are not objects: an object kind trips a known bug (see below). */
const garbageKind = fc.oneof(
  fc.string(),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.constantFrom(null, undefined),
);
const urlish = fc.oneof(
  fc.webUrl({ withQueryParameters: true }),
  fc.constantFrom(
    'http://127.0.0.1:9/b/traces/u/t.jsonl.gz',
    'http://example.com/x',
    'ftp://x',
    'file:///etc/passwd',
    'not a url',
    'https://',
  ),
);

describe('configurations: garbage fails at construction with ConfigError or TraceKeyError only', () => {
  const OPTION_NAMES = [
    'url',
    'retry',
    'dispatcher',
    'headersTimeoutMs',
    'bodyTimeoutMs',
    'verifyEtag',
    'functionName',
    'client',
    'grant',
    'region',
    'endpoint',
    'payloadLimitBytes',
    'bucket',
    'forcePathStyle',
    'multipartThresholdBytes',
    'partSizeBytes',
    'queueSize',
    'dir',
  ];
  const retryish = fc.oneof(
    fc.constant(false),
    fc.record(
      {
        retries: fc.oneof(fc.integer({ min: -3, max: 10 }), garbage),
        minDelayMs: fc.oneof(fc.double(), garbage),
        maxDelayMs: fc.oneof(fc.double(), garbage),
        deadlineMs: fc.oneof(fc.double(), garbage),
      },
      { requiredKeys: [] },
    ),
    garbage,
  );

  it('transportFromConfig', () => {
    const config = fc.oneof(
      garbageKind,
      fc.array(fc.string()),
      fc
        .tuple(
          // Objects as the kind are a known bug (see below), kept out of this property.
          fc.oneof(fc.constantFrom(...TRANSPORT_KINDS), garbageKind),
          fc.dictionary(fc.constantFrom(...OPTION_NAMES), fc.oneof(garbage, urlish, fc.string())),
        )
        .map(([transport, options]) => ({ ...options, transport })),
    );
    fc.assert(
      fc.property(config, (c) => expectConfigOutcome(() => transportFromConfig(c as never))),
      { numRuns: 2000 },
    );
  });

  it('transportFromEnv', () => {
    const value = fc.oneof(
      fc.string(),
      urlish,
      fc.constantFrom(...TRANSPORT_KINDS),
      fc.constantFrom('eyJ2IjoxfQ.c2ln', ' ', ''),
    );
    const env = fc.dictionary(fc.oneof(fc.constantFrom(...TRANSPORT_ENV_VARS), fc.string()), value);
    fc.assert(
      fc.property(env, fc.option(retryish, { nil: undefined }), (e, retry) =>
        expectConfigOutcome(() => transportFromEnv(e, retry === undefined ? {} : ({ retry } as never))),
      ),
      { numRuns: 2000 },
    );
  });

  it('an object that cannot become a string as the transport kind', () => {
    for (const kind of [Object.create(null), { toString: '' }, { [Symbol.toPrimitive]: () => ({}) }]) {
      expectConfigOutcome(() => transportFromConfig({ transport: kind } as never));
    }
  });

  it('a garbage retry policy, through transportFromConfig and transportFromEnv', () => {
    const env = fc.constantFrom<Record<string, string>>(
      { TRACE_TRANSPORT: 'file', TRACE_DIR: '/nonexistent/agent-trace' },
      { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: 'http://127.0.0.1:9/b/traces/u/t.jsonl.gz' },
    );
    fc.assert(
      fc.property(env, retryish, (e, retry) => {
        expectConfigOutcome(() => transportFromEnv(e, { retry } as never));
        expectConfigOutcome(() =>
          transportFromConfig({ transport: 'file', dir: '/nonexistent/agent-trace', retry } as never),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('createTraceRecorder', () => {
    const options = fc.record(
      {
        userId: fc.oneof(fc.constant('user-1'), idArbitrary),
        taskId: fc.oneof(fc.constant('task-1'), idArbitrary),
        transport: fc.oneof(fc.constant(null), fc.constant(memoryTransport()), garbage),
        maxBytes: garbage,
        spoolDir: fc.oneof(garbage, fc.constantFrom('', ' ', '\u0000')),
        redact: garbage,
        redactPatterns: fc.oneof(
          garbage,
          fc.array(
            fc.record({
              label: fc.oneof(fc.string(), garbage),
              pattern: fc.oneof(fc.constant(/x/), fc.constant(/(a+)+$/), garbage),
            }),
          ),
        ),
        onTruncate: garbage,
        failOpen: garbage,
        limits: fc.oneof(
          garbage,
          fc.dictionary(
            fc.constantFrom(
              'maxEventBytes',
              'maxTextChars',
              'maxToolResultChars',
              'maxDepth',
              'spoolMemoryBytes',
            ),
            garbage,
          ),
        ),
        attribution: fc.oneof(garbage, fc.record({ operator: garbage })),
        now: garbage,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(options, (o) =>
        expectConfigOutcome(() => {
          const rec = createTraceRecorder(o as never);
          void rec.abort();
          return rec;
        }),
      ),
      { numRuns: 2000 },
    );
  });
});

// ---- corrupt and truncated gzip -----------------------------------------------------------------

/** A real artifact with several events members, and its lines. */
function sampleArtifact(): { bytes: Buffer; lines: string[] } {
  const events: string[] = [];
  for (let seq = 0; seq < 60; seq++) {
    events.push(
      JSON.stringify({
        event: 'TRAJECTORY_TURN',
        task_id: 't',
        seq,
        ts: 1_700_000_000_000 + seq,
        text: `turn ${seq} ${'z'.repeat(seq)}`,
      }),
    );
  }
  const text = events.map((l) => `${l}\n`).join('');
  const header = JSON.stringify({
    event: 'TRAJECTORY_ARTIFACT_HEADER',
    task_id: 't',
    user_id: 'u',
    accumulated_events: events.length,
    accumulated_bytes: Buffer.byteLength(text) - events.length,
    dropped: 0,
    max_bytes: 52428800,
  });
  const members = [gzipSync(`${header}\n`)];
  for (let i = 0; i < events.length; i += 20) {
    members.push(
      gzipSync(
        events
          .slice(i, i + 20)
          .map((l) => `${l}\n`)
          .join(''),
      ),
    );
  }
  return { bytes: Buffer.concat(members), lines: [header, ...events] };
}

const SAMPLE = sampleArtifact();

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array };

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('overwrite' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
);

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(input);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'flip') {
      if (at < out.length) out[at] = (out[at] ?? 0) ^ m.xor;
    } else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else {
      out = Buffer.from(out);
      out.set(m.bytes.subarray(0, Math.max(0, out.length - at)), at);
    }
  }
  return out;
}

const damagedArbitrary = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(mutationArbitrary, { minLength: 1, maxLength: 3 })
      .map((ms) => mutate(SAMPLE.bytes, ms)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary' }).map((s) => gzipSync(s)) },
  { weight: 1, arbitrary: fc.nat({ max: SAMPLE.bytes.length }).map((n) => SAMPLE.bytes.subarray(0, n)) },
);

/** Reads `bytes` fully; returns the line texts and the error that ended the read, if any. */
async function readDamaged(
  bytes: Uint8Array,
  requireHeader: boolean,
): Promise<{ lines: string[]; error?: unknown }> {
  const lines: string[] = [];
  try {
    for await (const line of readTraceLines(bytes, { requireHeader })) lines.push(line.text);
  } catch (error) {
    return { lines, error };
  }
  return { lines };
}

async function cli(argv: readonly string[]): Promise<{ code: number; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stdout.resume();
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(argv, {
    stdin: Readable.from([]),
    stdout,
    stderr,
    env: {},
    stderrIsTTY: false,
    columns: 80,
  });
  return { code, stderr: Buffer.concat(err).toString('utf8') };
}

describe('corrupt and truncated gzip: readTrace and the CLI fail typed, never crash or hang', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('agent-trace-gzip-fuzz-');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('the undamaged sample reads whole (the property below has a baseline)', async () => {
    expect(await readDamaged(SAMPLE.bytes, true)).toEqual({ lines: SAMPLE.lines });
  });

  it('readTrace yields only verified original lines, in order, then at most a TraceFormatError', async () => {
    await fc.assert(
      fc.asyncProperty(damagedArbitrary, fc.boolean(), async (bytes, requireHeader) => {
        const { lines, error } = await within(5000, 'readTrace', () => readDamaged(bytes, requireHeader));
        if (error !== undefined) {
          expect(error, String(error)).toBeInstanceOf(TraceFormatError);
          expect((error as TraceFormatError).linesRead).toBe(lines.length);
        }
        // Damage never surfaces as data: what was yielded is a prefix of the original lines (inputs
        // unrelated to the sample are only checked for the typed failure).
        if (lines.length > 0 && lines[0] === SAMPLE.lines[0])
          expect(lines).toEqual(SAMPLE.lines.slice(0, lines.length));
      }),
      { numRuns: 1500 },
    );
  });

  it('bounds what a decompression bomb can cost: an endless line is refused, not buffered', async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x61));
    const { error } = await within(10_000, 'readTrace of a bomb', () => readDamaged(bomb, false));
    expect(error).toBeInstanceOf(TraceFormatError);
    expect((error as TraceFormatError).code).toBe('ERR_TRACE_CORRUPT');
  });

  it('`agent-trace cat`, `cat --recover` and `verify` exit 0, 1 or 3 with one typed line, never a crash', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(damagedArbitrary, async (bytes) => {
        const file = join(dir.dir, `damaged-${n++}.jsonl.gz`);
        await writeFile(file, bytes);
        for (const argv of [
          ['cat', file],
          ['cat', '--recover', file],
          ['verify', file],
        ]) {
          const run = await within(5000, argv.join(' '), () => cli(argv));
          expect([0, 1, 3], `${argv.join(' ')}: ${run.stderr}`).toContain(run.code);
          expect(run.stderr).not.toContain('ERR_UNEXPECTED');
          expect(run.stderr).not.toMatch(/\n\s+at /);
          if (run.code !== 0) expect(run.stderr).toMatch(/^agent-trace: .*\((ERR_[A-Z_]+)\)\n/);
        }
      }),
      { numRuns: 200 },
    );
  });
});
