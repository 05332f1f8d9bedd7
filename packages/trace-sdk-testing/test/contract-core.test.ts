/**
 * The runner-neutral contract core against transports that break the contract on purpose: each
 * failure must come fast and say what broke (not an opaque value mismatch), and skips must be
 * explicit under every kind of runner.
 */
import { type TraceArtifact, type TraceTransport, UploadError } from '@agent-trace/trace-sdk';
import { describe, expect, it } from 'vitest';
import {
  ABORT_SETTLE_MS,
  type ContractCase,
  type ContractSetup,
  ContractSkip,
  type ContractTarget,
  type ContractTestContext,
  runContractCase,
  type StoredObjectHeaders,
  transportContract,
  unsupported,
} from '../src/contract/core.js';

const aborted = () =>
  new UploadError('ERR_UPLOAD_ABORTED', 'memory: upload aborted', { transport: 'memory' });

/** Reads an artifact's body; an abort destroys the stream, as a real transport drops its request. */
async function bytesOf(artifact: TraceArtifact, signal?: AbortSignal): Promise<Buffer> {
  const stream = artifact.open();
  const onAbort = () => stream.destroy(aborted());
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } catch (error) {
    throw signal?.aborted ? aborted() : error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

interface MemoryStore {
  readonly objects: Map<string, { body: Buffer; headers: StoredObjectHeaders }>;
}

/** A transport into a map, honouring the abort signal unless told otherwise. */
function memoryTransport(
  store: MemoryStore,
  opts: { ignoreAbort?: boolean; contentEncoding?: string; metadata?: Record<string, string> } = {},
): TraceTransport {
  return {
    name: 'memory',
    async upload(artifact, { signal }) {
      const honoured = opts.ignoreAbort ? undefined : signal;
      if (honoured?.aborted)
        throw new UploadError('ERR_UPLOAD_ABORTED', 'memory: upload aborted', { transport: 'memory' });
      const body = await bytesOf(artifact, honoured);
      store.objects.set(artifact.key, {
        body,
        headers: {
          size: body.length,
          contentType: artifact.contentType,
          contentEncoding: opts.contentEncoding,
          metadata: opts.metadata ?? {},
        },
      });
      return { key: artifact.key };
    },
  };
}

function memoryTarget(store: MemoryStore, transport: TraceTransport): ContractTarget {
  return {
    transport,
    read: async (key) => store.objects.get(key)?.body,
    stat: async (key) => store.objects.get(key)?.headers,
    list: async (prefix = '') => [...store.objects.keys()].filter((k) => k.startsWith(prefix)),
    capabilities: {
      networkFaults: unsupported('in memory'),
      refreshOnExpiry: unsupported('in memory'),
      userScoped: unsupported('in memory'),
      largeBody: unsupported('in memory'),
    },
  };
}

function caseNamed(cases: readonly ContractCase[], prefix: string): ContractCase {
  const found = cases.find((c) => c.name.startsWith(prefix));
  if (found === undefined) throw new Error(`no case ${prefix}`);
  return found;
}

/** A binding's context that records skips the way node:test's does. */
function recordingContext(): ContractTestContext & { skipped: string | undefined; notes: string[] } {
  const t = {
    skipped: undefined as string | undefined,
    notes: [] as string[],
    skip(reason: string): never {
      t.skipped = reason;
      throw new ContractSkip(reason);
    },
    note(message: string) {
      t.notes.push(message);
    },
  };
  return t;
}

async function failureOf(c: ContractCase, t: ContractTestContext = recordingContext()): Promise<Error> {
  const error = await runContractCase(c, t).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (error === undefined) throw new Error(`${c.name} passed`);
  return error;
}

describe('contract core', () => {
  it('lists the cases in order, with their timeouts, as data', () => {
    const { title, cases } = transportContract('memory', () =>
      memoryTarget({ objects: new Map() }, memoryTransport({ objects: new Map() })),
    );
    expect(title).toBe('memory transport contract');
    expect(cases[0]?.name).toBe('uploads a 200 MB body with bounded memory');
    expect(cases.at(-1)?.name).toBe(
      'stored object carries the attribution metadata the credential was bound to',
    );
    expect(cases.every((c) => c.timeoutMs >= 60_000 && c.skipReason === undefined)).toBe(true);
  });

  it('passes a well-behaved transport (store shared by every setup call of a test)', async () => {
    const stores = new WeakMap<object, MemoryStore>();
    const setup: ContractSetup = (ctx) => {
      // One store per test world (ctx.s3 is shared by the setup calls of one test).
      const store = stores.get(ctx.s3) ?? { objects: new Map() };
      stores.set(ctx.s3, store);
      return memoryTarget(store, memoryTransport(store));
    };
    const { cases } = transportContract('memory', setup);
    for (const name of [
      'stores the exact bytes',
      'stores Content-Type',
      'rejects with ERR_UPLOAD_ABORTED',
      'stops when aborted mid-body',
      'lands 20 parallel',
    ]) {
      const t = recordingContext();
      await runContractCase(caseNamed(cases, name), t);
      expect(t.skipped, name).toBeUndefined();
    }
  });

  it('names the header that is wrong', async () => {
    const store = { objects: new Map() };
    const { cases } = transportContract('memory', () =>
      memoryTarget(store, memoryTransport(store, { contentEncoding: 'gzip' })),
    );
    const error = await failureOf(caseNamed(cases, 'stores Content-Type'));
    expect(error.message).toMatch(
      /^Content-Encoding stored at traces\/.+\.jsonl\.gz \(a trace is a gzip file, not a gzip-encoded response\): expected none, got 'gzip'\n/,
    );
  });

  it('says the setup calls must share a store when each makes its own (parallel case)', async () => {
    const { cases } = transportContract('memory', () => {
      const store = { objects: new Map() };
      return memoryTarget(store, memoryTransport(store));
    });
    const error = await failureOf(caseNamed(cases, 'lands 20 parallel'));
    expect(error.message).toContain("the first target's read() cannot see 19 of them");
    expect(error.message).toContain('must store into the same place');
  });

  it(`reports a transport that ignores the abort signal by name, within ${ABORT_SETTLE_MS} ms of the abort`, async () => {
    const store = { objects: new Map() };
    const { cases } = transportContract('memory', () =>
      memoryTarget(store, memoryTransport(store, { ignoreAbort: true })),
    );
    const before = await failureOf(caseNamed(cases, 'rejects with ERR_UPLOAD_ABORTED'));
    expect(before.message).toBe(
      'upload aborted before it started: the transport ignored the abort signal: the upload resolved instead of rejecting with an UploadError, code ERR_UPLOAD_ABORTED',
    );
    const started = Date.now();
    const midBody = await failureOf(caseNamed(cases, 'stops when aborted mid-body'));
    expect(midBody.message).toContain(
      `upload aborted mid-body: the transport ignored the abort signal: the upload had not settled ${ABORT_SETTLE_MS} ms after it aborted`,
    );
    // Loose bound: the old suite waited 10 s and then reported a class-name mismatch.
    expect(Date.now() - started).toBeLessThan(ABORT_SETTLE_MS + 5_000);
  }, 30_000);

  it('names the error it got when an abort is answered with something other than an UploadError', async () => {
    const store = { objects: new Map() };
    const transport: TraceTransport = {
      name: 'plain',
      upload: async (_artifact, { signal }) => {
        if (signal?.aborted) throw new Error('plain abort');
        return { key: '' };
      },
    };
    const { cases } = transportContract('plain', () => memoryTarget(store, transport));
    const error = await failureOf(caseNamed(cases, 'rejects with ERR_UPLOAD_ABORTED'));
    expect(error.message).toBe(
      'upload aborted before it started: expected an UploadError (ERR_UPLOAD_ABORTED), got Error: plain abort',
    );
  });

  describe('attribution (opt-in)', () => {
    const ATTRIBUTION = 'stored object carries the attribution metadata';

    it('skips, saying so, when the target declares nothing', async () => {
      const store = { objects: new Map() };
      const { cases } = transportContract('memory', () => memoryTarget(store, memoryTransport(store)));
      const t = recordingContext();
      await runContractCase(caseNamed(cases, ATTRIBUTION), t);
      expect(t.skipped).toBe(
        "memory did not declare attribution metadata: set target.attribution (and capabilities.attribution: true) or capabilities.attribution: unsupported('why')",
      );
    });

    it('skips with the reason of unsupported(why)', async () => {
      const store = { objects: new Map() };
      const { cases } = transportContract('memory', () => ({
        ...memoryTarget(store, memoryTransport(store)),
        capabilities: { attribution: unsupported('no metadata in a map') },
      }));
      const t = recordingContext();
      await runContractCase(caseNamed(cases, ATTRIBUTION), t);
      expect(t.skipped).toBe('memory does not support attribution metadata: no metadata in a map');
    });

    it('passes when the stored object carries the declared metadata, and names the entry that differs', async () => {
      const store = { objects: new Map() };
      const stored = { 'trace-operator': 'alice@example.com' };
      const { cases } = transportContract('memory', (ctx) => ({
        ...memoryTarget(store, memoryTransport(store, { metadata: stored })),
        attribution: { metadata: { 'Trace-Operator': ctx.attribution.operator } },
      }));
      const error = await failureOf(caseNamed(cases, ATTRIBUTION));
      expect(error.message).toMatch(
        /^x-amz-meta-trace-operator stored at traces\/.+: expected 'contract-operator-[0-9a-f]{8}@example\.com', got 'alice@example\.com'\n/,
      );

      const ok = transportContract('memory', (ctx) => {
        const metadata = { 'trace-operator': ctx.attribution.operator };
        return { ...memoryTarget(store, memoryTransport(store, { metadata })), attribution: { metadata } };
      });
      await runContractCase(caseNamed(ok.cases, ATTRIBUTION), recordingContext());
    });
  });

  describe('runners that cannot skip a running test (jest)', () => {
    const jest = { canSkipAtRuntime: false };
    const noSkip: ContractTestContext = { note: () => undefined };

    it('registers cases ruled out by the declared capabilities as skipped, with the reason', () => {
      const store = { objects: new Map() };
      const { cases } = transportContract(
        'memory',
        () => memoryTarget(store, memoryTransport(store)),
        {
          capabilities: { networkFaults: unsupported('in memory') },
        },
        jest,
      );
      expect(caseNamed(cases, 'does not retry a 400').skipReason).toBe(
        'memory does not support network fault injection: in memory',
      );
      expect(caseNamed(cases, 'stores the exact bytes').skipReason).toBeUndefined();
      expect(caseNamed(cases, 'stored object carries').skipReason).toMatch(
        /^memory did not declare attribution metadata/,
      );
    });

    it('fails, saying what to declare, when setup() declares a capability the options did not', async () => {
      const store = { objects: new Map() };
      const { cases } = transportContract(
        'memory',
        () => memoryTarget(store, memoryTransport(store)),
        {},
        jest,
      );
      const error = await failureOf(caseNamed(cases, 'stores the exact bytes'), noSkip);
      expect(error.message).toContain(
        "memory: setup() declared capabilities.networkFaults unsupported, but this runner cannot skip a test once it runs: declare it in the options instead, describeTransportContract(name, setup, { capabilities: { networkFaults: unsupported('why') } })",
      );
    });
  });

  it('checks the declared capabilities up front', () => {
    expect(() =>
      transportContract(
        'memory',
        () => memoryTarget({ objects: new Map() }, memoryTransport({ objects: new Map() })),
        {
          capabilities: { networkFaults: { unsupported: ' ' } },
        },
      ),
    ).toThrow("memory (options): capabilities.networkFaults must be true or unsupported('why')");
  });
});
