/**
 * The fault suite: a real recorder (createTraceRecorder → record → finish) uploading through each
 * network transport to the SigV4-verifying local S3 and the local uploader Lambda, while the servers
 * misbehave: runs of 500s, 503 SlowDown with Retry-After, connections reset mid-body, a server that
 * hangs, expired URLs and grants, a dead endpoint.
 *
 * Every case ends in one of two ways, and each case pins down which:
 * - `uploaded`: exactly one object at the key, byte-identical (sha256) to what was sealed, written
 *   by exactly one request, nothing else under the user's prefix;
 * - `failed`: nothing stored, the artifact kept in the spool directory, and a later `uploadSpooled`
 *   through a healthy transport delivers it with the same guarantees.
 *
 * Throughout, no presigned URL, signature or grant may appear in a console line, a process warning,
 * an error (message, stack or cause) or a spool sidecar.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultInjector, FaultMatch } from '@agent-trace/trace-sdk-testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTraceRecorder,
  type FinishOptions,
  type FinishResult,
  fileTransport,
  listSpooled,
  TraceError,
  UploadError,
  uploadSpooled,
  userPrefix,
} from '../../src/index.js';
import {
  type BuildOptions,
  captureLogs,
  errorTexts,
  expectNoSecrets,
  expectOneIntactObject,
  FAST_RETRY,
  freshIds,
  type Harness,
  type Ids,
  type LogCapture,
  lambdaInline,
  lambdaPresign,
  NETWORK_HARNESSES,
  observedRetry,
  presignedPut,
  recordedTrace,
  recordWorkload,
  s3PutObject,
  sha256,
  startWorld,
  tempDir,
  type World,
} from './support.js';

const TWO_HOURS_MS = 2 * 60 * 60 * 1000;

let world: World;
let spool: { dir: string; remove: () => Promise<void> };
let logs: LogCapture;

beforeAll(async () => {
  world = await startWorld();
  logs = captureLogs();
});

afterAll(async () => {
  logs?.restore();
  await world?.close();
});

beforeEach(async () => {
  spool = await tempDir('agent-trace-faults-');
});

afterEach(async () => {
  world.heal();
  // Sidecars record the last error: they must be as clean as the errors themselves.
  const sidecars: string[] = [];
  for (const name of await readdir(spool.dir).catch(() => [])) {
    if (name.endsWith('.json')) sidecars.push(await readFile(join(spool.dir, name), 'utf8'));
  }
  await spool.remove();
  expectNoSecrets(logs.drain(), world.secrets, 'a console line or process warning');
  expectNoSecrets(sidecars, world.secrets, 'a spool sidecar');
});

/** Where a harness's requests can be faulted, limited to this test's user. */
function faultsFor(harness: Harness, ids: Ids): { injector: FaultInjector; match: FaultMatch | undefined } {
  return harness.faultsAt === 'lambda'
    ? { injector: world.lambda.faults, match: undefined }
    : { injector: world.s3.faults, match: { method: 'PUT', keyPrefix: userPrefix(ids.userId) } };
}

interface Outcome {
  readonly ids: Ids;
  readonly result: FinishResult;
  /** Backoff sleeps the retry policy announced. */
  readonly delays: number[];
  /** Times the URL or grant provider was asked. */
  readonly mints: number;
}

/** Records the workload and finishes through `harness`, with faults armed by `arm`. */
async function runCase(
  harness: Harness,
  opts: {
    build?: Partial<BuildOptions>;
    arm?: (faults: { injector: FaultInjector; match: FaultMatch | undefined }, ids: Ids) => void;
    finish?: FinishOptions;
  } = {},
): Promise<Outcome> {
  const ids = freshIds();
  const { policy, events } = observedRetry();
  let mints = 0;
  const transport = await harness.build(world, ids, {
    retry: policy,
    ...opts.build,
    onMint: (n) => {
      mints = n;
      opts.build?.onMint?.(n);
    },
  });
  const faults = faultsFor(harness, ids);
  opts.arm?.(faults, ids);
  const result = await recordedTrace(ids, transport, spool.dir).finish(opts.finish);
  if (opts.arm !== undefined) expect(faults.injector.pending, 'every armed fault was hit').toBe(0);
  expectNoSecrets(errorTexts(result.error), world.secrets, 'the finish error');
  return { ids, result, delays: events.map((e) => e.delayMs), mints };
}

/** The uploaded ending, after `attempts` attempts. */
async function expectUploaded(outcome: Outcome, attempts: number): Promise<void> {
  const { result } = outcome;
  expect(result.error).toBeUndefined();
  expect(result).toMatchObject({ status: 'uploaded', attempts });
  expect(result.spooledPath).toBeUndefined();
  await expectOneIntactObject(world, outcome.ids, result);
  expect(await listSpooled(spool.dir)).toEqual([]);
}

/**
 * The failed ending: a typed error, nothing stored, the exact body spooled; then `uploadSpooled`
 * through a healthy transport delivers it intact, exactly once, and empties the spool.
 */
async function expectSpooledThenDelivered(
  harness: Harness,
  outcome: Outcome,
  error: { code: UploadError['code']; attempts?: number },
): Promise<void> {
  const { ids, result } = outcome;
  expect(result.status).toBe('failed');
  expect(result.error).toBeInstanceOf(UploadError);
  expect(result.error).toMatchObject({ code: error.code });
  if (error.attempts !== undefined) expect(result.attempts).toBe(error.attempts);
  expect(result.spooledPath).toBeDefined();
  expect(sha256(await readFile(result.spooledPath!))).toBe(result.sha256);
  expect(await world.stored(ids.key)).toBeUndefined();
  expect(world.storedWrites(ids.key)).toBe(0);

  world.heal();
  const healthy = await harness.build(world, ids, { retry: FAST_RETRY });
  const delivered = await uploadSpooled({ spoolDir: spool.dir, transport: healthy, scope: ids });
  for (const failure of delivered.failed)
    expectNoSecrets(errorTexts(failure.error), world.secrets, 'an uploadSpooled error');
  expect(delivered.failed).toEqual([]);
  expect(delivered.uploaded.map((u) => u.key)).toEqual([ids.key]);
  await expectOneIntactObject(world, ids, result);
  expect(await listSpooled(spool.dir)).toEqual([]);
}

describe.each(NETWORK_HARNESSES)(
  '$name: every fault ends in one intact object or a delivered spool',
  (harness) => {
    it('rides out a run of three 500s: one object, four attempts', async () => {
      const outcome = await runCase(harness, {
        arm: ({ injector, match }) =>
          harness.faultsAt === 'lambda'
            ? injector.failNext(3, { status: 500, code: 'ServiceException', match })
            : injector.failNext(3, { status: 500, code: 'InternalError', match }),
      });
      await expectUploaded(outcome, 4);
    });

    it('spools after 500s outlast the retry budget, and uploadSpooled delivers later', async () => {
      const outcome = await runCase(harness, {
        arm: ({ injector, match }) =>
          harness.faultsAt === 'lambda'
            ? injector.failNext(5, { status: 500, code: 'ServiceException', match })
            : injector.failNext(5, { status: 500, code: 'InternalError', match }),
      });
      expect(outcome.result.error).toMatchObject({ status: 500 });
      await expectSpooledThenDelivered(harness, outcome, { code: 'ERR_UPLOAD_HTTP', attempts: 5 });
    });

    it('waits out a throttle with Retry-After before the next attempt', async () => {
      const outcome = await runCase(harness, {
        arm: ({ injector, match }) =>
          harness.faultsAt === 'lambda'
            ? // Lambda throttles with 429 TooManyRequestsException; S3 with 503 SlowDown.
              injector.failNext(1, {
                status: 429,
                code: 'TooManyRequestsException',
                retryAfterSeconds: 1,
                match,
              })
            : injector.failNext(1, { status: 503, code: 'SlowDown', retryAfterSeconds: 1, match }),
      });
      await expectUploaded(outcome, 2);
      expect(outcome.delays).toHaveLength(1);
      expect(outcome.delays[0]).toBeGreaterThanOrEqual(1000);
    });

    it('retries connections reset mid-body and stores exactly one object', async () => {
      const outcome = await runCase(harness, {
        arm: ({ injector, match }) => injector.resetNext(2, { afterBodyBytes: 16 * 1024, match }),
      });
      await expectUploaded(outcome, 3);
    });

    it("gives up on a hung request after the transport's own timeout and retries", async () => {
      const outcome = await runCase(harness, {
        build: { requestTimeouts: true },
        arm: ({ injector, match }) => injector.hangNext(1, { match }),
      });
      await expectUploaded(outcome, 2);
    });

    it("is cut off by finish's deadline when the server hangs, and the spool delivers later", async () => {
      const outcome = await runCase(harness, {
        arm: ({ injector, match }) => injector.hangNext(1, { match }),
        finish: { timeoutMs: 1000 },
      });
      await expectSpooledThenDelivered(harness, outcome, { code: 'ERR_UPLOAD_DEADLINE' });
    });

    it('spools when the endpoint is dead (nothing listening), and the spool delivers later', async () => {
      const outcome = await runCase(harness, { build: { dead: true } });
      await expectSpooledThenDelivered(harness, outcome, { code: 'ERR_UPLOAD_NETWORK', attempts: 5 });
    });

    it('spools on an expired credential nothing can refresh, and the spool delivers with a fresh one', async () => {
      // presigned PUT: a fixed URL; the Lambda: a fixed grant; legacy: expired temporary credentials.
      if (harness === lambdaInline || harness === lambdaPresign) world.grantSkew.ms = TWO_HOURS_MS;
      else if (harness !== s3PutObject) world.s3Skew.ms = TWO_HOURS_MS;
      const outcome = await runCase(harness, { build: { credential: 'fixed' } });
      const codes = new Map<Harness, UploadError['code']>([
        [presignedPut, 'ERR_UPLOAD_URL_EXPIRED'],
        [lambdaInline, 'ERR_UPLOAD_REJECTED'],
        [lambdaPresign, 'ERR_UPLOAD_REJECTED'],
        [s3PutObject, 'ERR_UPLOAD_HTTP'],
      ]);
      const code = codes.get(harness)!;
      await expectSpooledThenDelivered(harness, outcome, { code, attempts: 1 });
    });

    it.skipIf(harness === s3PutObject)(
      'asks the provider again when the URL or grant has expired, and uploads (legacy: no provider to ask)',
      async () => {
        let presigns = 0;
        if (harness === lambdaPresign) {
          // The Lambda mints the PUT URL: the S3 clock says it has expired until the Lambda is asked again.
          world.s3Skew.ms = TWO_HOURS_MS;
          world.onInvoke = (request) => {
            if ((request as { action?: unknown }).action === 'presign' && ++presigns === 2)
              world.s3Skew.ms = 0;
          };
        } else if (harness === lambdaInline) world.grantSkew.ms = TWO_HOURS_MS;
        else world.s3Skew.ms = TWO_HOURS_MS;
        const outcome = await runCase(harness, {
          build: {
            credential: 'provider',
            // The second URL or grant is minted after the clock is right again.
            onMint: (n) => {
              if (n === 2) {
                world.s3Skew.ms = 0;
                world.grantSkew.ms = 0;
              }
            },
          },
        });
        await expectUploaded(outcome, 1);
        if (harness === lambdaPresign) expect(presigns).toBe(2);
        else expect(outcome.mints).toBe(2);
      },
    );
  },
);

describe('lambda (inline): S3 faults behind the uploader handler', () => {
  it('retries 500s from S3 reported by the handler and stores exactly one object', async () => {
    const outcome = await runCase(lambdaInline, {
      arm: (_faults, ids) =>
        world.s3.faults.failNext(2, {
          status: 500,
          code: 'InternalError',
          match: { method: 'PUT', keyPrefix: userPrefix(ids.userId) },
        }),
    });
    await expectUploaded(outcome, 3);
  });
});

describe('the log capture the leak checks rely on', () => {
  it("sees real output: the uploader Lambda's log line for each request", async () => {
    logs.drain();
    const outcome = await runCase(lambdaInline);
    await expectUploaded(outcome, 1);
    const lines = logs.drain();
    expect(lines.some((l) => l.includes('agent-trace uploader') && l.includes(outcome.ids.key))).toBe(true);
    expectNoSecrets(lines, world.secrets, 'a console line');
  });
});

describe('file transport: an unwritable destination', () => {
  it('spools the artifact, and uploadSpooled delivers it intact once the directory is fixed', async () => {
    const out = await tempDir('agent-trace-file-out-');
    try {
      // A regular file where the destination directory should be: every write fails (ENOTDIR).
      const blocked = join(out.dir, 'blocked');
      await writeFile(blocked, 'not a directory');
      const ids = freshIds();
      const rec = createTraceRecorder({
        userId: ids.userId,
        taskId: ids.taskId,
        transport: fileTransport({ dir: blocked, retry: FAST_RETRY }),
        spoolDir: spool.dir,
      });
      recordWorkload(rec);
      const result = await rec.finish();
      expect(result.status).toBe('failed');
      expect(result.error).toBeInstanceOf(TraceError);
      expect(result.spooledPath).toBeDefined();

      const target = join(out.dir, 'fixed');
      const delivered = await uploadSpooled({
        spoolDir: spool.dir,
        transport: fileTransport({ dir: target }),
        scope: ids,
      });
      expect(delivered.uploaded.map((u) => u.key)).toEqual([ids.key]);
      const stored = await readFile(join(target, ids.key));
      expect(sha256(stored)).toBe(result.sha256);
      expect(await listSpooled(spool.dir)).toEqual([]);
    } finally {
      await out.remove();
    }
  });
});
