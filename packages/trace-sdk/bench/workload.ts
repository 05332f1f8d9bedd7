/**
 * The realistic agent workload shared by the recorder and latency benchmarks: turn events with 2-8 KB
 * of prose, code and tool output, tool calls and results, small policy and screening events, and a
 * few secrets to redact. Deterministic (seeded).
 */
import { rng } from './prng.ts';

export type Event = Record<string, unknown> & { event: string };

const WORDS = (
  'the of and to a in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no will more can who about out up what said ' +
  'file function error test value return result request response server client config build module import export ' +
  'string number object array promise async await const let type interface class method property parameter ' +
  'should need check first then next because however therefore instead actually maybe probably likely seems ' +
  'looking reading writing running fixing update change add remove rename move create delete open close start ' +
  'stop retry upload download parse format validate handle throw catch timeout deadline bucket key trace event ' +
  'agent tool call output input model turn policy screening finding user task session token cost duration'
).split(' ');
const IDENT = [
  'handler',
  'userId',
  'taskId',
  'buffer',
  'options',
  'result',
  'items',
  'count',
  'index',
  'path',
  'cfg',
];
const FILES = [
  'src/index.ts',
  'src/server/routes.ts',
  'lib/util.py',
  'README.md',
  'tests/test_api.py',
  'Makefile',
];
const TOOLS = ['bash', 'read_file', 'write_file', 'grep', 'list_dir', 'web_fetch'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function prose(r: () => number, chars: number): string {
  const out: string[] = [];
  let n = 0;
  let sentence = 0;
  while (n < chars) {
    let w = pick(r, WORDS);
    if (sentence === 0) w = w[0]!.toUpperCase() + w.slice(1);
    sentence++;
    if (sentence > 6 && r() < 0.15) {
      w += r() < 0.8 ? '.' : ':';
      sentence = 0;
    } else if (r() < 0.06) w += ',';
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

function hex(r: () => number, n: number): string {
  let s = '';
  while (s.length < n)
    s += Math.floor(r() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, n);
}

function codeOrLog(r: () => number, chars: number): string {
  const lines: string[] = [];
  let n = 0;
  while (n < chars) {
    const k = r();
    let line: string;
    if (k < 0.35) {
      line = `  const ${pick(r, IDENT)} = await ${pick(r, IDENT)}.${pick(r, WORDS)}(${Math.floor(r() * 1000)}, '${pick(r, FILES)}');`;
    } else if (k < 0.6) {
      line = `2025-01-${10 + Math.floor(r() * 18)}T12:${10 + Math.floor(r() * 49)}:${10 + Math.floor(r() * 49)}.${Math.floor(r() * 900) + 100}Z INFO ${pick(r, WORDS)} ${pick(r, WORDS)} id=${hex(r, 12)} took ${Math.floor(r() * 5000)}ms`;
    } else if (k < 0.75) {
      line = `${pick(r, FILES)}:${Math.floor(r() * 400)}:  ${prose(r, 40 + Math.floor(r() * 40))}`;
    } else if (k < 0.85) {
      line = `    if (${pick(r, IDENT)} === undefined) throw new Error('${prose(r, 30)}');`;
    } else {
      line = `# ${prose(r, 50 + Math.floor(r() * 50))}`;
    }
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n');
}

/** A secret of some kind, embedded in tool output now and then (the recorder must redact it). */
function secretLine(r: () => number): string {
  const k = r();
  if (k < 0.3) return `export AWS_ACCESS_KEY_ID=AKIA${hex(r, 16).toUpperCase()}`;
  if (k < 0.55) return `DATABASE_URL=postgres://app:${hex(r, 16)}@db.internal:5432/app`;
  if (k < 0.8) return `curl -H 'Authorization: Bearer ${hex(r, 40)}' https://api.example.com/v1/items`;
  return `git remote set-url origin https://x-access-token:ghs_${hex(r, 36)}@github.com/acme/repo.git`;
}

/** Deterministic stream of realistic events (new objects and strings each call). */
export function workload(seed: number): () => Event {
  const r = rng(seed);
  let turn = 0;
  return () => {
    const k = r();
    if (k < 0.55) {
      turn++;
      const calls = 1 + Math.floor(r() * 2);
      const toolCalls = [];
      const toolResults = [];
      for (let i = 0; i < calls; i++) {
        const name = pick(r, TOOLS);
        const id = `toolu_${hex(r, 24)}`;
        const input =
          name === 'write_file'
            ? { path: pick(r, FILES), content: codeOrLog(r, 300 + Math.floor(r() * 900)) }
            : name === 'bash'
              ? { command: `cd /work && ${pick(r, WORDS)} --${pick(r, WORDS)} ${pick(r, FILES)}` }
              : { path: pick(r, FILES), pattern: pick(r, WORDS) };
        toolCalls.push({ id, name, input });
        let content = codeOrLog(r, 300 + Math.floor(r() * 1500));
        if (r() < 0.04) content = `${secretLine(r)}\n${content}`;
        toolResults.push({ tool_use_id: id, is_error: r() < 0.05, content });
      }
      return {
        event: 'TRAJECTORY_TURN',
        turn,
        model: 'claude-sonnet-4',
        thinking: prose(r, 800 + Math.floor(r() * 2800)),
        text: prose(r, 200 + Math.floor(r() * 1800)),
        tool_calls: toolCalls,
        tool_results: toolResults,
      };
    }
    if (k < 0.82) {
      return {
        event: 'POLICY_DECISION',
        tool_name: pick(r, TOOLS),
        allowed: r() < 0.9,
        reason: prose(r, 20 + Math.floor(r() * 60)),
        duration_ms: Math.floor(r() * 30),
      };
    }
    if (k < 0.97) {
      const findings = [];
      const n = Math.floor(r() * 3);
      for (let i = 0; i < n; i++)
        findings.push({ type: pick(r, ['pii', 'secret', 'url']), excerpt: prose(r, 40) });
      return {
        event: 'OUTPUT_SCREENING',
        tool_name: pick(r, TOOLS),
        findings,
        redacted: findings.length > 0,
        duration_ms: Math.floor(r() * 20),
      };
    }
    return {
      event: 'TOOL_PROGRESS',
      tool_use_id: `toolu_${hex(r, 24)}`,
      message: prose(r, 100),
      pct: Math.floor(r() * 100),
    };
  };
}
