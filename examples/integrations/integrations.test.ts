/**
 * Runs every framework-adapter example as a user would (`node examples/integrations/<name>/main.ts`
 * from the repo root) and checks it exits 0 and reports what its scripted agent did. Like
 * examples.test.ts, the examples import the BUILT packages, so this suite is skipped without `dist/`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const built = [
  'packages/trace-sdk/dist/integrations/ai-sdk/index.js',
  'packages/trace-sdk-testing/dist/index.js',
].every((file) => existsSync(new URL(`../../${file}`, import.meta.url)));

function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // NODE_ENV=test (set by vitest) switches off the OpenAI Agents SDK's tracing; run as a user would.
  const { NODE_ENV: _, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`examples/integrations/${name}/main.ts`],
      { cwd: repoRoot, timeout: 30_000, env: { ...env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
      },
    );
  });
}

describe.skipIf(!built)('integration examples (need `pnpm build`)', () => {
  it.each(['claude-agent-sdk', 'ai-sdk', 'openai-agents', 'langchain', 'otel-genai'])(
    '%s records 3 turns, 2 tool calls and a result into the local S3',
    async (name) => {
      const run = await runExample(name);
      expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(
          `${name}: trace landed at s3://traces-integrations/traces/3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41/\\w+\\.jsonl\\.gz`,
        ),
      );
      expect(run.stdout).toContain(`${name}: 3 turns, 2 tool calls, result success`);
      expect(run.stdout).not.toMatch(/X-Amz-(Signature|Credential)=/i);
    },
  );
});
