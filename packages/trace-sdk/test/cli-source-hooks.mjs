// Lets `node` run the CLI from its TypeScript sources in the e2e tests, without a build: Node strips
// the types itself, but the sources import `./x.js` (as `module: nodenext` requires) and only
// `./x.ts` exists, so this hook retries a missing relative `.js` as `.ts`.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.startsWith('.') || !specifier.endsWith('.js'))
        throw err;
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    }
  },
});
