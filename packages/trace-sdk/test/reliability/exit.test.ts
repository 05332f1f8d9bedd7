/**
 * The SDK never keeps a process alive on its own (as OpenTelemetry's batch processor unrefs its
 * timer): an agent that aborts its recorder, or forgets it, still exits when its own work is done.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A child that loads the SDK from source, records, then does `ending` and returns. */
const child = (events: number, ending: string, transport = 'null') => `
import { registerHooks } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
registerHooks({
  resolve(specifier, context, nextResolve) {
    try { return nextResolve(specifier, context); } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.startsWith('.') || !specifier.endsWith('.js')) throw err;
      return nextResolve(specifier.slice(0, -3) + '.ts', context);
    }
  },
});
const { createTraceRecorder } = await import('@agent-trace/trace-sdk');
const spoolDir = mkdtempSync(join(tmpdir(), 'agent-trace-exit-'));
const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport: ${transport}, spoolDir });
for (let i = 0; i < ${events}; i++) rec.record({ event: 'E', i, text: 'x'.repeat(300) });
${ending}
console.log('returned');
`;

describe('the process exits by itself', () => {
  it.each([
    ['after abort() of a one-event trace (no batch ever compressed)', 1, 'await rec.abort();'],
    ['after abort()', 5000, 'await rec.abort();'],
    ['after finish()', 5000, 'await rec.finish();'],
    ['with a recorder it never finished', 5000, ''],
  ])(
    '%s',
    async (_, events, ending) => {
      const started = performance.now();
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--conditions=source', '--input-type=module', '--no-warnings', '-e', child(events, ending)],
        // A hang shows up as this timeout, not as a test that never ends.
        { cwd: PACKAGE_DIR, timeout: 60_000 },
      );
      expect(stdout.trim()).toBe('returned');
      expect(performance.now() - started).toBeLessThan(60_000);
    },
    90_000,
  );
});

describe('a pending finish() keeps the process alive until its deadline', () => {
  it('a transport whose promise holds nothing (no socket, no timer): finish fails at its deadline and spools', async () => {
    // Without the deadline keeping the process up, the event loop empties and the process exits
    // (status 13, "unsettled top-level await") with the artifact neither uploaded nor spooled.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=source',
        '--input-type=module',
        '--no-warnings',
        '-e',
        child(
          5000,
          `const r = await rec.finish({ timeoutMs: 300 });
console.log(JSON.stringify({ status: r.status, code: r.error?.code, spooled: typeof r.spooledPath === 'string' && (await import('node:fs')).existsSync(r.spooledPath) }));`,
          "{ name: 'stuck', upload: () => new Promise(() => {}) }",
        ),
      ],
      { cwd: PACKAGE_DIR, timeout: 60_000 },
    );
    const [result, last] = stdout.trim().split('\n');
    expect(JSON.parse(result ?? '')).toEqual({
      status: 'failed',
      code: 'ERR_UPLOAD_DEADLINE',
      spooled: true,
    });
    expect(last).toBe('returned');
  }, 90_000);
});
