/**
 * The migration guide's CDK section wires the containers its code snippets run in: every variable
 * the orchestrator snippet reads from `process.env` is set on the orchestrator container by the
 * "After, uploader Lambda" stack, so a reader copying both gets a working orchestrator.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MIGRATION = fileURLToPath(new URL('../../../docs/migration.md', import.meta.url));

/** The ```ts blocks of the "With the CDK constructs" section, in order. */
function cdkSectionSnippets(): string[] {
  const doc = readFileSync(MIGRATION, 'utf8');
  const start = doc.indexOf('## With the CDK constructs');
  const end = doc.indexOf('\n## ', start + 1);
  expect(start, 'docs/migration.md has a "With the CDK constructs" section').toBeGreaterThan(-1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('docs/migration.md, with the CDK constructs', () => {
  it('the uploader-Lambda stack sets every variable the orchestrator snippet reads', () => {
    const snippets = cdkSectionSnippets();
    const stack = snippets.find((s) => s.includes('new TraceUploader('));
    const orchestrator = snippets.find((s) => s.includes('createUploadGrant('));
    expect(stack).toBeDefined();
    expect(orchestrator).toBeDefined();
    const read = [...orchestrator!.matchAll(/process\.env\.([A-Z0-9_]+)/g)].map((m) => m[1]!);
    const set = [...stack!.matchAll(/orchestratorContainer\.addEnvironment\('([A-Z0-9_]+)'/g)].map(
      (m) => m[1]!,
    );
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((name) => !set.includes(name))).toEqual([]);
  });
});
