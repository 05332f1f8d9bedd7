/**
 * End to end: `agent-trace` as a real child process, on real files, stdin and the local S3.
 *
 * Two ways to start it. The TypeScript sources always run, with Node's own type stripping plus a
 * tiny resolve hook (cli-source-hooks.mjs): the sources import `./x.js` paths that only exist as
 * `.ts`, so plain `node src/cli/main.ts` cannot start. The built bin (dist/cli/main.js, what npm
 * installs as `agent-trace`) is tested too whenever a build newer than every source file exists:
 * CI runs `pnpm build` before the tests (.ci/run), while a plain `pnpm test` has no build, or a
 * stale one that would test old code. The in-process CLI tests (cli-*.test.ts) cover every
 * command regardless.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LOCAL_S3_ACCESS_KEY_ID,
  LOCAL_S3_SECRET_ACCESS_KEY,
  type LocalS3,
  startLocalS3,
} from '@agent-trace/trace-sdk-testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UploadError } from '../src/errors.js';
import { traceKey } from '../src/key.js';
import { createTraceRecorder } from '../src/record/recorder.js';
import { fileTransport } from '../src/upload/transports/file.js';
import { tempDir } from './cli-support.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const DIST_MAIN = join(PACKAGE_DIR, 'dist/cli/main.js');
const ENTRIES: Array<[string, string[]]> = [
  [
    'sources',
    ['--import', join(PACKAGE_DIR, 'test/cli-source-hooks.mjs'), join(PACKAGE_DIR, 'src/cli/main.ts')],
  ],
];

/** Newest modification time of the files under `path`, in ms. */
function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}
if (existsSync(DIST_MAIN) && statSync(DIST_MAIN).mtimeMs >= newestMtime(join(PACKAGE_DIR, 'src'))) {
  ENTRIES.push(['built bin', [DIST_MAIN]]);
}

const BUCKET = 'trace-artifacts';
const USER = 'b7d1c0de-0000-4a5b-8c9d-0123456789ab';
const TASK = '01JD4QE2E0000000000000000Z';
const KEY = traceKey({ userId: USER, taskId: TASK });

interface ChildRun {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Spawns `node <entry> <args>` with only the given environment (plus PATH) and collects its output. */
function runChild(
  entry: readonly string[],
  args: readonly string[],
  opts: { stdin?: Buffer; env?: Record<string, string>; closeStdoutAfter?: number } = {},
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      outBytes += c.length;
      // Simulates `| head -c N`: the reader goes away mid-stream.
      if (opts.closeStdoutAfter !== undefined && outBytes >= opts.closeStdoutAfter) child.stdout.destroy();
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? Buffer.alloc(0));
  });
}

let s3: LocalS3;
let dir: string;
let cleanup: () => void;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3.close();
});
beforeEach(() => {
  ({ dir, cleanup } = tempDir('agent-trace-e2e-'));
});
afterEach(async () => {
  cleanup();
  await s3.reset();
});

/** Records a real trace with the recorder and the file transport; returns the artifact path. */
async function recordArtifact(turns: number): Promise<{ path: string; bytes: Buffer }> {
  const out = join(dir, 'recorded');
  const rec = createTraceRecorder({
    userId: USER,
    taskId: TASK,
    transport: fileTransport({ dir: out }),
    spoolDir: join(dir, 'spool-rec'),
  });
  for (let turn = 1; turn <= turns; turn++) {
    rec.recordTurn({
      turn,
      model: 'claude-sonnet',
      text: `Step ${turn}: ${'reading files '.repeat(20)}`,
      toolCalls: [{ name: 'read', input: { n: turn } }],
    });
    rec.recordPolicyDecision({ toolName: 'bash', allowed: true, reason: 'allowed', durationMs: 1 });
  }
  const result = await rec.finish();
  expect(result.status).toBe('uploaded');
  const path = join(out, KEY);
  return { path, bytes: readFileSync(path) };
}

const awsEnv = () => ({
  AWS_ACCESS_KEY_ID: LOCAL_S3_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: LOCAL_S3_SECRET_ACCESS_KEY,
  AWS_REGION: s3.region,
  AWS_ENDPOINT_URL_S3: s3.endpoint,
});

describe.each(ENTRIES)('agent-trace from the %s', (_name, entry) => {
  it('prints help with the exit codes, and the version', async () => {
    const help = await runChild(entry, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.toString()).toContain('Exit codes:\n  0  success\n');
    const version = await runChild(entry, ['--version']);
    expect(version.stdout.toString()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('prints keys and rejects bad ids with exit 2 and no stack', async () => {
    expect((await runChild(entry, ['key', USER, TASK])).stdout.toString()).toBe(`${KEY}\n`);
    const bad = await runChild(entry, ['key', USER, '../x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('agent-trace: Invalid taskId: must not contain "/" (ERR_TRACE_KEY)\n');
  });

  it('cats, inspects and verifies a recorded trace from a file and from stdin', async () => {
    const { path, bytes } = await recordArtifact(30);
    const cat = await runChild(entry, ['cat', path]);
    expect(cat.code).toBe(0);
    const lines = cat.stdout
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      event: 'TRAJECTORY_ARTIFACT_HEADER',
      task_id: TASK,
      user_id: USER,
      accumulated_events: 60,
    });
    expect(lines.slice(1).map((l) => l.seq)).toEqual([...Array(60).keys()]);

    const fromStdin = await runChild(entry, ['cat', '-'], { stdin: bytes });
    expect(fromStdin.stdout.equals(cat.stdout)).toBe(true);

    const inspect = await runChild(entry, ['inspect', '--json', path]);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout.toString())).toMatchObject({
      events: 60,
      eventsByType: { TRAJECTORY_TURN: 30, POLICY_DECISION: 30 },
      compressedBytes: bytes.length,
    });

    const sha = createHash('sha256').update(bytes).digest('hex');
    const verify = await runChild(entry, ['verify', path, '--sha256', sha, '--key', KEY]);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it('exits 3 on a truncated trace after printing the complete lines, and verify lists it', async () => {
    const { bytes } = await recordArtifact(400);
    const cut = join(dir, 'cut.jsonl.gz');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 64));
    const cat = await runChild(entry, ['cat', cut]);
    expect(cat.code).toBe(3);
    expect(cat.stdout.toString().split('\n')[0]).toContain('TRAJECTORY_ARTIFACT_HEADER');
    expect(cat.stderr).toMatch(/^agent-trace: .+ \((ERR_TRACE_TRUNCATED|ERR_TRACE_CORRUPT)\)\n$/);
    const verify = await runChild(entry, ['verify', cut]);
    expect(verify.code).toBe(3);
    expect(verify.stdout.toString()).toMatch(/^problem: /m);
  });

  it('stops quietly when the reader of stdout goes away', async () => {
    const { path } = await recordArtifact(2000);
    const run = await runChild(entry, ['cat', path], { closeStdoutAfter: 1 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });

  it('presigns, uploads through the URL from the environment, and cats it back from s3://', async () => {
    const { path, bytes } = await recordArtifact(10);
    const presign = await runChild(entry, ['presign', '--bucket', BUCKET, '--user', USER, '--task', TASK], {
      env: awsEnv(),
    });
    expect(presign.code).toBe(0);
    const url = presign.stdout.toString().trim();
    expect(presign.stderr).toContain('secret');

    const upload = await runChild(entry, ['upload', path, '--user', USER, '--task', TASK], {
      env: { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: url },
    });
    expect(upload.stderr).toBe('');
    expect(upload.code).toBe(0);
    expect(upload.stdout.toString()).toContain(`uploaded ${KEY}`);
    expect((await s3.getObject(BUCKET, KEY))?.body.equals(bytes)).toBe(true);

    const cat = await runChild(entry, ['cat', `s3://${BUCKET}/${KEY}`], { env: awsEnv() });
    expect(cat.code).toBe(0);
    expect(cat.stdout.equals((await runChild(entry, ['cat', path])).stdout)).toBe(true);
  });

  it('flushes a spooled artifact into S3', async () => {
    const spoolDir = join(dir, 'spool');
    const rec = createTraceRecorder({
      userId: USER,
      taskId: TASK,
      spoolDir,
      transport: {
        name: 'down',
        upload: async () => {
          throw new UploadError('ERR_UPLOAD_NETWORK', 'down', { retryable: false });
        },
      },
    });
    rec.recordTurn({ turn: 1, model: 'claude-sonnet', text: 'kept for later' });
    const failed = await rec.finish();
    expect(failed.status).toBe('failed');
    const spooled = readFileSync(failed.spooledPath!);

    const presign = await runChild(entry, ['presign', '--bucket', BUCKET, '--user', USER, '--task', TASK], {
      env: awsEnv(),
    });
    const flush = await runChild(entry, ['spool', 'flush', '--spool-dir', spoolDir], {
      env: { TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: presign.stdout.toString().trim() },
    });
    expect(flush.stderr).toBe('');
    expect(flush.code).toBe(0);
    expect(flush.stdout.toString()).toContain('uploaded 1, failed 0');
    expect((await s3.getObject(BUCKET, KEY))?.body.equals(spooled)).toBe(true);
  });
});
