/**
 * The frameworks are optional peer dependencies: importing `@agent-trace/trace-sdk` (and recording)
 * must load none of them; each adapter subpath loads only what it needs. Proven in a fresh Node
 * process (vitest's module graph already holds the frameworks) with a resolve hook that records
 * every module the process resolves, as in lazy-aws-sdk.test.ts.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const FRAMEWORKS =
  /\/node_modules\/.*(?:@anthropic-ai\/claude-agent-sdk|\/ai\/|@ai-sdk|@openai\/agents|@langchain|\/langchain\/|@opentelemetry\/sdk-trace)/;

/** Imports the root (and records), then the structural adapters, then langchain; reports after each. */
const CHILD = `
import { registerHooks } from 'node:module';
const resolved = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    let result;
    try {
      result = nextResolve(specifier, context);
    } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.startsWith('.') || !specifier.endsWith('.js')) throw err;
      result = nextResolve(specifier.slice(0, -3) + '.ts', context);
    }
    resolved.push(result.url);
    return result;
  },
});
const frameworks = () => resolved.filter((url) => ${FRAMEWORKS}.test(url));
const report = {};
const sdk = await import('@agent-trace/trace-sdk');
const rec = sdk.createTraceRecorder({ userId: 'u', taskId: 't', transport: { name: 'none', upload: async () => ({}) } });
rec.recordTurn({ turn: 1 });
await rec.abort();
report.root = { frameworks: frameworks(), resolved: resolved.length };
for (const name of ['claude-agent-sdk', 'ai-sdk', 'openai-agents', 'otel-genai']) await import('@agent-trace/trace-sdk/' + name);
report.structural = { frameworks: frameworks(), resolved: resolved.length };
await import('@agent-trace/trace-sdk/langchain');
report.langchain = { frameworks: frameworks(), resolved: resolved.length };
console.log(JSON.stringify(report));
`;

interface Snapshot {
  readonly frameworks: string[];
  readonly resolved: number;
}

describe('framework packages stay unloaded unless their adapter is imported', () => {
  it('the root loads none, the structural adapters none, the langchain adapter only @langchain/core', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=source', '--input-type=module', '--no-warnings', '-e', CHILD],
      // Loading every adapter's TypeScript source in a fresh process is slow on a busy machine.
      { cwd: PACKAGE_DIR, timeout: 110_000 },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, Snapshot>;
    expect(report['root']?.resolved).toBeGreaterThan(20); // the package's own modules were seen
    expect(report['root']?.frameworks).toEqual([]);
    // claude-agent-sdk, ai-sdk, openai-agents and otel-genai read the frameworks' objects structurally.
    expect(report['structural']?.resolved).toBeGreaterThan(report['root']?.resolved ?? 0);
    expect(report['structural']?.frameworks).toEqual([]);
    // The LangChain handler extends BaseCallbackHandler, so it loads @langchain/core (and nothing else).
    const langchain = report['langchain']?.frameworks ?? [];
    expect(langchain.length).toBeGreaterThan(0);
    expect(langchain.filter((url) => !url.includes('@langchain/core') && !url.includes('langsmith'))).toEqual(
      [],
    );
  }, 120_000);
});
