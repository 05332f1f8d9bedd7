/**
 * The Claude Agent SDK adapter against the real `@anthropic-ai/claude-agent-sdk`: `query()` spawns a
 * scripted stand-in for the Claude Code executable (fixtures/fake-claude-code.mjs, via
 * `pathToClaudeCodeExecutable`) that speaks the SDK's stdio stream-json protocol, including the
 * PreToolUse hook callbacks. The stored artifact is read back and compared with the script.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HookCallback, type Options, query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClaudeTurnRecorder,
  traceOptions,
  traceQuery,
} from '../../src/integrations/claude-agent-sdk/index.js';
import { deadTransport, recordAndReadBack, throwingSink } from './support.js';

const FAKE_CLI = fileURLToPath(new URL('./fixtures/fake-claude-code.mjs', import.meta.url));

const SCRIPT = {
  session_id: 'sess-claude-1',
  model: 'claude-sonnet-4-5',
  turns: [
    {
      id: 'msg_01',
      thinking: 'Reproduce the failure first.',
      text: 'Running the tests.',
      tools: [{ id: 'toolu_01', name: 'Bash', input: { command: 'pnpm test' }, result: '1 failed' }],
    },
    {
      id: 'msg_02',
      text: 'Reading the file and fetching upstream.',
      tools: [
        {
          id: 'toolu_02',
          name: 'Read',
          input: { file_path: 'src/a.ts' },
          result: [{ type: 'text', text: 'export {}' }],
        },
        { id: 'toolu_03', name: 'WebFetch', input: { url: 'https://example.com' }, result: 'never runs' },
      ],
    },
    { id: 'msg_03', text: 'Fixed.' },
  ],
  result: {
    subtype: 'success',
    duration_ms: 4200,
    duration_api_ms: 3100,
    is_error: false,
    num_turns: 3,
    result: 'Fixed.',
    stop_reason: 'end_turn',
    total_cost_usd: 0.0123,
    usage: { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 100 },
    modelUsage: {},
    permission_denials: [],
  },
};

let dir: string;
let scriptPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fake-claude-'));
  scriptPath = join(dir, 'script.json');
  await writeFile(scriptPath, JSON.stringify(SCRIPT));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A policy hook: network tools are denied, everything else allowed. */
const policy: HookCallback = async (input) => {
  const tool = input.hook_event_name === 'PreToolUse' ? input.tool_name : '';
  const deny = tool === 'WebFetch';
  return {
    hookSpecificOutput: {
      hookEventName: 'PreToolUse',
      permissionDecision: deny ? 'deny' : 'allow',
      permissionDecisionReason: deny ? 'network egress is not allowed' : 'on the allow-list',
    },
  };
};

function options(): Options {
  return {
    pathToClaudeCodeExecutable: FAKE_CLI,
    env: { ...process.env, FAKE_CLAUDE_SCRIPT: scriptPath },
    hooks: { PreToolUse: [{ hooks: [policy] }] },
  };
}

async function drain(q: AsyncIterable<SDKMessage>): Promise<SDKMessage[]> {
  const out: SDKMessage[] = [];
  for await (const m of q) out.push(m);
  return out;
}

describe('claude-agent-sdk adapter (real query() against a scripted Claude Code)', () => {
  it('records each response as one turn, the hook decisions and the result, as the Python agent did', async () => {
    let seen: SDKMessage[] = [];
    const back = await recordAndReadBack(async (rec) => {
      seen = await drain(
        traceQuery(rec, query({ prompt: 'fix the test', options: traceOptions(rec, options()) })),
      );
    });
    expect(back.result.status).toBe('uploaded');
    expect(seen.at(-1)).toMatchObject({ type: 'result', subtype: 'success' });

    expect(back.of('TRAJECTORY_TURN')).toEqual([
      {
        event: 'TRAJECTORY_TURN',
        turn: 1,
        model: 'claude-sonnet-4-5',
        thinking: 'Reproduce the failure first.',
        text: 'Running the tests.',
        tool_calls: [{ name: 'Bash', input: { command: 'pnpm test' } }],
        tool_results: [{ tool_use_id: 'toolu_01', is_error: false, content: '1 failed' }],
      },
      {
        event: 'TRAJECTORY_TURN',
        turn: 2,
        model: 'claude-sonnet-4-5',
        thinking: '',
        text: 'Reading the file and fetching upstream.',
        tool_calls: [
          { name: 'Read', input: { file_path: 'src/a.ts' } },
          { name: 'WebFetch', input: { url: 'https://example.com' } },
        ],
        tool_results: [
          { tool_use_id: 'toolu_02', is_error: false, content: [{ type: 'text', text: 'export {}' }] },
          { tool_use_id: 'toolu_03', is_error: true, content: 'network egress is not allowed' },
        ],
      },
      {
        event: 'TRAJECTORY_TURN',
        turn: 3,
        model: 'claude-sonnet-4-5',
        thinking: '',
        text: 'Fixed.',
        tool_calls: [],
        tool_results: [],
      },
    ]);
    expect(back.of('POLICY_DECISION').map(({ duration_ms, ...rest }) => rest)).toEqual([
      { event: 'POLICY_DECISION', tool_name: 'Bash', allowed: true, reason: 'on the allow-list' },
      { event: 'POLICY_DECISION', tool_name: 'Read', allowed: true, reason: 'on the allow-list' },
      {
        event: 'POLICY_DECISION',
        tool_name: 'WebFetch',
        allowed: false,
        reason: 'network egress is not allowed',
      },
    ]);
    expect(back.of('TRAJECTORY_RESULT')).toEqual([
      {
        event: 'TRAJECTORY_RESULT',
        subtype: 'success',
        num_turns: 3,
        cost_usd: 0.0123,
        duration_ms: 4200,
        duration_api_ms: 3100,
        session_id: 'sess-claude-1',
        usage: { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 100 },
      },
    ]);
    // Events land in stream order: a turn is written once its tool results are in.
    expect(back.events.map((e) => e['event'])).toEqual([
      'POLICY_DECISION',
      'TRAJECTORY_TURN',
      'POLICY_DECISION',
      'POLICY_DECISION',
      'TRAJECTORY_TURN',
      'TRAJECTORY_TURN',
      'TRAJECTORY_RESULT',
    ]);
  });

  it('is a pass-through: the same messages as an untraced query(), and Query methods still work', async () => {
    const plain = await drain(query({ prompt: 'fix the test', options: options() }));
    const back = await recordAndReadBack(async (rec) => {
      const q = traceQuery(rec, query({ prompt: 'fix the test', options: traceOptions(rec, options()) }));
      expect(typeof q.interrupt).toBe('function');
      expect(typeof q.setPermissionMode).toBe('function');
      const traced = await drain(q);
      const strip = (ms: SDKMessage[]) => ms.map((m) => ({ ...m, uuid: undefined }));
      expect(strip(traced)).toEqual(strip(plain));
    });
    expect(back.of('TRAJECTORY_TURN')).toHaveLength(3);
  });

  it('adapter events are redacted and truncated like any other', async () => {
    const awsKey = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');
    const back = await recordAndReadBack(async (rec) => {
      const turns = new ClaudeTurnRecorder(rec);
      turns.observe({
        type: 'assistant',
        message: { id: 'm1', model: 'claude', content: [{ type: 'text', text: 'x'.repeat(5000) }] },
      });
      turns.observe({
        type: 'user',
        message: {
          content: [{ type: 'tool_result', tool_use_id: 't1', content: `AWS_ACCESS_KEY_ID=${awsKey}` }],
        },
      });
      turns.flush();
    });
    const [turn] = back.of('TRAJECTORY_TURN');
    expect(turn?.['text']).toMatch(/^x{4000}\.\.\. \[truncated, 5000 chars total\]$/);
    expect(JSON.stringify(turn)).not.toContain(awsKey);
    expect(turn?.['tool_results']).toEqual([
      { tool_use_id: 't1', is_error: false, content: 'AWS_ACCESS_KEY_ID=[REDACTED-AWS-ACCESS-KEY-ID]' },
    ]);
    expect(back.header).toMatchObject({ redactions: 1, truncated_fields: 1 });
  });

  it('never throws into the loop: a dead transport, a throwing sink, hostile messages', async () => {
    const errors: unknown[] = [];
    const back = await recordAndReadBack(
      async (rec) => {
        const messages = await drain(
          traceQuery(rec, query({ prompt: 'x', options: traceOptions(rec, options()) })),
        );
        expect(messages.at(-1)).toMatchObject({ type: 'result' });
      },
      { transport: deadTransport() },
    );
    expect(back.result.status).toBe('failed');

    const viaThrowingSink = await drain(
      traceQuery(
        throwingSink,
        query({
          prompt: 'x',
          options: traceOptions(throwingSink, options(), { onError: (e) => errors.push(e) }),
        }),
        {
          onError: (e) => errors.push(e),
        },
      ),
    );
    expect(viaThrowingSink.at(-1)).toMatchObject({ type: 'result', subtype: 'success' });
    expect(errors.length).toBeGreaterThan(0);

    const hostile = new ClaudeTurnRecorder(throwingSink);
    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error('hostile getter');
        },
      },
    );
    for (const m of [
      null,
      42,
      'x',
      trap,
      { type: 'assistant', message: trap },
      { type: 'assistant', message: { content: [trap, null] } },
      { type: 'user', message: { content: 'plain' } },
      { type: 'result', num_turns: 'NaN' },
    ]) {
      expect(() => hostile.observe(m)).not.toThrow();
    }
    expect(() => hostile.flush()).not.toThrow();
  });
});
