import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One runner for the whole workspace. The `source` condition resolves workspace packages to their
// TypeScript sources, so tests never depend on a stale `dist/`.
const shared = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
};

/**
 * The OpenAI Agents SDK ships source maps that name sources it does not ship; once inlined (below)
 * Vite warns about each of its ~300 files. Load those files without their map comment instead.
 */
const quietFrameworkSourcemaps = {
  name: 'quiet-framework-sourcemaps',
  enforce: 'pre' as const,
  load(id: string): string | undefined {
    if (!/\/node_modules\/@openai\/agents[^/]*\/dist\/.*\.mjs$/.test(id)) return undefined;
    return readFileSync(id, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        plugins: [quietFrameworkSourcemaps],
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: ['**/*.load.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          // Vitest hands the `source` condition to Node too, so third-party packages that also publish
          // one (eventsource, eventsource-parser) resolve to .ts files Node will not strip under
          // node_modules. Let Vite transform them, and the framework packages that import them.
          server: {
            deps: {
              inline: [
                /\/eventsource(-parser)?\//,
                /\/@ai-sdk\//,
                /\/node_modules\/ai\//,
                /\/@openai\/agents/,
                /\/@modelcontextprotocol\//,
              ],
            },
          },
        },
      },
      {
        ...shared,
        test: {
          name: 'load',
          include: ['packages/*/test/**/*.load.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
