/**
 * `pnpm demo`: presigned PUT end to end, against a SigV4-verifying local S3.
 *
 *   orchestrator  holds S3 credentials; mints a PUT URL scoped to one exact key
 *   agent         holds only a function that returns that URL; records and uploads its trace
 *   reader        downloads the object, checks its sha256, counts and that no secret survived
 *
 * Run: `pnpm demo` (or `pnpm build && node examples/presigned-put/main.ts`). The local S3 lives only
 * as long as the process, so the reader also keeps a copy of the stored object on disk, at
 * `.demo/traces/<user_id>/<task_id>.jsonl.gz` under the current directory, and prints the command
 * that inspects it.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  createTraceRecorder,
  describeUrl,
  presignedPutTransport,
  readTrace,
  traceKey,
  type UploadUrlRequest,
  type UploadUrlResult,
} from '@agent-trace/trace-sdk';
import { createTraceS3Client, createTraceUploadUrl } from '@agent-trace/trace-sdk/orchestrator';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { elapsedMs, formatBytes, plural } from '../shared/format.ts';
import { check, runExample } from '../shared/run.ts';
import { objectExists } from '../shared/s3.ts';
import { PLANTED_SECRETS, recordCodingTask } from '../shared/trajectory.ts';

const BUCKET = 'traces-demo';
const USER_ID = '3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41'; // a Cognito sub
const TASK_ID = '01JD4Q9Z6XKQ2V8N5R3T7W1Y0M'; // a ULID
const OTHER_USER_ID = '9b2d7e10-4c3a-4f6e-8d21-5a7c0e9f1b33';
/** Where the demo keeps its copy of the uploaded object (the in-process S3 vanishes on exit). */
const KEEP_DIR = join(process.cwd(), '.demo');

runExample('presigned-put demo', async () => {
  const s3Server = await startLocalS3();
  try {
    // ── orchestrator: the only party with S3 credentials ─────────────────────────────────────
    const s3 = await createTraceS3Client({
      endpoint: s3Server.endpoint,
      region: s3Server.region,
      credentials: s3Server.credentials,
      forcePathStyle: true,
    });
    const mintedUrls: string[] = [];
    // The provider is told the sealed size and SHA-256, and signs them (S3 then accepts exactly
    // those bytes) along with the attribution headers it returns for the runtime to send.
    const uploadUrlFor =
      (userId: string, taskId: string) =>
      async ({ byteLength, sha256 }: { byteLength: number; sha256: string }) => {
        const minted = await createTraceUploadUrl({
          s3,
          bucket: BUCKET,
          userId,
          taskId,
          expiresIn: 900,
          contentLength: byteLength,
          sha256,
        });
        mintedUrls.push(minted.url);
        return minted;
      };

    // ── agent runtime: no S3 client, no AWS credentials, just a URL provider ─────────────────
    const started = performance.now();
    const result = await runAgent({
      userId: USER_ID,
      taskId: TASK_ID,
      uploadUrl: uploadUrlFor(USER_ID, TASK_ID),
    });
    const took = elapsedMs(started);
    check(
      result.status === 'uploaded',
      `upload ${result.status}: ${result.error?.message ?? 'no error given'}`,
    );

    // ── reader: download, verify, read back ──────────────────────────────────────────────────
    const verified = await verifyStoredTrace(s3, result.key, result.sha256);
    check(verified.header.accumulated_events === result.events, 'header event count differs from finish()');
    check(
      verified.events === result.events,
      `read ${verified.events} events, finish() reported ${result.events}`,
    );
    check(verified.header.dropped === 0, `${verified.header.dropped} events dropped`);
    check(verified.header.redactions >= PLANTED_SECRETS.length, 'the planted secrets were not all redacted');

    // ── the same URL cannot write anywhere else ──────────────────────────────────────────────
    const [agentUrl] = mintedUrls;
    check(agentUrl !== undefined, 'the agent never asked for an upload URL');
    const tampered = await putToAnotherKey(agentUrl, traceKey({ userId: OTHER_USER_ID, taskId: TASK_ID }));
    check(tampered.status === 403, `PUT to a tampered key answered ${tampered.status}, expected 403`);
    check(!(await objectExists(s3, BUCKET, tampered.key)), 'the tampered PUT wrote an object');
    // The local S3 records how each request was authenticated: the agent's PUT was signed by the
    // URL's query string (minted by the orchestrator), not by credentials of its own.
    const agentPuts = s3Server.requests.filter((r) => r.method === 'PUT' && r.key === result.key);
    check(
      agentPuts.length > 0 && agentPuts.every((r) => r.path.includes('X-Amz-Algorithm=')),
      'the agent uploaded with something other than the presigned URL',
    );

    const kept = join(KEEP_DIR, result.key);
    await mkdir(dirname(kept), { recursive: true });
    await writeFile(kept, verified.body);
    const keptArg = relative(process.cwd(), kept);

    const raw = result.uncompressedBytes;
    console.log(`trace landed at s3://${BUCKET}/${result.key}`);
    console.log(
      `a copy of the stored object is kept at ${keptArg} (the local S3 is gone when the demo exits)`,
    );
    console.log(
      `events ${result.events} (dropped ${verified.header.dropped}, redactions ${verified.header.redactions})   ` +
        `bytes ${formatBytes(result.bytes)} gzip / ${formatBytes(raw)} raw (ratio ${(raw / result.bytes).toFixed(1)}x)   ` +
        `upload ${plural(result.attempts, 'attempt')}   time ${took} ms`,
    );
    console.log(
      `reader:  sha256 ${result.sha256.slice(0, 12)}… matches finish(); header counts match; ` +
        `0 of ${PLANTED_SECRETS.length} planted secrets stored:`,
    );
    console.log(`         ${verified.screened.join('  ')}`);
    console.log(
      `runtime: held no S3 credentials — no S3 client, only a URL provider (called ${mintedUrls.length}x); ` +
        `its PUT was authorized by the URL's own signature`,
    );
    console.log(
      `scope:   the agent's URL replayed against another user's key → ${tampered.status} ${tampered.code}, nothing written`,
    );
    console.log(`         PUT ${describeUrl(tampered.url)}`);
    console.log('');
    console.log('next: inspect the uploaded trace');
    console.log(`  pnpm exec agent-trace inspect ${keptArg}`);
    console.log(`  zcat ${keptArg} | head -1`);
  } finally {
    await s3Server.close();
  }
});

/**
 * The agent runtime. Everything it can touch is in its arguments: ids and a function returning a
 * presigned URL. It has no S3 client and no credentials to build one with.
 */
async function runAgent(opts: {
  userId: string;
  taskId: string;
  uploadUrl: (request: UploadUrlRequest) => Promise<UploadUrlResult>;
}) {
  const rec = createTraceRecorder({
    userId: opts.userId,
    taskId: opts.taskId,
    transport: presignedPutTransport({ url: opts.uploadUrl }),
  });
  recordCodingTask(rec);
  return rec.finish();
}

/** Downloads the object as the reader, checks its sha256 and reads it back with readTrace. */
async function verifyStoredTrace(s3: S3Client, key: string, sha256: string) {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  check(got.Body !== undefined, `GetObject ${key} returned no body`);
  check(got.ContentType === 'application/gzip', `stored Content-Type is ${got.ContentType}`);
  check(got.ContentEncoding === undefined, `stored object has Content-Encoding ${got.ContentEncoding}`);
  const body = Buffer.from(await got.Body.transformToByteArray());
  const digest = createHash('sha256').update(body).digest('hex');
  check(digest === sha256, `stored sha256 ${digest} differs from finish()'s ${sha256}`);

  const text = gunzipSync(body).toString('utf8');
  for (const secret of PLANTED_SECRETS) {
    check(!text.includes(secret), `a planted secret (${secret.slice(0, 4)}…) reached the stored trace`);
  }

  let header: Record<string, unknown> | undefined;
  let events = 0;
  const screened: string[] = [];
  for await (const line of readTrace(body)) {
    if (header === undefined) header = line;
    else events += 1;
    if (line['event'] === 'OUTPUT_SCREENING') {
      for (const finding of line['findings'] as Array<{ match?: unknown }>)
        screened.push(String(finding.match));
    }
  }
  check(header?.['event'] === 'TRAJECTORY_ARTIFACT_HEADER', 'the first line is not the header');
  return {
    header: header as {
      accumulated_events: number;
      accumulated_bytes: number;
      dropped: number;
      redactions: number;
    },
    events,
    screened,
    body,
  };
}

/** Replays the agent's presigned URL against another user's key: what a compromised runtime would try. */
async function putToAnotherKey(url: string, key: string) {
  const target = new URL(url);
  target.pathname = `/${BUCKET}/${key}`;
  const res = await fetch(target, {
    method: 'PUT',
    headers: { 'content-type': 'application/gzip' },
    body: new Uint8Array([0x1f, 0x8b]),
  });
  const xml = await res.text();
  const code = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1] ?? 'no S3 error code';
  return { status: res.status, code, key, url: target.toString() };
}
