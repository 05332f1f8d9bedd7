/**
 * Shared helpers of the CLI tests: run the CLI in-process with captured output, and build trace
 * artifacts by hand (header member ++ events member) when a test needs a specific defect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { runCli } from '../src/cli/main.js';

/** What one CLI run produced. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `agent-trace <argv>` in-process with injected stdin, env and terminal facts. */
export async function runInProcess(
  argv: readonly string[],
  opts: {
    stdin?: Buffer | string;
    env?: Record<string, string | undefined>;
    tty?: boolean;
    stdinTty?: boolean;
  } = {},
): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(argv, {
    stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
    stdout,
    stderr,
    env: opts.env ?? {},
    stdinIsTTY: opts.stdinTty ?? false,
    stderrIsTTY: opts.tty ?? false,
    columns: 80,
  });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** A temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'agent-trace-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An event line as the recorder writes it. */
export type EventLine = Record<string, unknown> & { event: string };

/** JSONL text of `lines`, each terminated by `\n`. */
export const jsonl = (lines: readonly object[]): string =>
  lines.map((l) => `${JSON.stringify(l)}\n`).join('');

/**
 * Event lines as the spool writes them: one gzip member per batch of `perMember` lines. The reader
 * checks each member's CRC before yielding its lines, so a cut inside a member loses that member
 * and keeps every earlier one.
 */
export function eventMembers(events: readonly object[], perMember = 16): Buffer {
  const members: Buffer[] = [];
  for (let i = 0; i < events.length; i += perMember)
    members.push(gzipSync(jsonl(events.slice(i, i + perMember))));
  return Buffer.concat(members);
}

/**
 * A hand-built artifact in the real layout: the header line as one gzip member, then the event
 * lines in members of 16. `header` overrides fields of the computed header (to plant a wrong count).
 */
export function handBuiltArtifact(opts: {
  userId: string;
  taskId: string;
  events: readonly EventLine[];
  header?: Record<string, unknown>;
}): { bytes: Buffer; header: Record<string, unknown>; eventsText: string } {
  const eventsText = jsonl(opts.events);
  const header = {
    event: 'TRAJECTORY_ARTIFACT_HEADER',
    task_id: opts.taskId,
    user_id: opts.userId,
    accumulated_events: opts.events.length,
    // Python's rule: bytes of the event lines without their newlines.
    accumulated_bytes: Buffer.byteLength(eventsText) - opts.events.length,
    dropped: 0,
    max_bytes: 50 * 1024 * 1024,
    schema_version: 1,
    redactions: 0,
    truncated_fields: 0,
    started_at: '2023-11-14T22:13:20.000Z',
    finished_at: '2023-11-14T22:13:25.000Z',
    sdk: { name: '@agent-trace/trace-sdk', version: '0.1.0' },
    ...opts.header,
  };
  const bytes = Buffer.concat([gzipSync(`${JSON.stringify(header)}\n`), eventMembers(opts.events)]);
  return { bytes, header, eventsText };
}

/** `n` events of a realistic mix, with dense seq from 0 and rising ts. */
export function sampleEvents(taskId: string, n: number): EventLine[] {
  const events: EventLine[] = [];
  for (let seq = 0; seq < n; seq++) {
    const ts = 1_700_000_000_000 + seq * 10;
    events.push(
      seq % 3 === 2
        ? {
            event: 'POLICY_DECISION',
            task_id: taskId,
            seq,
            ts,
            tool_name: 'bash',
            allowed: seq % 2 === 0,
            reason: 'ok',
            duration_ms: 2,
          }
        : {
            event: 'TRAJECTORY_TURN',
            task_id: taskId,
            seq,
            ts,
            turn: seq,
            model: 'm',
            text: `turn ${seq}`,
            tool_calls: [],
            tool_results: [],
          },
    );
  }
  return events;
}
