import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventSpool } from '../src/spool/event-spool.js';

/** Whether `cmd` runs here; a missing tool skips its test with the reason in the test name. */
function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
const hasPython = has('python3', ['-c', 'import gzip']);
const hasZcat = has('sh', ['-c', 'command -v zcat && command -v head']);

const EVENTS = 3000;
const header = {
  event: 'TRAJECTORY_ARTIFACT_HEADER',
  task_id: 'task-1',
  accumulated_events: EVENTS,
  accumulated_bytes: 0,
  dropped: 0,
  max_bytes: 52428800,
};

let dir: string;
let path: string;
let emptyPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'python-compat-'));
  // Small batches and a tiny memory threshold: many members, read back from the spill file.
  const spool = createEventSpool({
    spoolDir: dir,
    key: 'traces/u/task-1.jsonl.gz',
    batchBytes: 8192,
    memoryThresholdBytes: 16384,
  });
  for (let seq = 0; seq < EVENTS; seq++) {
    spool.append(
      `${JSON.stringify({ event: 'TRAJECTORY_TURN', task_id: 'task-1', seq, text: `héllo ${'w'.repeat(seq % 300)}` })}\n`,
    );
  }
  const body = await spool.seal(JSON.stringify(header));
  path = join(dir, 'task-1.jsonl.gz');
  await writeFile(path, await buffer(body.open()));
  await body.dispose();
  const empty = await createEventSpool({ spoolDir: dir, key: 'traces/u/task-2.jsonl.gz' }).seal(
    JSON.stringify({ ...header, accumulated_events: 0 }),
  );
  emptyPath = join(dir, 'task-2.jsonl.gz');
  await writeFile(emptyPath, await buffer(empty.open()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PY_READ = `
import gzip, json, sys
with gzip.open(sys.argv[1]) as f:
    first = f.readline()
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f:
    lines = f.read().splitlines()
print(json.dumps({"first": json.loads(first), "count": len(lines), "last": json.loads(lines[-1])}))
`;

describe('artifacts read by other tools', () => {
  it.skipIf(!hasPython)(
    `python3 gzip.open(...).readline() shows the header and reads every line${hasPython ? '' : ' (skipped: python3 not found)'}`,
    () => {
      const out = JSON.parse(execFileSync('python3', ['-c', PY_READ, path], { encoding: 'utf8' }));
      expect(out.first).toEqual(header);
      expect(out.count).toBe(EVENTS + 1);
      expect(out.last).toMatchObject({ seq: EVENTS - 1, text: expect.stringMatching(/^héllo /) });
      const empty = JSON.parse(execFileSync('python3', ['-c', PY_READ, emptyPath], { encoding: 'utf8' }));
      expect(empty).toMatchObject({ first: { accumulated_events: 0 }, count: 1 });
    },
  );

  it.skipIf(!hasZcat)(`zcat | head -1 shows the header${hasZcat ? '' : ' (skipped: zcat not found)'}`, () => {
    const first = execFileSync('sh', ['-c', 'zcat "$1" | head -1', 'sh', path], { encoding: 'utf8' });
    expect(JSON.parse(first)).toEqual(header);
    const count = execFileSync('sh', ['-c', 'zcat "$1" | wc -l', 'sh', path], { encoding: 'utf8' });
    expect(Number(count.trim())).toBe(EVENTS + 1);
  });
});
