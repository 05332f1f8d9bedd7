/**
 * Record a Claude Agent SDK run (`query()`) with `@agent-trace/trace-sdk/claude-agent-sdk`: the
 * message stream passes through unchanged and `PreToolUse` hook decisions become `POLICY_DECISION`
 * events. The integration is `runAgent` below: three lines.
 *
 * Offline: `pathToClaudeCodeExecutable` points at a scripted stand-in for Claude Code that speaks the
 * SDK's stdio stream-json protocol (the one the adapter's tests use); drop that option to run the
 * real Claude Code. The trace goes to a SigV4-verifying local S3 through a presigned PUT URL.
 *
 * Run: `pnpm build && node examples/integrations/claude-agent-sdk/main.ts`
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTraceRecorder, type TraceTransport } from '@agent-trace/trace-sdk';
import { traceOptions, traceQuery } from '@agent-trace/trace-sdk/claude-agent-sdk';
import { type HookCallback, type Options, query } from '@anthropic-ai/claude-agent-sdk';
import { runIntegrationExample, USER_ID } from '../shared.ts';

const TASK_ID = '01JD4Q9Z6XKQ2V8N5R3T7W1Y1E';

async function runAgent(transport: TraceTransport) {
  const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport });
  const q = traceQuery(rec, query({ prompt: 'Fix the failing test', options: traceOptions(rec, options()) }));
  for await (const message of q) if (message.type === 'result') console.log(`agent: ${message.subtype}`);
  return rec.finish();
}

// ── the agent's policy hook and the offline stand-in for Claude Code ───────────────────────────
/** Network tools are denied; everything else is allowed. */
const policy: HookCallback = async (input) => {
  const denied = input.hook_event_name === 'PreToolUse' && input.tool_name === 'WebFetch';
  return {
    hookSpecificOutput: {
      hookEventName: 'PreToolUse',
      permissionDecision: denied ? 'deny' : 'allow',
      permissionDecisionReason: denied
        ? 'network egress is not allowed for this task'
        : 'on the task allow-list',
    },
  };
};

const STAND_IN = fileURLToPath(
  new URL('../../../packages/trace-sdk/test/integrations/fixtures/fake-claude-code.mjs', import.meta.url),
);
const scriptDir = mkdtempSync(join(tmpdir(), 'claude-example-'));
process.on('exit', () => rmSync(scriptDir, { recursive: true, force: true }));
const scriptPath = join(scriptDir, 'script.json');
writeFileSync(
  scriptPath,
  JSON.stringify({
    session_id: 'sess_7c1e94b2',
    model: 'claude-sonnet-4-5',
    turns: [
      {
        id: 'msg_01',
        thinking: 'Reproduce the failure first.',
        text: 'Running the billing tests.',
        tools: [
          {
            id: 'toolu_01',
            name: 'Bash',
            input: { command: 'pnpm --filter billing test' },
            result: '1 failed',
          },
        ],
      },
      {
        id: 'msg_02',
        text: 'Comparing with upstream.',
        tools: [
          { id: 'toolu_02', name: 'WebFetch', input: { url: 'https://example.com/rounding.ts' }, result: '' },
        ],
      },
      { id: 'msg_03', text: 'Fixed the double rounding in lineTotal.' },
    ],
    result: {
      subtype: 'success',
      duration_ms: 48210,
      duration_api_ms: 31877,
      is_error: false,
      num_turns: 3,
      result: 'Fixed the double rounding in lineTotal.',
      total_cost_usd: 0.0412,
      usage: { input_tokens: 18422, output_tokens: 2107 },
    },
  }),
);

function options(): Options {
  return {
    pathToClaudeCodeExecutable: STAND_IN,
    env: { ...process.env, FAKE_CLAUDE_SCRIPT: scriptPath },
    hooks: { PreToolUse: [{ hooks: [policy] }] },
  };
}

runIntegrationExample('claude-agent-sdk', TASK_ID, runAgent, { turns: 3, toolCalls: 2, subtype: 'success' });
