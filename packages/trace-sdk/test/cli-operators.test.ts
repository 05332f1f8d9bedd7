/**
 * What an operator sees from `agent-trace` when something is off: errors name the file or the
 * variable, listings do not hide partial spills or a mistyped directory, grammar holds for one,
 * and nothing an artifact or sidecar holds reaches the terminal as a control sequence.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handBuiltArtifact, runInProcess, sampleEvents, tempDir } from './cli-support.js';

const USER = '3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41';
const TASK = '01JD4Q9Z6XKQ2V8N5R3T7W1Y0M';
const KEY = `traces/${USER}/${TASK}.jsonl.gz`;
/** What a hostile runtime plants: an OSC title change, a bell, a C1 CSI, a bidi override. */
const HOSTILE = '\u001b]0;pwned\u0007\u009b31m\u202eevil';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => {
  cleanup();
  vi.unstubAllEnvs();
});

/** No ESC, BEL, C1 control or bidi override in `text`. */
function expectTerminalSafe(text: string): void {
  expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
}

function writeArtifact(name: string, header: Record<string, unknown> = {}, eventType = 'POLICY_DECISION') {
  const events = sampleEvents(TASK, 3).map((e) => ({ ...e, event: eventType }));
  const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events, header });
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('spool list', () => {
  it('refuses a --spool-dir that does not exist instead of reporting an empty spool', async () => {
    const run = await runInProcess(['spool', 'list', '--spool-dir', join(dir, 'typo')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `agent-trace: --spool-dir ${join(dir, 'typo')} is not a directory (ERR_SPOOL_DIR)\n`,
    );
    const flush = await runInProcess([
      'spool',
      'flush',
      '--spool-dir',
      join(dir, 'typo'),
      '--transport',
      'file',
    ]);
    expect(flush.code).toBe(2);
  });

  it('lists spill files of recordings that never finished, with their key', async () => {
    const spoolDir = join(dir, 'spool');
    mkdirSync(spoolDir);
    const stem = '20260101T000000123Z-0a1b2c3d4e5f';
    writeFileSync(join(spoolDir, `${stem}.events.gz.part`), gzipSync('{"event":"X"}\n'));
    const sidecar = {
      version: 1,
      key: KEY,
      pid: 999_999,
      hostname: 'sandbox-1',
      startedAt: '2026-01-01T00:00:00.123Z',
    };
    writeFileSync(join(spoolDir, `${stem}.events.gz.part.json`), JSON.stringify(sidecar));
    const run = await runInProcess(['spool', 'list', '--spool-dir', spoolDir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 spooled artifacts, 1 spill file');
    expect(run.stdout).toContain(`spill   ${KEY}  recording pid 999999 on sandbox-1`);
    const json = JSON.parse(
      (await runInProcess(['spool', 'list', '--spool-dir', spoolDir, '--json'])).stdout,
    );
    expect(json).toEqual([expect.objectContaining({ kind: 'spill', key: KEY })]);
  });

  it('escapes control characters from sidecars; --json keeps them exact', async () => {
    const spoolDir = join(dir, 'spool');
    mkdirSync(spoolDir);
    const stem = '20260101T000000123Z-aaaaaaaaaaaa';
    writeFileSync(join(spoolDir, `${stem}.jsonl.gz`), 'x');
    const sidecar = {
      version: 1,
      key: KEY,
      sha256: 'a'.repeat(64),
      byteLength: 1,
      transport: 'file',
      createdAt: `2026-01-01${HOSTILE}`,
      attempts: 1,
      lastError: { code: `ERR_X${HOSTILE}`, message: HOSTILE },
    };
    writeFileSync(join(spoolDir, `${stem}.json`), JSON.stringify(sidecar));
    const run = await runInProcess(['spool', 'list', '--spool-dir', spoolDir]);
    expectTerminalSafe(run.stdout);
    expect(run.stdout).toContain('\\u001b]0;pwned\\u0007\\u009b31m\\u202eevil');
    expect(run.stdout).toContain('1 attempt,');
    const json = JSON.parse(
      (await runInProcess(['spool', 'list', '--spool-dir', spoolDir, '--json'])).stdout,
    );
    expect(json[0].createdAt).toBe(sidecar.createdAt);
  });
});

describe('reading commands', () => {
  it('inspect escapes control and bidi characters from the header and event names; --json is exact', async () => {
    const path = writeArtifact(
      'hostile.jsonl.gz',
      { sdk: { name: HOSTILE, version: '1' } },
      `EVIL${HOSTILE}`,
    );
    const run = await runInProcess(['inspect', path]);
    expect(run.code).toBe(0);
    expectTerminalSafe(run.stdout);
    expect(run.stdout).toContain('EVIL\\u001b]0;pwned');
    const json = JSON.parse((await runInProcess(['inspect', path, '--json'])).stdout);
    expect(json.header.sdk.name).toBe(HOSTILE);
    expect(Object.keys(json.eventsByType)).toEqual([`EVIL${HOSTILE}`]);
  });

  it('cat escapes C1 and bidi characters but prints JSON that parses to the same values', async () => {
    const path = writeArtifact('hostile.jsonl.gz', {}, `EVIL${HOSTILE}`);
    const run = await runInProcess(['cat', path]);
    expect(run.code).toBe(0);
    expectTerminalSafe(run.stdout);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[1].event).toBe(`EVIL${HOSTILE}`);
  });

  it('cat names the file that is not gzip', async () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'plain text');
    const run = await runInProcess(['cat', path]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(`agent-trace: ${path}: Not gzip data (bad magic bytes) (ERR_TRACE_CORRUPT)\n`);
  });

  it('cat on a .part spill file hints at --recover', async () => {
    const path = join(dir, '20260101T000000123Z-0a1b2c3d4e5f.events.gz.part');
    writeFileSync(path, gzipSync(`${JSON.stringify(sampleEvents(TASK, 1)[0])}\n`));
    const run = await runInProcess(['cat', path]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('read it with --recover');
    expect(run.stderr.split('\n')).toHaveLength(2); // one line, then the final newline
    const recovered = await runInProcess(['cat', '--recover', path]);
    expect(recovered.code).toBe(0);
  });

  it('cat with no file on a terminal says what it waits for', async () => {
    const path = writeArtifact('ok.jsonl.gz');
    const { readFileSync } = await import('node:fs');
    const run = await runInProcess(['cat'], { stdin: readFileSync(path), stdinTty: true });
    expect(run.stderr).toMatch(/^agent-trace: reading a gzip trace from stdin; pipe one in/);
    const piped = await runInProcess(['cat'], { stdin: readFileSync(path) });
    expect(piped.stderr).toBe('');
  });

  it('verify counts in the singular for one', async () => {
    const events = sampleEvents(TASK, 2);
    const { bytes } = handBuiltArtifact({ userId: USER, taskId: TASK, events });
    const path = join(dir, 'cut.jsonl.gz');
    // The header member, then the events member cut short: only the header line is complete.
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const run = await runInProcess(['verify', path]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/\(after 1 complete line\) \(ERR_TRACE_TRUNCATED\)\n$/);
    expect(run.stdout).not.toMatch(/after 1 complete line\).* after/);
    expect(run.stderr).toContain('failed verification: 1 problem (ERR_VERIFY)');

    const single = handBuiltArtifact({ userId: USER, taskId: TASK, events: sampleEvents(TASK, 1) });
    writeFileSync(join(dir, 'one.jsonl.gz'), single.bytes);
    const ok = await runInProcess(['verify', join(dir, 'one.jsonl.gz')]);
    expect(ok.stdout).toMatch(/: 1 event, sha256 /);
  });
});

describe('upload and presign configuration', () => {
  it('upload --json prints a JSON report on failure too', async () => {
    const path = writeArtifact('ok.jsonl.gz');
    const run = await runInProcess(
      ['upload', path, '--user', USER, '--task', TASK, '--transport', 'lambda', '--json'],
      { env: { TRACE_UPLOADER_FUNCTION: 'fn' } },
    );
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      file: path,
      error: {
        code: 'ERR_TRACE_CONFIG',
        message: 'TRACE_UPLOAD_GRANT is required when TRACE_TRANSPORT=lambda (or pass --grant)',
      },
    });
    expect(run.stderr.split('\n')).toHaveLength(2);
  });

  it('a missing region is a configuration error naming AWS_REGION, not a failed upload', async () => {
    const path = writeArtifact('ok.jsonl.gz');
    const run = await runInProcess(
      [
        'upload',
        path,
        '--user',
        USER,
        '--task',
        TASK,
        '--transport',
        's3-put-object',
        '--allow-bucket-wide-put',
      ],
      { env: { TRACE_ARTIFACTS_BUCKET_NAME: 'trace-bucket' } },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'agent-trace: AWS_REGION is required when TRACE_TRANSPORT=s3-put-object (or AWS_DEFAULT_REGION) (or pass --region) (ERR_TRACE_CONFIG)\n',
    );
  });

  it('the legacy transport needs the explicit bucket-wide opt-in', async () => {
    const path = writeArtifact('ok.jsonl.gz');
    const run = await runInProcess(
      ['upload', path, '--user', USER, '--task', TASK, '--transport', 's3-put-object'],
      {
        env: { TRACE_ARTIFACTS_BUCKET_NAME: 'trace-bucket', AWS_REGION: 'us-east-1' },
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('set TRACE_ALLOW_BUCKET_WIDE_PUT=1 to accept that');
    expect(run.stderr).toContain('(or pass --allow-bucket-wide-put) (ERR_TRACE_CONFIG)');
  });

  it('presign without credentials is a configuration error naming the variables', async () => {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      vi.stubEnv(name, undefined);
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    vi.stubEnv('AWS_CONFIG_FILE', join(dir, 'none'));
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(dir, 'none'));
    const run = await runInProcess(['presign', '--bucket', 'trace-bucket', '--user', USER, '--task', TASK]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^agent-trace: presign needs AWS credentials .*AWS_ACCESS_KEY_ID.* \(ERR_TRACE_CONFIG\)\n$/,
    );
  });

  it('a bad bucket name is refused without echoing it', async () => {
    const run = await runInProcess(
      ['presign', '--bucket', 'Secret_Name/..', '--user', USER, '--task', TASK],
      {
        env: { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 's'.repeat(40) },
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('agent-trace: --bucket is not a valid S3 bucket name (ERR_TRACE_CONFIG)\n');
  });

  it('warns once, on one line, about variables the chosen transport ignores', async () => {
    const path = writeArtifact('ok.jsonl.gz');
    const run = await runInProcess(['upload', path, '--user', USER, '--task', TASK], {
      env: { TRACE_TRANSPORT: 'file', TRACE_DIR: join(dir, 'out'), TRACE_UPLOADER_FUNCTION: 'fn' },
    });
    // Once per process (vitest gives each test file fresh modules; no other test here sets one).
    expect(run.stderr).toBe(
      'agent-trace: warning: TRACE_TRANSPORT=file ignores TRACE_UPLOADER_FUNCTION, which is set; unset it or choose the transport it configures\n',
    );
    expect(run.code).toBe(0);
    const again = await runInProcess(['upload', path, '--user', USER, '--task', TASK, '--force'], {
      env: { TRACE_TRANSPORT: 'file', TRACE_DIR: join(dir, 'out2'), TRACE_UPLOADER_FUNCTION: 'fn' },
    });
    expect(again.stderr).toBe('');
  });
});
