/**
 * Runs every example as a user would (`node examples/<name>/main.ts` from the repo root) and checks
 * it exits 0 and prints its key lines. The examples import the BUILT packages, so this suite is
 * skipped when a `dist/` is missing; CI runs `pnpm build` before `pnpm test`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const built = ['packages/trace-sdk/dist/index.js', 'packages/trace-sdk-testing/dist/index.js'].every((file) =>
  existsSync(new URL(`../${file}`, import.meta.url)),
);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runExample(name: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`examples/${name}/main.ts`],
      { cwd: repoRoot, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Asserts a clean run; on failure the message carries the example's own output. */
function expectSuccess(run: Run): void {
  expect(run.code, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
}

/** No example may print a presigned URL's signature or credential. */
function expectNoSignedUrls(run: Run): void {
  expect(run.stdout + run.stderr).not.toMatch(/X-Amz-(Signature|Credential)=/i);
}

describe.skipIf(!built)('examples (need `pnpm build`: they import the built packages)', () => {
  it('presigned-put (`pnpm demo`) uploads, verifies and shows the URL cannot write another key', async () => {
    const run = await runExample('presigned-put');
    expectSuccess(run);
    expectNoSignedUrls(run);
    expect(run.stdout).toMatch(
      /trace landed at s3:\/\/traces-demo\/traces\/3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41\/01JD4Q9Z6XKQ2V8N5R3T7W1Y0M\.jsonl\.gz/,
    );
    const counts = /events (\d+) \(dropped (\d+), redactions (\d+)\)/.exec(run.stdout);
    expect(counts, run.stdout).not.toBeNull();
    const [, events, dropped, redactions] = counts!.map(Number);
    expect(events).toBeGreaterThan(10);
    expect(dropped).toBe(0);
    expect(redactions).toBeGreaterThanOrEqual(2);
    expect(run.stdout).toMatch(/upload 1 attempt\b/);
    expect(run.stdout).toMatch(/runtime: held no S3 credentials/);
    expect(run.stdout).toMatch(/another user's key → 403 SignatureDoesNotMatch, nothing written/);
    expect(run.stdout).toMatch(/\[REDACTED-AWS-ACCESS-KEY-ID\].*\[REDACTED-GITHUB-TOKEN\]/);
    expect(run.stderr).not.toMatch(/\bat .+:\d+:\d+\)?$/m); // no stack traces
  });

  it('uploader-lambda sends small traces inline, large ones via presign, and rejects bad grants', async () => {
    const run = await runExample('uploader-lambda');
    expectSuccess(run);
    expectNoSignedUrls(run);
    expect(run.stdout).toMatch(/small trace .* inline/);
    expect(run.stdout).toMatch(/large trace .* presigned PUT/);
    expect(run.stdout).toMatch(/forged grant .* rejected/);
    expect(run.stdout).toMatch(/another user's grant .* rejected/);
  });

  it('legacy-s3 uploads with PutObject and emits the deprecation warning', async () => {
    const run = await runExample('legacy-s3');
    expectSuccess(run);
    expect(run.stdout).toMatch(/DeprecationWarning/);
    expect(run.stdout).toMatch(/docs\/migration\.md/);
    expect(run.stdout).toMatch(/trace landed at s3:\/\//);
  });

  it('otel shows the upload span, ids on events and the SDK metrics', async () => {
    const run = await runExample('otel');
    expectSuccess(run);
    expect(run.stdout).toMatch(/span agent_trace\.upload/);
    expect(run.stdout).toMatch(/agent_trace\.transport/);
    expect(run.stdout).toMatch(/every event carries trace_id [0-9a-f]{32}/);
    expect(run.stdout).toMatch(/agent_trace\.events\.recorded\s+\d+/);
    expect(run.stdout).toMatch(/agent_trace\.upload\.duration/);
  });

  it('spool-recovery keeps a failed upload and delivers it later', async () => {
    const run = await runExample('spool-recovery');
    expectSuccess(run);
    expect(run.stdout).toMatch(/finish\(\): failed/);
    expect(run.stdout).toMatch(/spooled/);
    expect(run.stdout).toMatch(/uploadSpooled\(\): delivered 1/);
  });
});
