/**
 * Bundles the package's Lambda functions into self-contained assets at build time, so a synth
 * (and the tests) only zip a prebuilt directory and never run a bundler or Docker:
 *   src/lambda/uploader.ts          -> dist/assets/uploader/index.mjs
 *   src/lambda/rotate-grant-keys.ts -> dist/assets/rotate-grant-keys/index.mjs
 * The AWS SDK is bundled too: the Lambda runtime's copy is not pinned, and the presign path needs
 * a client-s3 recent enough for `requestChecksumCalculation`.
 *
 * Run: `node scripts/bundle-lambdas.ts` (part of `pnpm build`).
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Function name -> entry file, relative to the package root. */
export const LAMBDA_ENTRIES = {
  uploader: 'src/lambda/uploader.ts',
  'rotate-grant-keys': 'src/lambda/rotate-grant-keys.ts',
} as const;

export async function bundleLambdas(): Promise<void> {
  await Promise.all(
    Object.entries(LAMBDA_ENTRIES).map(async ([name, entry]) => {
      const outdir = `${root}dist/assets/${name}`;
      await rm(outdir, { recursive: true, force: true });
      await build({
        absWorkingDir: root,
        entryPoints: [entry],
        outfile: `${outdir}/index.mjs`,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        // Workspace packages from their TypeScript sources, as the tests see them.
        conditions: ['source'],
        minify: true,
        sourcemap: false,
        legalComments: 'none',
        logLevel: 'warning',
        // Some AWS SDK dependencies are CommonJS and call require() on Node built-ins.
        banner: {
          js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        },
      });
    }),
  );
}

if (import.meta.main) await bundleLambdas();
