/**
 * No trace is lost silently. S3 fails every upload attempt (fault injection on the local S3), so
 * `finish()` — fail-open — resolves with `status: 'failed'` and keeps the artifact in `spoolDir`.
 * When S3 is healthy again, `uploadSpooled` (what `agent-trace spool flush` runs) delivers it.
 *
 * Run: `pnpm build && node examples/spool-recovery/main.ts`
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTraceRecorder,
  presignedPutTransport,
  readTraceHeader,
  uploadSpooled,
} from '@agent-trace/trace-sdk';
import { createTraceS3Client, createTraceUploadUrl } from '@agent-trace/trace-sdk/orchestrator';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { formatBytes, plural } from '../shared/format.ts';
import { check, describeError, runExample } from '../shared/run.ts';
import { recordCodingTask } from '../shared/trajectory.ts';

const BUCKET = 'traces-spool';
const USER_ID = 'spool-user-3';
const TASK_ID = '01JD4QC0000000000000000001';

runExample('spool-recovery', async () => {
  const s3Server = await startLocalS3();
  const spoolDir = await mkdtemp(join(tmpdir(), 'agent-trace-spool-'));
  try {
    const s3 = await createTraceS3Client({
      endpoint: s3Server.endpoint,
      region: s3Server.region,
      credentials: s3Server.credentials,
      forcePathStyle: true,
    });
    const uploadUrl = async ({ byteLength, sha256 }: { byteLength: number; sha256: string }) =>
      createTraceUploadUrl({
        s3,
        bucket: BUCKET,
        userId: USER_ID,
        taskId: TASK_ID,
        expiresIn: 900,
        contentLength: byteLength,
        sha256,
      });
    // A short retry budget (3 attempts, short backoff) so the outage outlasts it quickly.
    const retry = { retries: 2, minDelayMs: 10, maxDelayMs: 50 };
    const transport = presignedPutTransport({ url: uploadUrl, retry });

    // ── 1. S3 is down: every PUT gets a 500 ─────────────────────────────────────────────────
    s3Server.faults.failNext(100, { status: 500, code: 'InternalError', match: { method: 'PUT' } });
    console.log(
      `outage: the local S3 answers every PUT with 500 InternalError; retry budget ${retry.retries + 1} attempts`,
    );
    const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport, spoolDir });
    recordCodingTask(rec);
    const failed = await rec.finish();
    check(failed.status === 'failed', `expected the upload to fail, got ${failed.status}`);
    check(failed.spooledPath !== undefined, 'the failed artifact was not spooled');
    console.log(
      `finish(): failed after ${plural(failed.attempts, 'attempt')} — ${describeError(failed.error)}`,
    );
    // The spooled file is the whole artifact, readable as is (the CLI's `inspect` works on it too).
    const spooledHeader = await readTraceHeader(failed.spooledPath);
    check(spooledHeader.accumulated_events === failed.events, 'the spooled artifact is not the whole trace');
    console.log(
      `  spooled ${formatBytes(failed.bytes)} (header: ${spooledHeader.accumulated_events} events) at ` +
        `${failed.spooledPath.replace(spoolDir, '<spoolDir>')}`,
    );

    // ── 2. S3 is back: flush the spool ──────────────────────────────────────────────────────
    s3Server.faults.clear();
    // The scope comes from this sandbox's own configuration, never from the spool files: an entry
    // planted for another user is refused before anything is sent.
    const flushed = await uploadSpooled({ spoolDir, transport, scope: { userId: USER_ID } });
    check(flushed.uploaded.length === 1, `uploadSpooled delivered ${flushed.uploaded.length} artifacts`);
    const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: failed.key }));
    const body = Buffer.from((await stored.Body?.transformToByteArray()) ?? []);
    const digest = createHash('sha256').update(body).digest('hex');
    check(digest === failed.sha256, 'the delivered object differs from the artifact finish() sealed');
    const left = (await readdir(spoolDir)).filter((name) => !name.startsWith('.'));
    check(left.length === 0, `the spool still holds ${left.join(', ')}`);
    const [delivered] = flushed.uploaded;
    console.log(
      `uploadSpooled(): delivered 1 artifact (${plural(delivered?.attempts ?? 0, 'attempt')} in all, the ` +
        `outage's included) to ` +
        `s3://${BUCKET}/${failed.key}; sha256 matches finish(); spool is empty`,
    );
  } finally {
    await s3Server.close();
    await rm(spoolDir, { recursive: true, force: true });
  }
});
