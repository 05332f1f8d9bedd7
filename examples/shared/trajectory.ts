/**
 * A realistic agent trajectory for the examples: a coding agent asked to fix a failing test reads
 * files, runs commands (some allowed by policy, one denied), trips the output screener on a `.env`
 * file holding credentials, fixes the bug and reports. The two fake credentials it leaks must come
 * out of the stored trace as `[REDACTED-…]`.
 *
 * @packageDocumentation
 */
import type { TraceRecorder } from '@agent-trace/trace-sdk';

/** A fake AWS access key id (the one AWS documentation uses), assembled so scanners skip this file. */
export const FAKE_AWS_KEY_ID = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');
/** A fake GitHub personal access token with the real `ghp_` shape. */
export const FAKE_GITHUB_TOKEN = ['ghp', '_', 'Demo0Token0Not0Real0', '4f9c2a1b7e3d5a6c'].join('');

/** Secrets the trajectory contains; none may appear in a stored trace. */
export const PLANTED_SECRETS: readonly string[] = [FAKE_AWS_KEY_ID, FAKE_GITHUB_TOKEN];

const MODEL = 'claude-sonnet-4-5';

interface Step {
  readonly thinking: string;
  readonly text: string;
  readonly tool: string;
  readonly input: Record<string, unknown>;
  readonly output: string;
  readonly allowed?: boolean;
  readonly reason?: string;
}

const STEPS: readonly Step[] = [
  {
    thinking: 'The user says `pnpm test` fails in packages/billing. Start by reproducing it.',
    text: 'Let me run the failing test suite first.',
    tool: 'bash',
    input: { command: 'pnpm --filter billing test' },
    output:
      'FAIL src/invoice.test.ts > rounds line totals\nAssertionError: expected 10.01 to be 10.00\n  at src/invoice.test.ts:42:31',
  },
  {
    thinking: 'A rounding assertion. Look at how line totals are computed.',
    text: 'The failure is in the line-total rounding. Reading the implementation.',
    tool: 'read_file',
    input: { path: 'packages/billing/src/invoice.ts' },
    output:
      'export function lineTotal(qty: number, unit: number): number {\n  return Math.round(qty * unit * 100 + 0.5) / 100;\n}',
  },
  {
    thinking: 'The `+ 0.5` double-rounds. Check the config the tests load before editing anything.',
    text: 'Checking the environment the tests load.',
    tool: 'read_file',
    input: { path: 'packages/billing/.env' },
    output: '[withheld by output screening]',
  },
  {
    thinking: 'Fetching the upstream rounding helper would need network egress; policy will decide.',
    text: 'Trying to fetch the upstream helper for comparison.',
    tool: 'bash',
    input: { command: 'curl -sSL https://example.com/rounding.ts' },
    output: 'denied by policy: network egress is not allowed for this task',
    allowed: false,
    reason: 'network egress is not allowed for this task',
  },
  {
    thinking: 'No need for upstream: remove the stray + 0.5 and use Math.round on cents.',
    text: 'Fixing the double rounding.',
    tool: 'edit_file',
    input: {
      path: 'packages/billing/src/invoice.ts',
      old: 'Math.round(qty * unit * 100 + 0.5) / 100',
      new: 'Math.round(qty * unit * 100) / 100',
    },
    output: 'applied 1 edit to packages/billing/src/invoice.ts',
  },
  {
    thinking: 'Re-run the suite to confirm the fix and check nothing else regressed.',
    text: 'Re-running the tests.',
    tool: 'bash',
    input: { command: 'pnpm --filter billing test' },
    output: ' ✓ src/invoice.test.ts (14 tests)\n ✓ src/tax.test.ts (9 tests)\n Test Files 2 passed (2)',
  },
  {
    thinking: 'Make sure the edit follows the repo style before reporting.',
    text: 'Running the linter on the changed file.',
    tool: 'bash',
    input: { command: 'pnpm biome check packages/billing/src/invoice.ts' },
    output: 'Checked 1 file in 4ms. No fixes applied.',
  },
  {
    thinking: 'Show the final diff so the user can review it.',
    text: 'Here is the diff.',
    tool: 'bash',
    input: { command: 'git diff --stat' },
    output: ' packages/billing/src/invoice.ts | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)',
  },
];

/**
 * Records the whole trajectory on `rec`: one turn per step (thinking, text, the tool call and its
 * result), a policy decision before every tool call, one output-screening finding, a closing turn
 * and the result event. Returns the number of events recorded.
 */
export function recordCodingTask(rec: TraceRecorder, sessionId = 'sess_7c1e94b2'): number {
  let events = 0;
  STEPS.forEach((step, i) => {
    const toolUseId = `toolu_${String(i + 1).padStart(2, '0')}`;
    rec.recordPolicyDecision({
      toolName: step.tool,
      allowed: step.allowed ?? true,
      reason: step.reason ?? 'tool is on the task allow-list',
      durationMs: 2 + i,
    });
    events += 1;
    if (step.tool === 'read_file' && String(step.input['path']).endsWith('.env')) {
      // What the screener saw in the tool output; the recorder must redact it before it is stored.
      rec.recordOutputScreening({
        toolName: step.tool,
        findings: [
          { type: 'aws_access_key_id', line: 3, match: `AWS_ACCESS_KEY_ID=${FAKE_AWS_KEY_ID}` },
          { type: 'github_token', line: 4, match: `GITHUB_TOKEN=${FAKE_GITHUB_TOKEN}` },
        ],
        redacted: true,
        durationMs: 11,
      });
      events += 1;
    }
    rec.recordTurn({
      turn: i + 1,
      model: MODEL,
      thinking: step.thinking,
      text: step.text,
      toolCalls: [{ name: step.tool, input: step.input }],
      toolResults: [{ toolUseId, isError: step.allowed === false, content: step.output }],
    });
    events += 1;
  });
  rec.recordTurn({
    turn: STEPS.length + 1,
    model: MODEL,
    thinking: 'All tests pass; summarize the change for the user.',
    text: 'Fixed: `lineTotal` added 0.5 before rounding, so totals were off by a cent. All 23 tests pass.',
    toolCalls: [],
    toolResults: [],
  });
  rec.recordResult({
    subtype: 'success',
    numTurns: STEPS.length + 1,
    costUsd: 0.0412,
    durationMs: 48_210,
    durationApiMs: 31_877,
    sessionId,
    usage: { input_tokens: 18_422, output_tokens: 2_107, cache_read_input_tokens: 12_288 },
  });
  return events + 2;
}
