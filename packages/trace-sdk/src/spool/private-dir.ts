/**
 * The default spool directory lives under the shared temp directory, where any local user can
 * create it first and plant traces for a later flush to deliver. Like ssh-agent and gpg-agent
 * sockets, it must be private: created `0700`, owned by this user, a real directory (not a link),
 * with no access for anybody else. An existing one that is not is refused, never repaired or trusted.
 *
 * @packageDocumentation
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SpoolError } from '../errors.js';

/** This user's id, or undefined where the platform has none (Windows). */
function uid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * The default spool directory: `<os.tmpdir()>/agent-trace-<uid>/spool` (`agent-trace/spool` where
 * there are no user ids), private to this user; see {@link ensurePrivateDir}.
 */
export function defaultSpoolDir(): string {
  const id = uid();
  return join(tmpdir(), id === undefined ? 'agent-trace' : `agent-trace-${id}`, 'spool');
}

/** Whether `dir` is the default spool directory (which must be private). */
export function isDefaultSpoolDir(dir: string): boolean {
  return resolve(dir) === resolve(defaultSpoolDir());
}

/**
 * Why `dir` cannot serve as a private directory, or undefined when it can. A missing directory
 * is fine (it will be created private).
 */
export function privateDirProblem(dir: string): string | undefined {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : `cannot inspect ${dir} (${code ?? 'error'})`;
  }
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  const me = uid();
  if (me !== undefined && st.uid !== me)
    return `${dir} belongs to uid ${st.uid}, not to this user (uid ${me})`;
  if (me !== undefined && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8);
    if ((st.mode & 0o022) !== 0)
      return `${dir} is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${mode})`;
    // Readable or listable: spooled traces (tool inputs and outputs) would be open to other users.
    return `${dir} is open to other users (mode ${mode}, not 700)`;
  }
  return undefined;
}

/**
 * Creates `dir` (and its parent under the temp directory) `0700`, or checks an existing one, for
 * the default spool directory. Other directories are the operator's choice and are only created.
 *
 * @throws {@link SpoolError} naming the problem when the directory is not private to this user.
 */
export function ensureSpoolDir(dir: string): void {
  if (!isDefaultSpoolDir(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  ensurePrivateDir(resolve(dir, '..'));
  ensurePrivateDir(resolve(dir));
}

/** {@link ensureSpoolDir} for one directory level: create it `0700`, or refuse it. */
function ensurePrivateDir(dir: string): void {
  const before = privateDirProblem(dir);
  if (before !== undefined) throw refusal(before);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SpoolError(
        `Cannot create the spool directory ${dir}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
  }
  // Checked again after creating: another user may have won the race to create it.
  const after = privateDirProblem(dir);
  if (after !== undefined) throw refusal(after);
}

/**
 * Checks a spool directory before reading entries from it: the default one must be private (an
 * existing foreign or shared one is refused); other directories are the operator's choice.
 *
 * @throws {@link SpoolError} when the default directory is not private to this user.
 */
export function assertReadableSpoolDir(dir: string): void {
  if (!isDefaultSpoolDir(dir)) return;
  for (const level of [resolve(dir, '..'), resolve(dir)]) {
    const problem = privateDirProblem(level);
    if (problem !== undefined) throw refusal(problem);
  }
}

function refusal(problem: string): SpoolError {
  return new SpoolError(
    `Refusing the spool directory: ${problem}. It must be private to this user (mode 0700); ` +
      'remove it, or set spoolDir to a directory you own',
  );
}
