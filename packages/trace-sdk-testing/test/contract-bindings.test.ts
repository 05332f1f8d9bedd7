/**
 * The contract suite under each runner, as a consumer repo runs it: every fixture in
 * test/consumers/<runner>/ is copied into a temp project whose node_modules links the workspace
 * packages (so it imports `@agent-trace/trace-sdk-testing/contract[/<runner>]` from the BUILT
 * package, as an installed one would), and the real runner runs it as a child process: jest,
 * node --test, and vitest (the workspace's own; the repo's contract.*.test.ts and
 * examples/custom-transport run the vitest binding from the sources too).
 *
 * Skipped, saying so, when a `dist/` is missing or older than its sources: CI runs `pnpm build`
 * before `pnpm test` (.ci/run), a plain `pnpm test` may not have.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transportContract } from '../src/contract/core.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SDK_DIR = join(PACKAGE_DIR, '..', 'trace-sdk');
const FIXTURES = join(PACKAGE_DIR, 'test', 'consumers');

/** Newest modification time of the files under `path`, in ms. */
function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}
function freshBuild(dir: string): boolean {
  const dist = join(dir, 'dist');
  return existsSync(join(dist, 'index.js')) && newestMtime(dist) >= newestMtime(join(dir, 'src'));
}
const built = freshBuild(PACKAGE_DIR) && freshBuild(SDK_DIR);

/** The names of the cases, in order, as every binding registers them. */
const CASES = transportContract('x', () => {
  throw new Error('not run');
}).cases.map((c) => c.name);
const CONNECTION_RESET = CASES.find((name) => name.includes('connection reset'))!;
const REFRESH = CASES.find((name) => name.startsWith('refreshes an expired URL'))!;
/** The cases a file transport runs once it declared everything else unsupported. */
const FILE_RUNS = [
  'stores the exact bytes at the exact key',
  'rejects with ERR_UPLOAD_ABORTED when already aborted, and stores nothing',
  'stops when aborted mid-body: ERR_UPLOAD_ABORTED, nothing stored',
  'lands 20 parallel uploads intact',
];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** This process's environment without what the outer vitest set for its workers. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(VITEST|TINYPOOL|NODE_OPTIONS$)/.test(name)) env[name] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

function run(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd, timeout: 150_000, maxBuffer: 16 * 1024 * 1024, env: childEnv(env) },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** A consumer project in a temp dir: the fixture's files plus node_modules links. */
async function consumerProject(fixture: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `contract-consumer-${fixture}-`));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  for (const name of readdirSync(join(FIXTURES, fixture))) {
    await copyFile(join(FIXTURES, fixture, name), join(dir, name));
  }
  const links: Record<string, string> = {
    '@agent-trace/trace-sdk-testing': PACKAGE_DIR,
    '@agent-trace/trace-sdk': SDK_DIR,
    '@aws-sdk/client-s3': join(PACKAGE_DIR, 'node_modules', '@aws-sdk', 'client-s3'),
    '@aws-sdk/s3-request-presigner': join(PACKAGE_DIR, 'node_modules', '@aws-sdk', 's3-request-presigner'),
  };
  for (const [name, target] of Object.entries(links)) {
    const link = join(dir, 'node_modules', name);
    await mkdir(dirname(link), { recursive: true });
    await symlink(target, link, 'dir');
  }
  return dir;
}

const projects: string[] = [];
afterAll(async () => {
  for (const dir of projects) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!built)(
  'the contract suite under each runner, from the built package (needs a fresh `pnpm build`)',
  () => {
    // Both runners at once: each spends most of its time on the 200 MB upload.
    let node: Promise<Run>;
    let jest: Promise<{ run: Run; report: JestReport }>;
    let vitest: Promise<{ run: Run; report: JestReport }>;
    beforeAll(() => {
      vitest = consumerProject('vitest').then(async (dir) => {
        projects.push(dir);
        const bin = join(
          dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
          'vitest.mjs',
        );
        const result = await run(
          [bin, 'run', '--root', dir, '--reporter=json', '--outputFile', join(dir, 'report.json')],
          dir,
        );
        const report = JSON.parse(
          await readFile(join(dir, 'report.json'), 'utf8').catch(() => '{}'),
        ) as JestReport;
        return { run: result, report };
      });
      node = consumerProject('node-test').then((dir) => {
        projects.push(dir);
        return run(['--test', '--test-reporter=tap', 'contract.test.mjs'], dir);
      });
      jest = consumerProject('jest').then(async (dir) => {
        projects.push(dir);
        const config = { testEnvironment: 'node', transform: {}, testMatch: ['**/*.test.mjs'] };
        const result = await run(
          [
            join(PACKAGE_DIR, 'node_modules', 'jest', 'bin', 'jest.js'),
            '--rootDir',
            dir,
            '--config',
            JSON.stringify(config),
            '--ci',
            '--json',
            '--outputFile',
            join(dir, 'report.json'),
          ],
          dir,
          { NODE_OPTIONS: '--experimental-vm-modules --no-warnings' },
        );
        const report = JSON.parse(
          await readFile(join(dir, 'report.json'), 'utf8').catch(() => '{}'),
        ) as JestReport;
        return { run: result, report };
      });
      // Settled here so that a crash shows up in the tests below, not as an unhandled rejection.
      node.catch(() => undefined);
      jest.catch(() => undefined);
      vitest.catch(() => undefined);
    });

    it('vitest (./contract from the built package): every case passes, run-time declared capabilities skip', async () => {
      const { run: result, report } = await vitest;
      const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      expect(result.code, output).toBe(0);
      const suites = new Map<string, { title: string; status: string }[]>();
      for (const t of report.testResults?.[0]?.assertionResults ?? []) {
        const suite = t.ancestorTitles?.[0] ?? '';
        suites.set(suite, [...(suites.get(suite) ?? []), t]);
      }
      const presigned = suites.get('presigned-put (vitest consumer) transport contract') ?? [];
      expect(presigned.map((t) => [t.title, t.status])).toEqual(CASES.map((name) => [name, 'passed']));
      const file = suites.get('file (vitest consumer) transport contract') ?? [];
      expect(file.filter((t) => t.status === 'passed').map((t) => t.title)).toEqual(FILE_RUNS);
      expect(file.filter((t) => t.status !== 'passed').every((t) => t.status === 'skipped')).toBe(true);
      console.info(`vitest consumer fixture: ${result.ms} ms`);
    }, 180_000);

    it('node:test: every case runs and passes, run-time declared capabilities skip with their reason', async () => {
      const result = await node;
      const tap = result.stdout;
      const output = `stdout:\n${tap}\nstderr:\n${result.stderr}`;
      expect(result.code, output).toBe(0);
      const suites = tap.split(/^ok \d+ - .* transport contract$/m);
      const results = (block: string) =>
        [...block.matchAll(/^ {4}(ok|not ok) \d+ - (.*?)(?: # SKIP (.*))?$/gm)].map(([, ok, name, skip]) => ({
          ok: ok === 'ok',
          name,
          skip,
        }));
      const presigned = results(suites[0] ?? '');
      expect(presigned.map((r) => r.name)).toEqual(CASES);
      expect(presigned.filter((r) => !r.ok || r.skip !== undefined)).toEqual([]);
      expect(tap, 'the 200 MB note (t.diagnostic)').toMatch(/# 200\.0 MiB uploaded; peak growth: RSS/);
      const file = results(suites[1] ?? '');
      expect(file.map((r) => r.name)).toEqual(CASES);
      expect(file.find((r) => r.name === CONNECTION_RESET)?.skip).toBe(
        'file (node:test consumer) does not support network fault injection: writes to the local filesystem',
      );
      expect(file.filter((r) => r.skip === undefined).map((r) => r.name)).toEqual(FILE_RUNS);
      expect(tap).toMatch(/^# fail 0$/m);
      console.info(`node --test consumer fixture: ${result.ms} ms`);
    }, 180_000);

    it('jest: every case registered, declared capabilities skipped up front, the rest pass', async () => {
      const { run: result, report } = await jest;
      const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      const tests = report.testResults?.[0]?.assertionResults ?? [];
      expect(tests.length, output).toBe(CASES.length);
      const byTitle = new Map(tests.map((t) => [t.title.replace(/ \(skipped: .*\)$/, ''), t]));
      expect([...byTitle.keys()].sort()).toEqual([...CASES].sort());
      expect(byTitle.get(REFRESH)).toMatchObject({
        status: 'pending',
        title: `${REFRESH} (skipped: presigned-put (jest consumer) does not support refreshing an expired URL: this consumer mints one fixed URL per task)`,
      });
      // Jest runs tests in another realm than Node's own modules: a connection reset from node:net
      // fails `instanceof Error` there, and must still be classified as a retryable network error.
      expect(byTitle.get(CONNECTION_RESET)?.status, output).toBe('passed');
      const others = tests.filter((t) => t !== byTitle.get(REFRESH));
      expect(
        others
          .filter((t) => t.status !== 'passed')
          .map((t) => `${t.title}: ${t.status} ${t.failureMessages.join('\n')}`),
        output,
      ).toEqual([]);
      console.info(`jest consumer fixture: ${result.ms} ms`);
    }, 180_000);
  },
);

interface JestReport {
  readonly testResults?: {
    readonly assertionResults: {
      title: string;
      status: string;
      failureMessages: string[];
      ancestorTitles?: string[];
    }[];
  }[];
}
