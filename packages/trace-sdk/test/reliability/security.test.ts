/**
 * The security properties, end to end against the local S3 and the local uploader Lambda:
 * - a runtime cannot write another user's traces through any transport (a presigned URL for user A
 *   used for user B's key, a grant for A with a request naming B, legacy credentials scoped to A,
 *   a file transport handed a traversal key);
 * - secrets recorded in events never reach the stored object (the stored bytes are scanned);
 * - presigned URLs and grants never reach an error message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  artifactFromBuffer,
  createTraceRecorder,
  type FinishResult,
  fileTransport,
  lambdaUploaderTransport,
  parseTraceKey,
  presignedPutTransport,
  s3PutObjectTransport,
  TRACE_CONTENT_TYPE,
  type TraceArtifact,
  type TraceTransport,
  UploadError,
  userPrefix,
} from '../../src/index.js';
import {
  BUCKET,
  captureLogs,
  errorTexts,
  expectNoSecrets,
  FAST_RETRY,
  freshIds,
  type Ids,
  type LogCapture,
  presignedPut,
  readAll,
  recordWorkload,
  sha256,
  startWorld,
  tempDir,
  type World,
} from './support.js';

let world: World;
let spool: { dir: string; remove: () => Promise<void> };
let logs: LogCapture;

beforeAll(async () => {
  world = await startWorld();
  logs = captureLogs();
});
afterAll(async () => {
  logs?.restore();
  await world?.close();
});
beforeEach(async () => {
  spool = await tempDir('agent-trace-security-');
});
afterEach(async () => {
  world.heal();
  await spool.remove();
  expectNoSecrets(logs.drain(), world.secrets, 'a console line or process warning');
});

/** Finishes a recorder for `ids` with the workload, through `transport`. */
async function recordAndFinish(ids: Ids, transport: TraceTransport): Promise<FinishResult> {
  const rec = createTraceRecorder({ userId: ids.userId, taskId: ids.taskId, transport, spoolDir: spool.dir });
  recordWorkload(rec);
  return rec.finish();
}

/** The attack failed: a typed refusal, no secret in it, and not one byte written anywhere for either user. */
async function expectRefused(result: FinishResult, victim: Ids, attacker: Ids, code: UploadError['code']) {
  expect(result.status).toBe('failed');
  expect(result.error).toBeInstanceOf(UploadError);
  expect(result.error).toMatchObject({ code });
  expectNoSecrets(errorTexts(result.error), world.secrets, 'the refusal');
  expect(await world.keys(userPrefix(victim.userId))).toEqual([]);
  expect(await world.keys(userPrefix(attacker.userId))).toEqual([]);
  expect(world.storedWrites(victim.key)).toBe(0);
}

describe('cross-user writes fail through every transport', () => {
  it('presigned PUT: a URL minted for user A never writes user B’s key (fixed URL or provider)', async () => {
    const a = freshIds('alice');
    const b = freshIds('bob');
    const urlForA = await world.mintUrl(a);
    // Fixed: B's recorder is handed A's URL.
    const fixed = await recordAndFinish(b, presignedPutTransport({ url: urlForA, retry: FAST_RETRY }));
    await expectRefused(fixed, b, a, 'ERR_UPLOAD_REJECTED');
    // Provider: the orchestrator answers B's request with A's URL.
    const provided = await recordAndFinish(
      b,
      presignedPutTransport({ url: async () => urlForA, retry: FAST_RETRY }),
    );
    await expectRefused(provided, b, a, 'ERR_UPLOAD_REJECTED');
    // Nothing went over the wire: the transport refused before sending a byte.
    expect(world.s3.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('presigned PUT: a client that skips the check is refused by S3 (the signature covers the key)', async () => {
    const a = freshIds('alice');
    const b = freshIds('bob');
    const url = new URL(await world.mintUrl(a));
    url.pathname = `/${BUCKET}/${b.key}`;
    const body = Buffer.from('not yours');
    const res = await request(url, {
      method: 'PUT',
      body,
      headers: { 'content-type': TRACE_CONTENT_TYPE, 'content-length': String(body.byteLength) },
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(403);
    expect(text).toContain('SignatureDoesNotMatch');
    expect(await world.keys(userPrefix(b.userId))).toEqual([]);
  });

  it('uploader Lambda: a grant for user A is refused for user B’s artifact before anything is sent', async () => {
    const a = freshIds('alice');
    const b = freshIds('bob');
    const transport = lambdaUploaderTransport({
      functionName: world.lambda.functionName,
      client: world.lambdaClient(),
      grant: world.mintGrant(a),
      retry: FAST_RETRY,
    });
    const invocations = world.lambda.invocations.length;
    await expectRefused(await recordAndFinish(b, transport), b, a, 'ERR_UPLOAD_REJECTED');
    expect(world.lambda.invocations.length).toBe(invocations);
  });

  it('uploader Lambda: a request naming user B with A’s grant writes only A’s key; a forged grant writes nothing', async () => {
    const a = freshIds('alice');
    const b = freshIds('bob');
    const grantA = world.mintGrant(a);
    // A's own trace (the handler stores only gzip whose header names the grant's task).
    const header = { event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: a.taskId, user_id: a.userId };
    const body = Buffer.concat([gzipSync(`${JSON.stringify(header)}\n`), gzipSync(randomBytes(256))]);
    const client = world.lambdaClient();
    const invoke = async (payload: Record<string, unknown>) => {
      const out = await client.send(
        new InvokeCommand({
          FunctionName: world.lambda.functionName,
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
      return JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8')) as Record<string, unknown>;
    };
    const common = { sha256: sha256(body), byteLength: body.byteLength, body: body.toString('base64') };
    // A compromised runtime names B everywhere it can; the handler derives the key from the grant.
    const named = await invoke({
      action: 'put',
      grant: grantA,
      key: b.key,
      userId: b.userId,
      taskId: b.taskId,
      user_id: b.userId,
      ...common,
    });
    expect(named).toMatchObject({ ok: true, key: a.key });
    const presign = await invoke({
      action: 'presign',
      grant: grantA,
      key: b.key,
      userId: b.userId,
      sha256: common.sha256,
      byteLength: common.byteLength,
    });
    expect(presign).toMatchObject({ ok: true, key: a.key });
    world.secrets.add(String(presign['url']));
    expect(String(presign['url'])).toContain(`/${BUCKET}/traces/${encodeURIComponent(a.userId)}/`);

    // A's signature over a payload that names B: the HMAC no longer matches.
    const [claims, signature] = grantA.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...payload, sub: b.userId, tid: b.taskId })).toString('base64url')}.${signature}`;
    const refused = await invoke({ action: 'put', grant: forged, ...common });
    expect(refused).toMatchObject({ ok: false, code: 'ERR_GRANT_SIGNATURE' });
    expectNoSecrets([JSON.stringify(refused)], world.secrets, 'the refusal');

    expect(await world.keys(userPrefix(b.userId))).toEqual([]);
    expect(await world.keys(userPrefix(a.userId))).toEqual([a.key]);
  });

  it('legacy PutObject: credentials scoped to user A cannot write user B’s key', async () => {
    const a = freshIds('alice');
    const b = freshIds('bob');
    const scoped = {
      accessKeyId: 'LOCALSCOPEDA00000001',
      secretAccessKey: randomBytes(30).toString('base64'),
      keyPrefixes: [userPrefix(a.userId)],
    };
    const { startLocalS3 } = await import('@agent-trace/trace-sdk-testing');
    const s3 = await startLocalS3({ credentials: scoped });
    try {
      await s3.createBucket(BUCKET);
      const client = await world.s3Client({ endpoint: s3.endpoint, credentials: scoped });
      const result = await recordAndFinish(
        b,
        s3PutObjectTransport({ allowBucketWideWrites: true, client, bucket: BUCKET, retry: FAST_RETRY }),
      );
      expect(result.status).toBe('failed');
      expect(result.error).toMatchObject({ code: 'ERR_UPLOAD_HTTP', status: 403, s3Code: 'AccessDenied' });
      expect(await s3.listObjects(BUCKET)).toEqual([]);
      // The same credentials write A's own key: the refusal is about the prefix, not the setup.
      const own = await recordAndFinish(
        a,
        s3PutObjectTransport({ allowBucketWideWrites: true, client, bucket: BUCKET, retry: FAST_RETRY }),
      );
      expect(own.status).toBe('uploaded');
      expect((await s3.listObjects(BUCKET)).map((o) => o.key)).toEqual([a.key]);
    } finally {
      await s3.close();
    }
  });

  describe('file transport: traversal keys', () => {
    /** An artifact with any key at all (artifactFromBuffer would refuse the bad ones itself). */
    function rawArtifact(key: string): TraceArtifact {
      const body = Buffer.from('payload');
      return {
        key,
        userId: 'u',
        taskId: 't',
        byteLength: body.byteLength,
        sha256: createHash('sha256').update(body).digest('hex'),
        contentType: TRACE_CONTENT_TYPE,
        open: () => Readable.from([body]),
      };
    }

    /** Every file under `dir`, relative to it. */
    async function filesUnder(dir: string): Promise<string[]> {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
    }

    const TRAVERSALS = [
      'traces/../../escape.jsonl.gz',
      'traces/u/../../../escape.jsonl.gz',
      'traces/u/t.jsonl.gz/../../../../escape',
      '../escape.jsonl.gz',
      '/tmp/escape.jsonl.gz',
      'traces/../escape.jsonl.gz',
      'traces/u\\..\\..\\escape.jsonl.gz',
      'traces/./t.jsonl.gz',
      'traces/u/./t.jsonl.gz',
      'traces/u/t\u0000.jsonl.gz',
      'traces//t.jsonl.gz',
      'traces/a/b/c.jsonl.gz',
    ];

    it.each(TRAVERSALS)('refuses %j and writes nothing outside its directory', async (key) => {
      const root = join(spool.dir, 'root');
      const out = join(root, 'out');
      await mkdir(out, { recursive: true });
      const transport = fileTransport({ dir: out, retry: false });
      await expect(transport.upload(rawArtifact(key), {})).rejects.toMatchObject({
        code: 'ERR_UPLOAD_REJECTED',
      });
      expect(await filesUnder(root)).toEqual([]);
    });

    it('writes any key it accepts exactly at <dir>/traces/<user_id>/<task_id>.jsonl.gz (fuzzed)', async () => {
      const root = join(spool.dir, 'fuzz');
      const out = join(root, 'out');
      await mkdir(out, { recursive: true });
      const transport = fileTransport({ dir: out, retry: false });
      const segment = fc.oneof(
        fc.constantFrom('..', '.', '', 'u', 't.jsonl.gz', '..\\..', '%2e%2e'),
        fc.string({ maxLength: 12 }),
      );
      const keyArbitrary = fc.oneof(
        fc.string(),
        fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/')),
        fc.tuple(segment, segment).map(([u, t]) => `traces/${u}/${t}.jsonl.gz`),
      );
      await fc.assert(
        fc.asyncProperty(keyArbitrary, async (key) => {
          let accepted: boolean;
          try {
            await transport.upload(rawArtifact(key), {});
            accepted = true;
          } catch (err) {
            expect(err).toMatchObject({ code: 'ERR_UPLOAD_REJECTED' });
            accepted = false;
          }
          if (accepted) {
            const { userId, taskId } = parseTraceKey(key);
            expect((await stat(join(out, 'traces', userId, `${taskId}.jsonl.gz`))).isFile()).toBe(true);
          }
        }),
        { numRuns: 400 },
      );
      // Whatever was accepted or refused, every file written is a trace at its place.
      for (const file of await filesUnder(root)) {
        expect(file.startsWith(`out${sep}traces${sep}`), file).toBe(true);
        expect(file.split(sep)).toHaveLength(4);
      }
    });
  });
});

// ---- secrets ------------------------------------------------------------------------------------

/** `n` characters from `alphabet`, random. */
function randomFrom(alphabet: string, n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}-_`;

/** One secret of each kind the redactor knows: how it appears in text, and its random (secret) part. */
interface Secret {
  readonly kind: string;
  readonly text: string;
  readonly secret: string;
}

function secrets(presignedUrl: string): Secret[] {
  const id = (prefix: string) => {
    const secret = randomFrom(UPPER_DIGITS, 16);
    return { text: `${prefix}${secret}`, secret };
  };
  const akia = id('AKIA');
  const asia = id('ASIA');
  const awsSecret = randomFrom(B64, 40);
  const awsSecretJson = randomFrom(B64, 40);
  const sessionToken = randomFrom(B64, 120);
  const ghp = randomFrom(ALNUM, 36);
  const ghs = randomFrom(ALNUM, 36);
  const pat = `${randomFrom(ALNUM, 22)}_${randomFrom(ALNUM, 59)}`;
  const xAccess = randomFrom(ALNUM, 40);
  const pem = Array.from({ length: 8 }, () => randomFrom(B64, 64)).join('\n');
  const bearer = `${randomFrom(B64URL, 30)}7${randomFrom(B64URL, 10)}`;
  const password = randomFrom(ALNUM, 24);
  const jwt = `eyJ${randomFrom(B64URL, 30)}.eyJ${randomFrom(B64URL, 60)}.${randomFrom(B64URL, 43)}`;
  const url = new URL(presignedUrl);
  return [
    { kind: 'AWS access key id (AKIA)', ...akia },
    { kind: 'AWS access key id (ASIA)', ...asia },
    {
      kind: 'AWS secret key after its name',
      text: `aws_secret_access_key = ${awsSecret}`,
      secret: awsSecret,
    },
    {
      kind: 'AWS secret key in JSON',
      text: `{"SecretAccessKey": "${awsSecretJson}"}`,
      secret: awsSecretJson,
    },
    { kind: 'AWS session token', text: `AWS_SESSION_TOKEN=${sessionToken}`, secret: sessionToken },
    { kind: 'GitHub token (ghp_)', text: `token ghp_${ghp} here`, secret: ghp },
    { kind: 'GitHub token (ghs_)', text: `GH_TOKEN=ghs_${ghs}`, secret: ghs },
    { kind: 'GitHub fine-grained token', text: `github_pat_${pat}`, secret: pat },
    {
      kind: 'x-access-token URL',
      text: `git clone https://x-access-token:${xAccess}@github.com/o/r.git`,
      secret: xAccess,
    },
    {
      kind: 'PEM private key',
      text: `-----BEGIN RSA PRIVATE KEY-----\n${pem}\n-----END RSA PRIVATE KEY-----`,
      secret: pem.replaceAll('\n', ''),
    },
    { kind: 'Bearer token', text: `Authorization: Bearer ${bearer}`, secret: bearer },
    {
      kind: 'connection-string password',
      text: `postgres://app:${password}@db.internal:5432/app`,
      secret: password,
    },
    { kind: 'JWT', text: `session=${jwt}`, secret: jwt.slice(3) },
    {
      kind: 'presigned URL signature',
      text: `curl -X PUT '${presignedUrl}'`,
      secret: url.searchParams.get('X-Amz-Signature') ?? '',
    },
  ];
}

/** Every 12-character window of `secret`: a leak of any part of it is a leak. */
function windows(secret: string): string[] {
  const clean = secret.replaceAll('\n', '');
  const out: string[] = [];
  for (let i = 0; i + 12 <= clean.length; i += 4) out.push(clean.slice(i, i + 12));
  return out;
}

describe('secrets recorded in events never reach the stored object', () => {
  it('redacts every kind, wherever it sits in an event, before a byte is stored', async () => {
    const ids = freshIds('secrets');
    const kinds = secrets(await world.mintUrl(freshIds('other')));
    const rec = createTraceRecorder({
      userId: ids.userId,
      taskId: ids.taskId,
      transport: await presignedPut.build(world, ids, { retry: FAST_RETRY }),
      spoolDir: spool.dir,
    });
    for (const s of kinds) {
      rec.record({ event: 'TOOL_OUTPUT', kind: s.kind, output: s.text });
      rec.record({ event: 'NESTED', deep: { a: [{ b: `prefix ${s.text} suffix` }] } });
      rec.record({ event: 'KEYED', [s.text]: 'the secret is a key' });
      rec.record({ event: `NAME ${s.text}` });
      rec.record({ event: 'ERROR', error: new Error(`failed with ${s.text}`) });
      rec.recordTurn({
        turn: 1,
        // 3995 characters of filler: the secret straddles the 4000-character truncation cut.
        thinking: `${'t'.repeat(3995)}${s.text}`,
        text: `${'x'.repeat(3990)} ${s.text} ${'y'.repeat(100)}`,
        toolCalls: [{ name: 'bash', input: { command: s.text, env: { TOKEN: s.text } } }],
        toolResults: [
          { toolUseId: 'a', content: `${'r'.repeat(1995)}${s.text}` },
          { toolUseId: 'b', content: [{ type: 'text', text: s.text }] },
        ],
      });
      rec.recordPolicyDecision({ toolName: 'bash', allowed: false, reason: s.text });
      rec.recordOutputScreening({ toolName: 'bash', findings: [{ match: s.text }], redacted: true });
      // An event over the 256 KiB limit, shrunk by cutting its strings at a length nobody chose:
      // a secret every ~1000 characters, so some cut lands inside one. (Spaces around each: a key
      // glued to letters, like `hhhAKIA...`, is deliberately not matched by the built-in patterns.)
      rec.record({
        event: 'HUGE',
        blob: Array.from({ length: 320 }, (_, i) => `${'h'.repeat(997 - (i % 7))} ${s.text} `).join(''),
      });
    }
    const result = await rec.finish();
    expect(result.status).toBe('uploaded');

    const stored = await world.stored(ids.key);
    const text = gunzipSync(stored!).toString('utf8');
    for (const s of kinds) {
      expect(s.secret.length, s.kind).toBeGreaterThanOrEqual(16);
      for (const w of windows(s.secret)) {
        const at = text.indexOf(w);
        expect(
          at,
          `${s.kind}: "${w}" reached the stored object: …${text.slice(Math.max(0, at - 120), at + 60)}…`,
        ).toBe(-1);
      }
    }
    expect(text).not.toMatch(/X-Amz-Credential=(?!\[REDACTED)/);
    const [header] = await readAll(stored!);
    expect(header!['redactions']).toBeGreaterThan(kinds.length);
    expect(sha256(stored!)).toBe(result.sha256);
  });

  it('redacts secrets placed anywhere in fuzzed events (memory transport, stored bytes scanned)', async () => {
    const kinds = secrets(
      `https://bucket.s3.amazonaws.com/traces/u/t.jsonl.gz?X-Amz-Signature=${'ab'.repeat(32)}`,
    );
    // Delimiters as text has them. (A base64 character right after a 40-character secret key, as in
    // `aws_secret_access_key=<key>=`, makes the run 41 long and it is not redacted: reported.)
    const opening = fc.constantFrom(' ', '\n', '"', "'", '=', ', ', ': ', '(');
    const closing = fc.constantFrom(' ', '\n', '"', "'", ', ', ';', '&', ')');
    const placed = fc.tuple(
      fc.constantFrom(...kinds),
      fc.string({ maxLength: 40 }),
      fc.string({ maxLength: 40 }),
      opening,
      closing,
    );
    const event = fc
      .tuple(
        fc.array(placed, { minLength: 1, maxLength: 4 }),
        fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 4 }),
      )
      .map(([items, path]) => {
        let value: unknown = items.map(
          ([s, before, after, open, close]) => `${before}${open}${s.text}${close}${after}`,
        );
        for (const key of path) value = { [key]: value };
        return { used: items.map(([s]) => s), event: { event: 'FUZZ', payload: value } };
      });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 5 }), async (events) => {
        let body: Buffer | undefined;
        const transport: TraceTransport = {
          name: 'memory',
          async upload(artifact) {
            const chunks: Buffer[] = [];
            for await (const c of artifact.open()) chunks.push(c as Buffer);
            body = Buffer.concat(chunks);
            return { key: artifact.key };
          },
        };
        const rec = createTraceRecorder({ userId: 'u', taskId: 't', transport, spoolDir: spool.dir });
        for (const e of events) rec.record(e.event);
        await rec.finish();
        const text = gunzipSync(body!).toString('utf8');
        for (const e of events) {
          for (const s of e.used) {
            for (const w of windows(s.secret)) {
              const at = text.indexOf(w);
              expect(at, `${s.kind}: "${w}" leaked: …${text.slice(Math.max(0, at - 80), at + 40)}…`).toBe(-1);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('presigned URLs and grants never reach an error message', () => {
  it('keeps refusals and failures of every transport free of URLs, signatures and grants', async () => {
    const ids = freshIds('errors');
    const other = freshIds('errors-other');
    // The smallest trace: a header with no events.
    const artifact = artifactFromBuffer(
      ids.key,
      gzipSync(
        `${JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: ids.taskId, accumulated_events: 0 })}\n`,
      ),
    );
    const failures: unknown[] = [];
    const attempt = async (transport: TraceTransport) => {
      await transport.upload(artifact, {}).then(
        () => failures.push(new Error('unexpectedly uploaded')),
        (err: unknown) => failures.push(err),
      );
    };
    // A URL for another key, an expired URL, a URL to nowhere, a provider that throws with the URL in its message.
    await attempt(presignedPutTransport({ url: await world.mintUrl(other), retry: false }));
    world.s3Skew.ms = 2 * 60 * 60 * 1000;
    await attempt(presignedPutTransport({ url: await world.mintUrl(ids), retry: false }));
    world.s3Skew.ms = 0;
    await attempt(
      presignedPutTransport({
        url: await world.mintUrl(ids, { endpoint: world.deadEndpoint }),
        retry: false,
      }),
    );
    const leaked = await world.mintUrl(ids);
    await attempt(
      presignedPutTransport({
        url: async () => {
          throw new Error(`could not reach ${leaked}`);
        },
        retry: false,
      }),
    );
    // A grant for another task, an expired grant, a provider that throws with the grant in its message.
    await attempt(
      lambdaUploaderTransport({
        functionName: world.lambda.functionName,
        client: world.lambdaClient(),
        grant: world.mintGrant(other),
        retry: false,
      }),
    );
    world.grantSkew.ms = 2 * 60 * 60 * 1000;
    await attempt(
      lambdaUploaderTransport({
        functionName: world.lambda.functionName,
        client: world.lambdaClient(),
        grant: world.mintGrant(ids),
        retry: false,
      }),
    );
    world.grantSkew.ms = 0;
    const leakedGrant = world.mintGrant(ids);
    await attempt(
      lambdaUploaderTransport({
        functionName: world.lambda.functionName,
        client: world.lambdaClient(),
        grant: async () => {
          throw new Error(`grant ${leakedGrant} rejected`);
        },
        retry: false,
      }),
    );
    expect(failures).toHaveLength(7);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(UploadError);
      expectNoSecrets(
        [...errorTexts(failure), JSON.stringify(failure)],
        world.secrets,
        (failure as Error).message,
      );
    }
    expect(await world.keys(userPrefix(ids.userId))).toEqual([]);
  });
});
