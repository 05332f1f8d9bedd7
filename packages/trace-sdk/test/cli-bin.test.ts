/**
 * The committed `bin/agent-trace.js` shim: before `pnpm build` it says the CLI is not built (exit 3),
 * but a built CLI whose dependency is missing (a broken install) must report that dependency, not
 * send a consumer to build a repository they never cloned.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/agent-trace.js', import.meta.url));

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package laid out like the published one: package.json, bin/agent-trace.js, and `dist` if given. */
function packageWith(mainJs?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-trace-bin-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pkg', type: 'module' }));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(BIN, join(dir, 'bin/agent-trace.js'));
  if (mainJs !== undefined) {
    mkdirSync(join(dir, 'dist/cli'), { recursive: true });
    writeFileSync(join(dir, 'dist/cli/main.js'), mainJs);
  }
  return dir;
}

/** Makes the child believe it runs on Node `version` (the bin reads `process.versions.node`). */
const pretendNode = (version: string) => [
  '--import',
  `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"${version}"}})`,
];

function runBin(
  dir: string,
  nodeArgs: readonly string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeArgs, join(dir, 'bin/agent-trace.js'), '--version'],
      { cwd: dir },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
      },
    );
  });
}

describe('bin/agent-trace.js', () => {
  it('says ERR_NOT_BUILT (exit 3) when dist/ is not built', async () => {
    const run = await runBin(packageWith());
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('the CLI is not built yet; run `pnpm build`');
    expect(run.stderr).toContain('ERR_NOT_BUILT');
  });

  it('reports a missing dependency of the built CLI as that, not as an unbuilt CLI', async () => {
    const run = await runBin(
      packageWith("import 'agent-trace-missing-dependency';\nexport async function main() {}\n"),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).not.toContain('ERR_NOT_BUILT');
    expect(run.stderr).toContain("Cannot find package 'agent-trace-missing-dependency'");
  });

  it('names the Node it needs on a Node older than 22.19, before loading anything', async () => {
    const dir = packageWith("export async function main() { console.log('built'); }\n");
    for (const version of ['20.20.2', '22.18.0']) {
      const run = await runBin(dir, pretendNode(version));
      expect(run).toMatchObject({ code: 3, stdout: '' });
      expect(run.stderr).toBe(
        `agent-trace: needs Node.js 22.19 or newer, this is v${version} (ERR_NODE_VERSION)\n`,
      );
    }
    expect(await runBin(dir, pretendNode('22.19.0'))).toMatchObject({ code: 0, stdout: 'built\n' });
  });

  it('runs the built CLI', async () => {
    const run = await runBin(packageWith("export async function main() { console.log('built'); }\n"));
    expect(run).toMatchObject({ code: 0, stdout: 'built\n' });
  });
});
