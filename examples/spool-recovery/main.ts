/**
 * No trace is lost silently. S3 fails every upload attempt (fault injection on the local S3), so
 * `finish()` — fail-open — resolves with `status: 'failed'` and keeps the artifact in `spoolDir`.
 * When S3 is healthy again, `uploadSpooled` (what `agent-trace spool flush` runs) delivers it.
 *
 * Run: `pnpm build && node examples/spool-recovery/main.ts`
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTraceRecorder, presignedPutTransport, uploadSpooled } from '@agent-trace/trace-sdk';
import { createTraceS3Client, createTraceUploadUrl } from '@agent-trace/trace-sdk/orchestrator';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
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
    const uploadUrl = async () =>
      (await createTraceUploadUrl({ s3, bucket: BUCKET, userId: USER_ID, taskId: TASK_ID, expiresIn: 900 }))
        .url;
    // A short retry budget so the outage outlasts it quickly.
    const transport = presignedPutTransport({
      url: uploadUrl,
      retry: { retries: 2, minDelayMs: 10, maxDelayMs: 50 },
    });

    // ── 1. S3 is down: every PUT gets a 500 ─────────────────────────────────────────────────
    s3Server.faults.failNext(100, { status: 500, code: 'InternalError', match: { method: 'PUT' } });
    const rec = createTraceRecorder({ userId: USER_ID, taskId: TASK_ID, transport, spoolDir });
    recordCodingTask(rec);
    const failed = await rec.finish();
    check(failed.status === 'failed', `expected the upload to fail, got ${failed.status}`);
    check(failed.spooledPath !== undefined, 'the failed artifact was not spooled');
    console.log(
      `finish(): failed after ${plural(failed.attempts, 'attempt')} — ${describeError(failed.error)}`,
    );
    console.log(
      `  spooled ${formatBytes(failed.bytes)} (${failed.events} events) in ${failed.spooledPath.replace(spoolDir, '<spoolDir>')}`,
    );

    // ── 2. S3 is back: flush the spool ──────────────────────────────────────────────────────
    s3Server.faults.clear();
    const flushed = await uploadSpooled({ spoolDir, transport });
    check(flushed.uploaded.length === 1, `uploadSpooled delivered ${flushed.uploaded.length} artifacts`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: failed.key }));
    check(
      head.ContentLength === failed.bytes,
      `stored ${head.ContentLength} bytes, expected ${failed.bytes}`,
    );
    const left = (await readdir(spoolDir)).filter((name) => !name.startsWith('.'));
    check(left.length === 0, `the spool still holds ${left.join(', ')}`);
    console.log(`uploadSpooled(): delivered 1 artifact to s3://${BUCKET}/${failed.key}; spool is empty`);
  } finally {
    await s3Server.close();
    await rm(spoolDir, { recursive: true, force: true });
  }
});
