/**
 * What a consumer project sees: both packages packed with `pnpm pack` (exactly what npm would
 * publish), installed with npm into a fresh project that has **no** optional `@aws-sdk/*` peer, and
 * typechecked with `skipLibCheck: false` under the three setups consumers use: ESM with
 * `module: nodenext`, a bundler (`moduleResolution: bundler`), and CommonJS (`.cts` under nodenext).
 * One install serves the three tsconfigs. The repository's own `tsc` is used.
 *
 * Needs the registry (or npm's cache: `--prefer-offline`) for the packages' own dependencies, and a
 * built `dist/` (`pnpm build` runs before `pnpm test` in CI).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const SDK_DIR = join(REPO, 'packages/trace-sdk');
const TESTING_DIR = join(REPO, 'packages/trace-sdk-testing');
// typescript's exports map hides bin/: find the package root through its package.json.
const TSC = join(
  dirname(createRequire(join(REPO, 'package.json')).resolve('typescript/package.json')),
  'bin/tsc',
);

/** What every agent writes: root entry only, presigned PUT, file transport, reading back. */
const AGENT_SOURCE = `
import {
  createTraceRecorder,
  fileTransport,
  presignedPutTransport,
  readTrace,
  traceKey,
  transportFromEnv,
  type FinishResult,
  type TraceTransport,
} from '@agent-trace/trace-sdk';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';

export async function agent(url: () => Promise<string>): Promise<FinishResult> {
  const transport: TraceTransport = process.env['TRACE_TRANSPORT'] ? transportFromEnv() : presignedPutTransport({ url });
  const rec = createTraceRecorder({ userId: 'u-1', taskId: 't-1', transport });
  rec.recordTurn({ turn: 1, model: 'm', text: 'hi' });
  rec.record({ event: 'CUSTOM', n: 1 });
  return rec.finish();
}

export async function local(): Promise<number> {
  const rec = createTraceRecorder({ userId: 'u-1', taskId: 't-1', transport: fileTransport({ dir: './out' }) });
  await rec.finish();
  let n = 0;
  for await (const line of readTrace(\`./out/\${traceKey({ userId: 'u-1', taskId: 't-1' })}\`)) n += line.event ? 1 : 0;
  const s3 = await startLocalS3();
  await s3.close();
  return n;
}
`;

/** `if (r.status === 'failed') r.error.code` must narrow: FinishResult is a discriminated union. */
const NARROWING_SOURCE = `
import type { FinishResult } from '@agent-trace/trace-sdk';
export function code(r: FinishResult): string | undefined {
  if (r.status === 'failed') return r.error.code;
  return undefined;
}
`;

const COMPILER_OPTIONS = {
  strict: true,
  noEmit: true,
  skipLibCheck: false,
  target: 'es2024',
  lib: ['es2024'],
  types: ['node'],
};

let project: string;
let installMs = 0;

async function pack(dir: string, into: string): Promise<string> {
  await run('pnpm', ['pack', '--pack-destination', into], { cwd: dir, timeout: 60_000 });
  const name = readdirSync(into).find(
    (f) =>
      f.endsWith('.tgz') &&
      f.startsWith(dir === SDK_DIR ? 'agent-trace-trace-sdk-0' : 'agent-trace-trace-sdk-testing'),
  );
  if (name === undefined) throw new Error(`pnpm pack left no tarball for ${dir}`);
  return join(into, name);
}

function writeProject(name: string, files: Record<string, string>, compilerOptions: object): string {
  writeFileSync(
    join(project, `tsconfig.${name}.json`),
    JSON.stringify({
      compilerOptions: { ...COMPILER_OPTIONS, ...compilerOptions },
      files: Object.keys(files),
    }),
  );
  for (const [file, text] of Object.entries(files)) writeFileSync(join(project, file), text);
  return `tsconfig.${name}.json`;
}

async function typecheck(tsconfig: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [TSC, '-p', tsconfig], {
      cwd: project,
      timeout: 60_000,
    });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  if (!existsSync(join(SDK_DIR, 'dist/index.d.ts')) || !existsSync(join(TESTING_DIR, 'dist/index.d.ts'))) {
    throw new Error('packages are not built: run `pnpm build` first');
  }
  project = mkdtempSync(join(tmpdir(), 'agent-trace-consumer-'));
  const tarballs = join(project, 'tarballs');
  const sdk = await pack(SDK_DIR, tarballs);
  const testing = await pack(TESTING_DIR, tarballs);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const started = performance.now();
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--loglevel=error',
      sdk,
      testing,
      '@types/node@24',
    ],
    { cwd: project, timeout: 120_000, env: { ...process.env, npm_config_nodedir: '' } },
  );
  installMs = performance.now() - started;
}, 180_000);

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe('a consumer project installing the packed tarballs, with no optional AWS SDK peer', () => {
  it('has none of the optional AWS SDK peers installed', () => {
    const installed = existsSync(join(project, 'node_modules/@aws-sdk'))
      ? readdirSync(join(project, 'node_modules/@aws-sdk'))
      : [];
    // @aws-sdk/types comes with @aws-crypto/sha256-js (the testing package's SigV4 hashing).
    expect(installed.filter((name) => name !== 'types')).toEqual([]);
    // Reported so a slow registry shows up in the log rather than as a mystery timeout.
    console.info(`consumer fixture: npm install took ${Math.round(installMs)} ms`);
  });

  it('typechecks under ESM nodenext with skipLibCheck false', async () => {
    const tsconfig = writeProject(
      'esm',
      { 'agent.mts': AGENT_SOURCE },
      { module: 'nodenext', moduleResolution: 'nodenext' },
    );
    const result = await typecheck(tsconfig);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  }, 60_000);

  it('typechecks under bundler resolution with skipLibCheck false', async () => {
    const tsconfig = writeProject(
      'bundler',
      { 'agent-bundler.ts': AGENT_SOURCE },
      { module: 'esnext', moduleResolution: 'bundler' },
    );
    const result = await typecheck(tsconfig);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  }, 60_000);

  it('typechecks from CommonJS (.cts, require of the ESM package) with skipLibCheck false', async () => {
    const tsconfig = writeProject(
      'cjs',
      { 'agent.cts': AGENT_SOURCE },
      { module: 'nodenext', moduleResolution: 'nodenext' },
    );
    const result = await typecheck(tsconfig);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  }, 60_000);

  it('narrows r.error after r.status === "failed" (FinishResult is a discriminated union)', async () => {
    const tsconfig = writeProject(
      'narrowing',
      { 'narrowing.mts': NARROWING_SOURCE },
      { module: 'nodenext', moduleResolution: 'nodenext' },
    );
    const result = await typecheck(tsconfig);
    expect(result.output).toBe('');
  }, 60_000);
});
