/**
 * An artifact written by the recorder, read by python3 the way the Python agent's own tests read
 * its artifacts (`gzip.decompress(body).decode("utf-8").splitlines()`, `json.loads` per line, then
 * direct indexing such as `e["usage"]`): the header's `accumulated_bytes` is the Python agent's
 * `sum(len(json.dumps(e).encode("utf-8")))` over the kept events (newlines not counted), and
 * every field the Python agent writes on the four known events is present, `""` or `null` when not
 * given, so no Python consumer meets a KeyError.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraceRecorder, fileTransport, traceKey } from '../src/index.js';

const probe = spawnSync('python3', ['-c', 'import gzip, json'], { stdio: 'ignore' });
const skipReason =
  probe.error !== undefined || probe.status !== 0
    ? 'python3 (with its standard gzip and json modules) is not available'
    : undefined;

/** What the Python agent's tests assert, plus the fields its consumers index directly. */
const PY_READ = `
import gzip, json, sys
with open(sys.argv[1], "rb") as f:
    body = f.read()
lines = gzip.decompress(body).decode("utf-8").splitlines()
header = json.loads(lines[0])
events = [json.loads(line) for line in lines[1:]]
assert header["event"] == "TRAJECTORY_ARTIFACT_HEADER"
assert list(header)[:6] == ["event", "task_id", "accumulated_events", "accumulated_bytes", "dropped", "max_bytes"]
assert header["accumulated_events"] == len(events)
# The Python agent adds len(json.dumps(event).encode("utf-8")) per kept event: no newline.
assert header["accumulated_bytes"] == sum(len(line.encode("utf-8")) for line in lines[1:]), header
assert header["accumulated_bytes"] <= header["max_bytes"]
fields = {
    "TRAJECTORY_TURN": ["task_id", "turn", "model", "thinking", "text", "tool_calls", "tool_results"],
    "TRAJECTORY_RESULT": ["task_id", "subtype", "num_turns", "cost_usd", "duration_ms", "duration_api_ms", "session_id", "usage"],
    "POLICY_DECISION": ["task_id", "tool_name", "allowed", "reason", "duration_ms"],
    "OUTPUT_SCREENING": ["task_id", "tool_name", "findings", "redacted", "duration_ms"],
}
seen = {}
for e in events:
    seen[e["event"]] = {name: e[name] for name in fields[e["event"]]}  # KeyError if one is missing
print(json.dumps({"accumulated_bytes": header["accumulated_bytes"], "seen": seen}))
`;

let dir: string;
let path: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'python-agent-fields-'));
  const rec = createTraceRecorder({ userId: 'u-1', taskId: 't-1', transport: fileTransport({ dir }) });
  // Only the required inputs: everything optional is left out, as a terse agent would.
  rec.recordTurn({ turn: 1, text: 'héllo wörld — ✓' });
  rec.recordResult({ subtype: 'success', numTurns: 1 });
  rec.recordPolicyDecision({ toolName: 'bash', allowed: true });
  rec.recordOutputScreening({ toolName: 'bash', redacted: false });
  const result = await rec.finish();
  expect(result.status).toBe('uploaded');
  path = join(dir, traceKey({ userId: 'u-1', taskId: 't-1' }));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('read by python3 as the Python agent reads its artifacts', () => {
  it('counts accumulated_bytes as the Python agent does and writes every field it writes', (ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
    const out = JSON.parse(execFileSync('python3', ['-c', PY_READ, path], { encoding: 'utf8' }));
    expect(out.seen).toEqual({
      TRAJECTORY_TURN: {
        task_id: 't-1',
        turn: 1,
        model: '',
        thinking: '',
        text: 'héllo wörld — ✓',
        tool_calls: [],
        tool_results: [],
      },
      TRAJECTORY_RESULT: {
        task_id: 't-1',
        subtype: 'success',
        num_turns: 1,
        cost_usd: null,
        duration_ms: null,
        duration_api_ms: null,
        session_id: '',
        usage: null,
      },
      POLICY_DECISION: { task_id: 't-1', tool_name: 'bash', allowed: true, reason: '', duration_ms: null },
      OUTPUT_SCREENING: {
        task_id: 't-1',
        tool_name: 'bash',
        findings: [],
        redacted: false,
        duration_ms: null,
      },
    });
  });
});
