/**
 * The legacy transport: `s3PutObjectTransport` with an S3 client that holds `s3:PutObject`. It works
 * — here against the SigV4-verifying local S3 — but needs the broad grant agent-trace exists to
 * remove, so it emits a one-time DeprecationWarning pointing to the migration guide.
 *
 * Run: `pnpm build && node examples/legacy-s3/main.ts`
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTraceRecorder, s3PutObjectTransport, traceKey } from '@agent-trace/trace-sdk';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { formatBytes, plural } from '../shared/format.ts';
import { check, runExample } from '../shared/run.ts';
import { recordCodingTask } from '../shared/trajectory.ts';

const BUCKET = 'traces-legacy';
const MIGRATION_GUIDE = 'docs/migration.md';

runExample('legacy-s3', async () => {
  // Catch the warning ourselves (and only print it once): replace Node's default stderr printer.
  const warnings: Error[] = [];
  process.removeAllListeners('warning');
  process.on('warning', (warning) => warnings.push(warning));

  const s3Server = await startLocalS3();
  try {
    // The runtime's own S3 client: exactly the broad credential the other transports avoid.
    const s3 = new S3Client({
      endpoint: s3Server.endpoint,
      region: s3Server.region,
      credentials: s3Server.credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });

    const results = [];
    for (const taskId of ['01JD4QA0000000000000000001', '01JD4QA0000000000000000002']) {
      // A transport per task, as a runtime configured per task would build it: still one warning.
      const transport = s3PutObjectTransport({ allowBucketWideWrites: true, client: s3, bucket: BUCKET });
      const rec = createTraceRecorder({ userId: 'legacy-user-7', taskId, transport });
      recordCodingTask(rec);
      const result = await rec.finish();
      check(result.status === 'uploaded', `upload ${result.status}: ${result.error?.message ?? ''}`);
      results.push(result);
    }
    // The problem with this setup: nothing scopes the runtime's credentials to its own prefix.
    const victimKey = traceKey({ userId: 'some-other-user', taskId: '01JD4QA0000000000000000001' });
    const overwrite = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: victimKey,
        Body: 'not a trace',
        ContentType: 'application/gzip',
      }),
    );
    check(overwrite.$metadata.httpStatusCode === 200, 'the broad grant unexpectedly failed to write');
    s3.destroy();
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));

    const deprecations = warnings.filter((w) => w.name === 'DeprecationWarning');
    check(
      deprecations.length === 1,
      `expected one DeprecationWarning for two transports, got ${deprecations.length}`,
    );
    const [warning] = deprecations;
    const code = (warning as Error & { code?: string }).code;
    check(warning?.message.includes(MIGRATION_GUIDE), `the warning does not point to ${MIGRATION_GUIDE}`);

    for (const result of results) {
      console.log(
        `trace landed at ${result.uri ?? `s3://${BUCKET}/${result.key}`}   events ${result.events}   ` +
          `${formatBytes(result.bytes)} gzip   ${plural(result.attempts, 'attempt')}`,
      );
    }
    console.log(`warning, once per process (two transports built): ${warning?.name} [${code}]`);
    console.log(`  ${warning?.message}`);
    const guide = fileURLToPath(new URL(`../../${MIGRATION_GUIDE}`, import.meta.url));
    console.log(
      `why it is deprecated: the same credentials just wrote s3://${BUCKET}/${victimKey} (another user's key) → 200`,
    );
    console.log(
      `migration guide: ${MIGRATION_GUIDE}${existsSync(guide) ? '' : ' (not in this checkout)'} — ` +
        'move the runtime to presigned PUT (examples/presigned-put) or the uploader Lambda (examples/uploader-lambda)',
    );
  } finally {
    await s3Server.close();
  }
});
