/**
 * The program itself: `key`, help and version, usage errors, exit codes and the one-line error
 * format that never shows a stack (unless --debug) or a URL query.
 */
import { describe, expect, it } from 'vitest';
import { ExitCode, formatError, sanitize } from '../src/cli/errors.js';
import { UploadError } from '../src/errors.js';
import { traceKey } from '../src/key.js';
import { SDK_VERSION } from '../src/version.js';
import { runInProcess } from './cli-support.js';

describe('key', () => {
  it('prints the key the SDK builds', async () => {
    const run = await runInProcess(['key', 'user-1', '01JD4Q9Z6X']);
    expect(run).toEqual({
      code: 0,
      stdout: `${traceKey({ userId: 'user-1', taskId: '01JD4Q9Z6X' })}\n`,
      stderr: '',
    });
    expect(run.stdout).toBe('traces/user-1/01JD4Q9Z6X.jsonl.gz\n');
  });

  it.each([
    ['a/b', 'task', 'Invalid userId: must not contain "/"'],
    ['user', '..', 'Invalid taskId: must not be "." or ".."'],
    [' user', 'task', 'Invalid userId: must not start or end with whitespace'],
    ['user', 'x'.repeat(257), 'Invalid taskId: 257 UTF-8 bytes, at most 256 allowed'],
    ['', 'task', 'Invalid userId: must not be empty'],
  ])('exits 2 with the TraceKeyError message for user %j task %j', async (user, task, message) => {
    const run = await runInProcess(['key', user, task]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`agent-trace: ${message} (ERR_TRACE_KEY)\n`);
  });
});

describe('help, version and usage errors', () => {
  it('documents the exit codes in --help and exits 0', async () => {
    const run = await runInProcess(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: agent-trace /);
    for (const command of ['cat', 'inspect', 'verify', 'key', 'presign', 'upload', 'spool']) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(run.stdout).toMatch(/^ {2}0 {2}success$/m);
    expect(run.stdout).toMatch(/^ {2}1 {2}verification found problems, or an upload failed$/m);
    expect(run.stdout).toMatch(/^ {2}2 {2}usage error or invalid input/m);
    expect(run.stdout).toMatch(/^ {2}3 {2}I\/O error, or a corrupt or truncated trace$/m);
  });

  it.each(['cat', 'inspect', 'verify', 'key', 'presign', 'upload', 'spool'])(
    'has --help for %s',
    async (command) => {
      const run = await runInProcess([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^Usage: agent-trace ${command}`));
    },
  );

  it('has a help command that exits 0', async () => {
    const run = await runInProcess(['help', 'verify']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: agent-trace verify/);
  });

  it('exits 2 with help on stderr for a command group without a subcommand', async () => {
    const run = await runInProcess(['spool']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Usage: agent-trace spool/);
    expect(run.stderr).toMatch(/^ {2}flush /m);
  });

  it('prints the version', async () => {
    const run = await runInProcess(['--version']);
    expect(run).toEqual({ code: 0, stdout: `${SDK_VERSION}\n`, stderr: '' });
  });

  it('exits 2 with help on stderr when no command is given', async () => {
    const run = await runInProcess([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^Usage: agent-trace /);
  });

  it.each([
    [['cat', '--bogus'], /^agent-trace: unknown option '--bogus' \(ERR_USAGE\)\n/],
    [['key', 'only-user'], /^agent-trace: missing required argument 'task' \(ERR_USAGE\)\n/],
    [['key', 'a', 'b', 'c'], /^agent-trace: too many arguments for 'key'.* \(ERR_USAGE\)\n/],
    [['frobnicate'], /^agent-trace: unknown command 'frobnicate' \(ERR_USAGE\)\n/],
  ])('exits 2 on %j', async (argv, message) => {
    const run = await runInProcess(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain("Run 'agent-trace --help' for usage.");
  });
});

describe('error output', () => {
  const presigned =
    'https://bucket.s3.amazonaws.com/traces/u/t.jsonl.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20250101&X-Amz-Signature=deadbeef';

  it('strips URL queries and known secrets from messages', () => {
    const err = new UploadError('ERR_UPLOAD_HTTP', `PUT ${presigned} failed with grant g.abcdefgh.sig`);
    const line = formatError(err, { secrets: ['g.abcdefgh.sig'] });
    expect(line).toBe(
      'agent-trace: PUT https://bucket.s3.amazonaws.com/traces/u/t.jsonl.gz?<redacted> failed with grant <redacted> (ERR_UPLOAD_HTTP)\n',
    );
    // The CLI shares the SDK's one sanitizer, which masks the signature parameter whole.
    expect(sanitize('X-Amz-Signature=abc123&x=1')).toBe('<redacted>&x=1');
  });

  it('shows a stack only with --debug, still sanitized', () => {
    const err = new UploadError('ERR_UPLOAD_NETWORK', `reset while sending to ${presigned}`);
    expect(formatError(err)).not.toMatch(/\n\s+at /);
    const debug = formatError(err, { debug: true });
    expect(debug).toMatch(/\n\s+at /);
    expect(debug).not.toContain('X-Amz-Signature=deadbeef');
    expect(debug).not.toContain('AKIAEXAMPLE');
  });

  it('prints a stack for --debug runs only', async () => {
    const quiet = await runInProcess(['cat', '/nonexistent/agent-trace/file.gz']);
    expect(quiet.code).toBe(ExitCode.io);
    expect(quiet.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const debug = await runInProcess(['cat', '/nonexistent/agent-trace/file.gz', '--debug']);
    expect(debug.code).toBe(ExitCode.io);
    expect(debug.stderr).toMatch(/\(ENOENT\)\n[\s\S]*\n\s+at /);
  });
});
