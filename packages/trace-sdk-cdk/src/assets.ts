/**
 * Where the prebuilt Lambda bundles live. `scripts/bundle-lambdas.ts` writes them at build time;
 * both `src/` and `dist/` sit one level under the package root, so one relative path serves the
 * TypeScript sources (tests) and the published build.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@agent-trace/trace-sdk';

/** The functions this package ships prebuilt. */
export type BundledLambda = 'uploader' | 'rotate-grant-keys';

/** Directory of a prebuilt bundle (its handler is `index.handler`), checked to exist. */
export function bundledLambdaDir(name: BundledLambda): string {
  const dir = fileURLToPath(new URL(`../dist/assets/${name}/`, import.meta.url));
  if (!existsSync(`${dir}index.mjs`)) {
    throw new ConfigError(
      `the prebuilt ${name} Lambda bundle is missing (${dir}index.mjs): run \`pnpm build\` in @agent-trace/trace-sdk-cdk`,
      'code',
    );
  }
  return dir;
}
