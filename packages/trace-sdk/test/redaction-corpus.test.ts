/**
 * The redaction corpus: every kind of credential the built-in rules cover, recorded in every
 * position an agent trace puts text (a string value, an object key, deep inside nested data, a
 * tool call's input, an error's message, across the per-field truncation cut, JSON-escaped inside
 * a string, URL-encoded inside a URL), end to end through `record()`. No part of any secret may
 * reach the artifact.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraceRecorder, type TraceArtifact, type TraceTransport } from '../src/index.js';
import { tempDir } from './reliability/support.js';

// Fixtures are assembled from pieces so no scanner mistakes this file for a leaked credential.
const R36 = 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const HEX64 = '0123456789abcdef'.repeat(4);
const B64 = 'Zm9vYmFyYmF6cXV4';

interface Kind {
  /** What the corpus calls it (the rule's label, or the shape within a label). */
  readonly name: string;
  /** The secret as it appears in text, with whatever context its rule needs. */
  readonly text: string;
  /** The parts that must never be written. */
  readonly secrets: readonly string[];
}

function kind(name: string, text: string, ...secrets: string[]): Kind {
  return { name, text, secrets: secrets.length > 0 ? secrets : [text] };
}

const SESSION_TOKEN = `IQoJb3JpZ2luX2VjE${'AbCdEf0123456789+/'.repeat(170)}`; // > 2048 characters
const PEM_BODY = `MIIEowIBAAKCAQEA7Zq${B64}\nbGx1c3RyYXRpb24ga2V5${B64}`;
const ANTHROPIC = `sk-ant-api03-${R36}${R36}${'x9Y8w7V6u5T4s3R2q1P0o9N8m7L6k5J4i3'}AA`;
const SIG = HEX64;
const CREDENTIAL = `AKIA${'IOSFODNN7EXAMPLE'}/20240101/us-east-1/s3/aws4_request`;

const KINDS: readonly Kind[] = [
  kind(
    'PRIVATE-KEY (PEM)',
    `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}\n-----END RSA PRIVATE KEY-----`,
    PEM_BODY.slice(0, 30),
    PEM_BODY.slice(-30),
  ),
  kind('PRIVATE-KEY (age)', `AGE-SECRET-KEY-1${'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L'.repeat(2).slice(0, 58)}`),
  kind('AWS-ACCESS-KEY-ID', `AKIA${'IOSFODNN7EXAMPLE'}`),
  kind(
    'AWS-SECRET-KEY',
    `aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY${'EXAMPLEKEY'}`,
    `wJalrXUtnFEMI/K7MDENG/bPxRfiCY${'EXAMPLEKEY'}`,
  ),
  kind('AWS-SECURITY-TOKEN (> 2048 characters)', `AWS_SESSION_TOKEN=${SESSION_TOKEN}`, SESSION_TOKEN),
  kind(
    'presigned URL',
    `https://b.s3.us-east-1.amazonaws.com/traces/u/t.jsonl.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${CREDENTIAL.replaceAll('/', '%2F')}&X-Amz-Security-Token=${SESSION_TOKEN.slice(0, 300).replaceAll('+', '%2B').replaceAll('/', '%2F')}&X-Amz-Signature=${SIG}`,
    SIG,
    `AKIA${'IOSFODNN7EXAMPLE'}`,
    SESSION_TOKEN.slice(17, 80),
  ),
  kind('GITHUB-TOKEN (classic)', `ghp_${R36}`),
  kind(
    'GITHUB-TOKEN (fine-grained)',
    `github_pat_${'11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU'}`,
  ),
  kind(
    'GITHUB-TOKEN (x-access-token URL)',
    `https://x-access-token:${'v1.0123abcdef4567'}@github.com/o/r.git`,
    'v1.0123abcdef4567',
  ),
  kind('GITLAB-TOKEN', `glpat-${'Ab3dEf6hIj9lMn2pQr5t'}`),
  kind('NPM-TOKEN', `npm_${R36}`),
  kind('ANTHROPIC-API-KEY', ANTHROPIC),
  kind('OPENAI-API-KEY (project)', `sk-proj-${R36}${R36}T3BlbkFJ${R36}`),
  kind('OPENAI-API-KEY (legacy)', `sk-${'Ab12Cd34Ef56Gh78Ij90'}T3BlbkFJ${'Kl12Mn34Op56Qr78St90'}`),
  kind('SLACK-TOKEN', `xoxb-${'1234567890'}-${'1234567890123'}-${'AbCdEfGhIjKlMnOpQrStUvWx'}`),
  kind(
    'WEBHOOK-URL (Slack)',
    `https://hooks.slack.com/services/T0000000/B0000000/${'XXXXXXXXXXXXXXXXXXXXXXXX'}`,
    `T0000000/B0000000/${'XXXXXXXXXXXXXXXXXXXXXXXX'}`,
  ),
  kind('STRIPE-KEY (secret)', `sk_live_${'51H8aBcDeFgHiJkLmNoPqRsTuV'}`),
  kind('STRIPE-KEY (restricted)', `rk_live_${'51H8aBcDeFgHiJkLmNoPqRsTuV'}`),
  kind('GOOGLE-API-KEY', `AIza${'SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'}`),
  kind(
    'JWT',
    `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'}`,
  ),
  kind('BEARER', `Authorization: Bearer ${'abc123def456ghi789'}`, 'abc123def456ghi789'),
  kind('BASIC-AUTH', `Authorization: Basic ${'dXNlcjpodW50ZXIy'}`, 'dXNlcjpodW50ZXIy'),
  kind('PASSWORD (URL with / and #)', 'postgres://app:p/ss#w0rd@db.internal:5432/app', 'p/ss#w0rd'),
  kind('PASSWORD (JDBC)', 'jdbc:postgresql://db/app?user=app&password=Jd8cPw0rd', 'Jd8cPw0rd'),
  kind('PASSWORD (ADO.NET)', 'Server=db;Database=app;User Id=sa;Password=AdoN3tPw;', 'AdoN3tPw'),
  kind('PASSWORD (query)', 'https://api.example.com/login?user=a&password=Qu3ryPw9', 'Qu3ryPw9'),
  kind('PASSWORD (PGPASSWORD)', 'PGPASSWORD=PgEnvPw77 psql -h db', 'PgEnvPw77'),
  kind('SECRET (OPENAI_API_KEY=)', `OPENAI_API_KEY=${'Zx81Kq02Lm93Np47'}`, 'Zx81Kq02Lm93Np47'),
  kind(
    'SECRET (client_secret JSON)',
    `{"client_secret": "${'9f8e7d6c5b4a3f2e1d0c'}"}`,
    '9f8e7d6c5b4a3f2e1d0c',
  ),
  kind('API-TOKEN (Hugging Face)', `hf_${'AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh'}`),
  kind(
    'API-TOKEN (SendGrid)',
    `SG.${'AbCdEfGhIjKlMnOpQrStUv'}.${'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg'}`,
  ),
  kind('API-TOKEN (DigitalOcean)', `dop_v1_${HEX64}`),
  kind('API-TOKEN (PyPI)', `pypi-AgEIcHlwaS5vcmc${R36}${R36}`),
  kind('API-TOKEN (Vault)', `hvs.${'CAESIJ0123456789abcdefghijklmnopqrstuvwxyz'.repeat(3)}`),
];

/** Every position a secret can take in an event; `wrap` places the text, `record` writes it. */
interface Position {
  readonly name: string;
  /** `at`: where in `text` the first secret part starts. */
  readonly event: (text: string, at: number) => Record<string, unknown>;
  /** How the secret is encoded in this position (its parts must not appear in this form either). */
  readonly encode?: (s: string) => string;
}

const TEXT_LIMIT = 4000;

const POSITIONS: readonly Position[] = [
  { name: 'string value', event: (t) => ({ event: 'NOTE', text: `see ${t} here` }) },
  { name: 'object key', event: (t) => ({ event: 'NOTE', data: { [t]: 1 } }) },
  { name: 'nested deep', event: (t) => ({ event: 'NOTE', a: { b: [{ c: { d: [`x ${t}`] } }] } }) },
  {
    name: 'tool input',
    event: (t) => ({
      event: 'TRAJECTORY_TURN',
      turn: 1,
      tool_calls: [{ id: 'toolu_1', name: 'bash', input: { command: `echo '${t}' | tee .env` } }],
      tool_results: [{ tool_use_id: 'toolu_1', is_error: false, content: `wrote ${t}` }],
    }),
  },
  { name: 'error message', event: (t) => ({ event: 'ERROR', error: new Error(`request failed: ${t}`) }) },
  {
    name: 'straddling the truncation cut',
    // The secret starts 16 characters before the field's cut, so only its head would be kept.
    event: (t, at) => ({
      event: 'TRAJECTORY_TURN',
      text: `${'a'.repeat(TEXT_LIMIT - 16 - at - 1)} ${t} ${'b'.repeat(100)}`,
    }),
  },
  {
    name: 'JSON-escaped in a string',
    event: (t) => ({ event: 'NOTE', text: `body: ${JSON.stringify(JSON.stringify({ config: t }))}` }),
    encode: (s) => JSON.stringify(JSON.stringify(s)).slice(2, -2),
  },
  {
    name: 'URL-encoded in a URL',
    event: (t) => ({
      event: 'TOOL_RESULT',
      content: `GET https://example.com/redirect?next=${encodeURIComponent(t)}&x=1`,
    }),
    encode: encodeURIComponent,
  },
];

function memoryTransport(): TraceTransport & { bodies: Map<string, Buffer> } {
  const bodies = new Map<string, Buffer>();
  return {
    name: 'memory',
    bodies,
    async upload(artifact: TraceArtifact) {
      const chunks: Buffer[] = [];
      for await (const chunk of artifact.open()) chunks.push(chunk as Buffer);
      bodies.set(artifact.key, Buffer.concat(chunks));
      return { key: artifact.key };
    },
  };
}

/** The forms a secret part may take in the artifact's JSON text. */
function forms(part: string, encode: ((s: string) => string) | undefined): string[] {
  const inJson = (s: string) => JSON.stringify(s).slice(1, -1);
  const out = new Set([part, inJson(part)]);
  if (encode !== undefined) {
    out.add(encode(part));
    out.add(inJson(encode(part)));
  }
  return [...out];
}

/** The first place some 12-character window of a secret form occurs in `text`, or `undefined`. */
function leak(text: string, form: string): string | undefined {
  const w = Math.min(12, form.length);
  for (let i = 0; i + w <= form.length; i++) {
    const window = form.slice(i, i + w);
    if (text.includes(window)) return window;
  }
  return undefined;
}

describe('redaction corpus: every kind in every position, through record()', () => {
  let spool: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    spool = await tempDir('agent-trace-corpus-');
  });
  afterAll(async () => {
    await spool.remove();
  });

  for (const k of KINDS) {
    it(k.name, async () => {
      const transport = memoryTransport();
      const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir: spool.dir });
      const at = Math.max(0, k.text.indexOf(k.secrets[0]!));
      for (const p of POSITIONS) expect(rec.record(p.event(k.text, at) as never)).toBe(true);
      const result = await rec.finish();
      expect(result.status).toBe('uploaded');
      const lines = gunzipSync(transport.bodies.get(rec.key)!).toString('utf8').trimEnd().split('\n');
      const header = JSON.parse(lines[0]!) as { redactions: number };
      expect(header.redactions).toBeGreaterThanOrEqual(POSITIONS.length);
      POSITIONS.forEach((p, i) => {
        const line = lines[i + 1]!;
        // (Across the cut, the marker itself may be cut.)
        expect(line, `${p.name}: a marker`).toContain('[REDACT');
        for (const part of k.secrets) {
          for (const form of forms(part, p.encode)) {
            expect(
              leak(line, form),
              `${p.name}: ${JSON.stringify(form.slice(0, 40))} leaked`,
            ).toBeUndefined();
          }
        }
      });
    });
  }
});
