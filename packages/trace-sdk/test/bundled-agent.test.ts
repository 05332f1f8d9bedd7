/**
 * An agent bundled into one file (esbuild, as many runtimes ship) carries the SDK but not the
 * compression worker module, which Node loads by URL next to it. The recorder must still record,
 * compress off the agent's thread and finish: it did not, restarting dying workers forever at 100%
 * of a core while `finish()` never settled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trace-bundle-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SDK_ENTRY = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('an agent bundled without the worker module', () => {
  it.each(['esm', 'cjs'] as const)(
    'records, compresses on the threadpool and finishes (%s bundle)',
    async (format) => {
      const out = join(dir, 'out');
      const agent = join(dir, 'agent.ts');
      await writeFile(
        agent,
        `import { createTraceRecorder, fileTransport } from ${JSON.stringify(SDK_ENTRY)};
      const rec = createTraceRecorder({
        userId: 'user-1', taskId: 'task-1',
        transport: fileTransport({ dir: ${JSON.stringify(out)} }),
        spoolDir: ${JSON.stringify(join(dir, 'spool'))},
      });
      // Several 1 MiB batches, so the pool is asked to compress more than once.
      for (let i = 0; i < 20000; i++) rec.record({ event: 'TOOL_RESULT', i, content: 'x'.repeat(200) + i });
      // No top-level await: a CommonJS bundle cannot have one.
      rec.finish({ timeoutMs: 30000 }).then((result) => {
        console.log(JSON.stringify({ status: result.status, events: result.events }));
      });
      `,
      );
      const bundle = join(dir, format === 'esm' ? 'agent.bundle.mjs' : 'agent.bundle.cjs');
      await build({
        entryPoints: [agent],
        bundle: true,
        platform: 'node',
        format,
        outfile: bundle,
        logLevel: 'silent',
        // ESM bundles of CommonJS dependencies need a require of their own.
        ...(format === 'esm'
          ? {
              banner: {
                js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
              },
            }
          : {}),
      });
      expect(existsSync(join(dir, 'gzip-worker-thread.js'))).toBe(false);

      const run = spawnSync(process.execPath, [bundle], { encoding: 'utf8', timeout: 60_000 });
      expect(run.signal).toBeNull();
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout.trim())).toEqual({ status: 'uploaded', events: 20000 });
      const body = gunzipSync(await readFile(join(out, 'traces/user-1/task-1.jsonl.gz'))).toString();
      const lines = body.trimEnd().split('\n');
      expect(lines).toHaveLength(20001);
      expect(JSON.parse(lines[20000]!)).toMatchObject({ event: 'TOOL_RESULT', i: 19999, seq: 19999 });
    },
    90_000,
  );
});
