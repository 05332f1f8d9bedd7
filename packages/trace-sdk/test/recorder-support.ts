/**
 * Helpers shared by the recorder tests: an in-memory transport, a transport that fails, reading a
 * body back, and temp spool directories.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { readTrace, type TraceArtifact, type TraceTransport, type UploadReceipt } from '../src/index.js';

/** An upload the memory transport received. */
export interface StoredUpload {
  readonly key: string;
  readonly body: Buffer;
  readonly artifact: TraceArtifact;
  readonly signal: AbortSignal | undefined;
}

/** A transport that keeps every body in memory. */
export interface MemoryTransport extends TraceTransport {
  readonly uploads: StoredUpload[];
}

export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

export function memoryTransport(name = 'memory'): MemoryTransport {
  const uploads: StoredUpload[] = [];
  return {
    name,
    uploads,
    async upload(artifact, opts): Promise<UploadReceipt> {
      const body = await readAll(artifact.open());
      // Re-openable for retries: a second open must give the same bytes.
      if (!(await readAll(artifact.open())).equals(body))
        throw new Error('artifact.open() is not repeatable');
      uploads.push({ key: artifact.key, body, artifact, signal: opts.signal });
      return { key: artifact.key, uri: `memory://${artifact.key}`, attempts: 1 };
    },
  };
}

/** A transport whose every upload rejects with `error` (after reading the body, like a real one). */
export function failingTransport(error: unknown, name = 'failing'): TraceTransport & { calls: number } {
  const t = {
    name,
    calls: 0,
    async upload(artifact: TraceArtifact): Promise<UploadReceipt> {
      t.calls++;
      await readAll(artifact.open());
      throw error;
    },
  };
  return t;
}

/** A transport that never settles and ignores its signal: only the recorder's deadline can end it. */
export function hangingTransport(): TraceTransport & { signals: (AbortSignal | undefined)[] } {
  const signals: (AbortSignal | undefined)[] = [];
  return {
    name: 'hanging',
    signals,
    upload(_artifact, opts) {
      signals.push(opts.signal);
      return new Promise<UploadReceipt>(() => {});
    },
  };
}

/** Header and events of a body, read with the SDK's reader. */
export async function readBack(
  body: Uint8Array,
): Promise<{ header: Record<string, unknown>; events: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  for await (const line of readTrace(body)) lines.push(line);
  const [header, ...events] = lines;
  if (header === undefined) throw new Error('empty trace');
  return { header, events };
}

/** The raw JSONL lines of a body (header first), via plain gunzip. */
export function rawLines(body: Uint8Array): string[] {
  const text = gunzipSync(body).toString('utf8');
  expectTrailingNewline(text);
  return text.slice(0, -1).split('\n');
}

function expectTrailingNewline(text: string): void {
  if (!text.endsWith('\n')) throw new Error('a trace body must end with a newline');
}

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir(
  prefix = 'agent-trace-rec-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A deterministic clock: 1_700_000_000_000, +1 ms per call. */
export function fakeClock(start = 1_700_000_000_000): () => number {
  let t = start;
  return () => t++;
}

/** Values built to break serializers: cycles, BigInt, functions, symbols, throwing getters and Proxies. */
export function hostileValue(): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: true,
      withNullPrototype: true,
    }),
    fc.constant(() => 1),
    fc.constant(Symbol('s')),
    fc.constant(new Error('e')),
    fc.constant(
      Object.defineProperty({}, 'bad', {
        enumerable: true,
        get() {
          throw new Error('getter');
        },
      }),
    ),
    fc.constant(
      new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('trap');
          },
        },
      ),
    ),
    fc.constant(
      new Proxy([1, 2], {
        get() {
          throw new Error('trap');
        },
      }),
    ),
    fc.constant({
      toJSON() {
        throw new Error('toJSON');
      },
    }),
  );
  return fc.tuple(fc.array(leaf, { maxLength: 6 }), fc.boolean()).map(([items, cyclic]) => {
    const root: Record<string, unknown> = { items };
    if (cyclic) {
      root['self'] = root;
      items.push(root);
    }
    return root;
  });
}
