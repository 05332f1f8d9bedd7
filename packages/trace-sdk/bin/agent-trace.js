#!/usr/bin/env node
// The `agent-trace` bin. A committed file (not dist/cli/main.js) so that pnpm and npm can link the
// bin on the first install of a fresh clone, before `dist/` is built.
// The floor the package's `engines` declares (npm only warns about it): older Nodes fail inside
// undici with an unreadable TypeError, so say which Node is needed instead.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `agent-trace: needs Node.js 22.19 or newer, this is v${process.versions.node} (ERR_NODE_VERSION)\n`,
  );
  process.exit(3);
}
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  // Only main.js itself missing means "not built"; a dependency that dist/ cannot find (a broken
  // install) is reported as Node reports it, naming the package.
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.url ?? '').endsWith('/dist/cli/main.js')) throw err;
  process.stderr.write(
    'agent-trace: the CLI is not built yet; run `pnpm build` in the agent-trace repository (ERR_NOT_BUILT)\n',
  );
  process.exit(3);
}
await cli.main();
