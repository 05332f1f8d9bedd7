/**
 * scripts/bootstrap.sh (behind the README's `bash scripts/demo` / `bash scripts/test`) on a machine
 * whose Node is too old: it installs Node and pnpm with npm into a prefix, puts that prefix first on
 * PATH and installs the workspace. `npm` and the old `node` are fakes here (no registry, no CPU):
 * the fake npm links the running Node into `<prefix>/bin` and writes a pnpm that only reports what
 * it was asked, so the test checks where the script installs and what it tells the user.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const isRoot = process.getuid?.() === 0;
/** Running the script as an unprivileged user needs root and util-linux's setpriv. */
const asOtherUser = isRoot && spawnSync('setpriv', ['--version']).status === 0;

interface Machine {
  readonly dir: string;
  readonly home: string;
  /** `npm` calls the script made, one per line. */
  npmCalls(): string[];
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A machine with Node 20 and npm on PATH, nothing in the prefix yet. */
function oldMachine(): Machine {
  const dir = mkdtempSync(join(tmpdir(), 'agent-trace-bootstrap-'));
  dirs.push(dir);
  chmodSync(dir, 0o777); // the unprivileged run writes here too
  const bin = join(dir, 'oldbin');
  const home = join(dir, 'home');
  mkdirSync(bin);
  mkdirSync(home);
  chmodSync(home, 0o777);
  writeFileSync(join(bin, 'node'), '#!/bin/sh\n[ "$1" = --version ] && { echo v20.0.0; exit 0; }\nexit 1\n', {
    mode: 0o755,
  });
  writeFileSync(
    join(bin, 'npm'),
    `#!/bin/sh
echo "$*" >> "${dir}/npm.log"
prefix=""; pkg=""
while [ $# -gt 0 ]; do
  case "$1" in --prefix) prefix="$2"; shift ;; node@*|pnpm@*) pkg="$1" ;; esac
  shift
done
mkdir -p "$prefix/bin" || exit 243
case "$pkg" in
  node@*) ln -sf "${process.execPath}" "$prefix/bin/node" ;;
  pnpm@*) printf '#!/bin/sh\\n[ "$1" = --version ] && { echo 10.0.0; exit 0; }\\necho "pnpm $*"\\n' > "$prefix/bin/pnpm"
          chmod 755 "$prefix/bin/pnpm" ;;
esac
`,
    { mode: 0o755 },
  );
  writeFileSync(join(dir, 'npm.log'), '', { mode: 0o666 });
  chmodSync(join(dir, 'npm.log'), 0o666);
  return {
    dir,
    home,
    npmCalls: () => readFileSync(join(dir, 'npm.log'), 'utf8').trim().split('\n').filter(Boolean),
  };
}

function bootstrap(
  machine: Machine,
  env: Record<string, string>,
  asUser?: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = 'source scripts/bootstrap.sh; echo "node=$(command -v node)"';
  const envArgs = Object.entries({
    HOME: machine.home,
    PATH: `${join(machine.dir, 'oldbin')}:/usr/bin:/bin`,
    ...env,
  }).map(([k, v]) => `${k}=${v}`);
  const [cmd, args] =
    asUser === undefined
      ? ['env', ['-i', ...envArgs, 'bash', '-c', script]]
      : [
          'setpriv',
          [
            `--reuid=${asUser}`,
            `--regid=${asUser}`,
            '--clear-groups',
            'env',
            '-i',
            ...envArgs,
            'bash',
            '-c',
            script,
          ],
        ];
  return new Promise((resolve) => {
    execFile(cmd, args as string[], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('scripts/bootstrap.sh on a machine with Node 20 and npm only', () => {
  it('installs Node 24 and pnpm 10 into AGENT_TRACE_PREFIX and uses them', async () => {
    const machine = oldMachine();
    const prefix = join(machine.dir, 'prefix');
    const run = await bootstrap(machine, { AGENT_TRACE_PREFIX: prefix });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(machine.npmCalls()).toEqual([
      `install -g --prefix ${prefix} node@24`,
      `install -g --prefix ${prefix} pnpm@10`,
    ]);
    expect(run.stdout).toContain('pnpm install --frozen-lockfile');
    expect(run.stdout).toContain(`node=${prefix}/bin/node`);
    // Its bin/ was not on the user's PATH: say how to reach `pnpm exec agent-trace` afterwards.
    expect(run.stdout).toContain(`export PATH="${prefix}/bin:$PATH"`);
  });

  it.skipIf(!asOtherUser)(
    `installs into ~/.local when /usr/local is not writable (a user without sudo)${asOtherUser ? '' : ' (skipped: needs root and setpriv to run as another user)'}`,
    async () => {
      const machine = oldMachine();
      const run = await bootstrap(machine, {}, 65534);
      expect(run.code, run.stderr + run.stdout).toBe(0);
      const prefix = join(machine.home, '.local');
      expect(machine.npmCalls()).toEqual([
        `install -g --prefix ${prefix} node@24`,
        `install -g --prefix ${prefix} pnpm@10`,
      ]);
      expect(run.stdout).toContain(`node=${prefix}/bin/node`);
      expect(run.stdout).toContain(`export PATH="${prefix}/bin:$PATH"`);
    },
  );
});
