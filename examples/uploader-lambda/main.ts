/**
 * The uploader Lambda: the agent runtime holds no S3 permission at all, only `lambda:InvokeFunction`
 * and an upload grant — an HMAC the orchestrator minted over (user id, task id, expiry). The real
 * `createUploaderHandler`, served by the local Lambda, verifies the grant and derives the object key
 * from it, never from the request. Small bodies travel inline in the Invoke payload; bodies over
 * Lambda's 6 MB limit make the handler return a presigned PUT for the same key.
 *
 * Run: `pnpm build && node examples/uploader-lambda/main.ts`
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTraceRecorder,
  type FinishResult,
  lambdaUploaderTransport,
  type TraceRecorder,
  traceKey,
} from '@agent-trace/trace-sdk';
import { createUploaderHandler, type UploaderLogEntry } from '@agent-trace/trace-sdk/lambda';
import { createTraceS3Client, createUploadGrant } from '@agent-trace/trace-sdk/orchestrator';
import {
  type LocalLambda,
  type LocalS3,
  startLocalLambda,
  startLocalS3,
} from '@agent-trace/trace-sdk-testing';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { elapsedMs, formatBytes } from '../shared/format.ts';
import { check, describeError, runExample } from '../shared/run.ts';
import { objectExists } from '../shared/s3.ts';
import { recordCodingTask } from '../shared/trajectory.ts';

const BUCKET = 'traces-lambda';
const FUNCTION_NAME = 'agent-trace-uploader';
const ALICE = 'a11ce000-0000-4000-8000-000000000001';
const BOB = 'b0b00000-0000-4000-8000-000000000002';
const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;

runExample('uploader-lambda', async () => {
  const s3Server = await startLocalS3();
  const spoolDir = await mkdtemp(join(tmpdir(), 'agent-trace-lambda-'));
  // Shared by the orchestrator (mints grants) and the Lambda (verifies them); never by the runtime.
  const grantKey = { id: 'k-2025-01', secret: randomBytes(32) };
  const grantKeys = { [grantKey.id]: grantKey.secret };
  // The Lambda's execution role: PutObject on traces/* (here: the local S3's credentials).
  const lambdaS3 = await createTraceS3Client({
    endpoint: s3Server.endpoint,
    region: s3Server.region,
    credentials: s3Server.credentials,
    forcePathStyle: true,
  });
  // The handler's structured log (on Lambda: one JSON line per request to CloudWatch).
  const handlerLog: UploaderLogEntry[] = [];
  const lambdaServer = await startLocalLambda({
    functionName: FUNCTION_NAME,
    handler: createUploaderHandler({
      bucket: BUCKET,
      s3: lambdaS3,
      grantKeys,
      log: (e) => handlerLog.push(e),
    }),
  });
  // The runtime's only AWS client: it can invoke the uploader, nothing else.
  const lambda = new LambdaClient({
    endpoint: lambdaServer.endpoint,
    region: lambdaServer.region,
    credentials: lambdaServer.credentials,
    maxAttempts: 1, // retries live in the SDK's one shared policy, not in the AWS client as well
  });
  try {
    const grantFor = (userId: string, taskId: string) =>
      createUploadGrant({ userId, taskId, expiresIn: 3600, key: grantKey, audience: BUCKET });
    const agent = (userId: string, taskId: string, grant: string) =>
      createTraceRecorder({
        userId,
        taskId,
        spoolDir,
        transport: lambdaUploaderTransport({ functionName: FUNCTION_NAME, client: lambda, grant }),
      });

    // ── a small trace: inline in the Invoke payload ─────────────────────────────────────────
    const smallTask = '01JD4QD0000000000000000001';
    const small = agent(ALICE, smallTask, grantFor(ALICE, smallTask));
    recordCodingTask(small);
    let invoked = lambdaServer.invocations.length;
    let started = performance.now();
    const smallResult = await small.finish();
    check(
      smallResult.status === 'uploaded',
      `small upload ${smallResult.status}: ${describeError(smallResult.error)}`,
    );
    check(smallResult.bytes < LAMBDA_PAYLOAD_LIMIT, 'the small trace is not small');
    check(handled(handlerLog, smallResult.key).join() === 'put:stored', 'the small trace did not go inline');
    check(lambdaServer.invocations.length - invoked === 1, 'the small trace took more than one Invoke');
    await expectStored(lambdaS3, smallResult);
    console.log(
      `small trace ${formatBytes(smallResult.bytes)} → inline in one Invoke (payload ${payloads(lambdaServer, invoked)}), ` +
        `stored by the Lambda → s3://${BUCKET}/${smallResult.key}  ${elapsedMs(started)} ms`,
    );

    // ── a large trace (> 6 MB compressed): the handler hands back a presigned PUT ───────────
    const largeTask = '01JD4QD0000000000000000002';
    const large = agent(ALICE, largeTask, grantFor(ALICE, largeTask));
    recordIncompressibleTurns(large, 9 * 1024 * 1024);
    invoked = lambdaServer.invocations.length;
    started = performance.now();
    const largeResult = await large.finish();
    check(
      largeResult.status === 'uploaded',
      `large upload ${largeResult.status}: ${describeError(largeResult.error)}`,
    );
    check(
      largeResult.bytes > LAMBDA_PAYLOAD_LIMIT,
      `the large trace is only ${formatBytes(largeResult.bytes)}`,
    );
    check(
      handled(handlerLog, largeResult.key).join() === 'presign:presigned' &&
        presignedPutsTo(s3Server, largeResult.key) === 1,
      'the large trace did not go through a presigned PUT',
    );
    check(lambdaServer.invocations.length - invoked === 1, 'the large trace took more than one Invoke');
    await expectStored(lambdaS3, largeResult);
    console.log(
      `large trace ${formatBytes(largeResult.bytes)} → over Lambda's 6 MiB payload limit: one Invoke (payload ` +
        `${payloads(lambdaServer, invoked)}) returned a presigned PUT for the same key → s3://${BUCKET}/${largeResult.key}  ${elapsedMs(started)} ms`,
    );

    // ── a forged grant: Bob rewrites his own grant to name Alice, keeping its signature ─────
    const forgedTask = '01JD4QD0000000000000000003';
    const forged = agent(ALICE, forgedTask, renameUser(grantFor(BOB, forgedTask), ALICE));
    recordCodingTask(forged);
    const forgedResult = await forged.finish();
    await expectRejected(lambdaS3, forgedResult);
    console.log(
      `forged grant (Bob's grant edited to name Alice) → rejected by the uploader: ${describeError(forgedResult.error)}`,
    );

    // ── another user's grant: Bob's runtime presents Alice's grant ──────────────────────────
    const stolenTask = '01JD4QD0000000000000000004';
    const stolen = agent(BOB, stolenTask, grantFor(ALICE, stolenTask));
    recordCodingTask(stolen);
    const stolenResult = await stolen.finish();
    await expectRejected(lambdaS3, stolenResult);
    check(
      !(await objectExists(lambdaS3, BUCKET, traceKey({ userId: ALICE, taskId: stolenTask }))),
      "Bob's trace was written under Alice's prefix",
    );
    console.log(
      `another user's grant (Bob's runtime holding Alice's) → rejected before sending: ${describeError(stolenResult.error)}`,
    );
    console.log(
      'runtime: lambda:InvokeFunction only — no S3 client, no S3 credentials; the key always comes from the grant',
    );
  } finally {
    lambda.destroy();
    lambdaS3.destroy();
    await lambdaServer.close();
    await s3Server.close();
    await rm(spoolDir, { recursive: true, force: true });
  }
});

/**
 * Turn events whose text is random base64 (gzip cannot shrink it much), until `bytes` of text are
 * recorded. Each text stays under the 4000-character field limit so nothing is truncated, and the
 * whole stays far below the default 50 MiB `maxBytes` cap.
 */
function recordIncompressibleTurns(rec: TraceRecorder, bytes: number): void {
  const perTurn = 3_900;
  for (let turn = 1; turn * perTurn <= bytes; turn += 1) {
    rec.recordTurn({
      turn,
      model: 'claude-sonnet-4-5',
      text: randomBytes((perTurn / 4) * 3).toString('base64'),
      toolCalls: [],
      toolResults: [],
    });
  }
}

/**
 * What a compromised runtime might try: edit the user id inside its own grant (the payload is
 * readable base64url JSON) and keep the signature. The HMAC no longer matches.
 */
function renameUser(grant: string, userId: string): string {
  const [payload, signature] = grant.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
  const edited = Buffer.from(JSON.stringify({ ...claims, sub: userId })).toString('base64url');
  return `${edited}.${signature}`;
}

/** Payload sizes of the Invoke calls made since the first `since` invocations. */
function payloads(lambdaServer: LocalLambda, since: number): string {
  return lambdaServer.invocations
    .slice(since)
    .map((i) => formatBytes(i.payloadBytes))
    .join(', ');
}

/** What the handler did for `key`, as `action:outcome` entries. */
function handled(log: readonly UploaderLogEntry[], key: string): string[] {
  return log.filter((e) => e.key === key).map((e) => `${e.action}:${e.outcome}`);
}

/** PUTs of `key` the local S3 accepted with a presigned URL (query-string SigV4). */
function presignedPutsTo(s3Server: LocalS3, key: string): number {
  return s3Server.requests.filter(
    (r) => r.method === 'PUT' && r.key === key && r.status === 200 && r.path.includes('X-Amz-Algorithm='),
  ).length;
}

/** Downloads the stored object and checks it is byte for byte the artifact `finish()` sealed. */
async function expectStored(s3: S3Client, result: FinishResult): Promise<void> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: result.key }));
  const body = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
  const digest = createHash('sha256').update(body).digest('hex');
  check(digest === result.sha256, `the object stored at ${result.key} differs from the sealed artifact`);
}

async function expectRejected(s3: S3Client, result: FinishResult): Promise<void> {
  check(result.status === 'failed', `expected the upload to be rejected, got ${result.status}`);
  check(!(await objectExists(s3, BUCKET, result.key)), `a rejected upload wrote ${result.key}`);
}
