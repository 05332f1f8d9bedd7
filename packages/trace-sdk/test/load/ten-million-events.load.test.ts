/**
 * Load: 10 million events in one trace. The recorder's memory stays bounded (RSS growth is sampled
 * all the way through recording and upload), the trace uploads through a presigned PUT to a local
 * S3 that stores on disk, and nothing is lost: the header says 10 000 000 events, and reading the
 * stored object back yields exactly 10 000 000 events with dense seq.
 *
 * Run with `pnpm test:load` (not part of CI). Takes about a minute on 2 cores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { expect, it } from 'vitest';
import { createTraceRecorder, presignedPutTransport, readTrace, traceKey } from '../../src/index.js';
import { createTraceS3Client, createTraceUploadUrl } from '../../src/orchestrator/index.js';

const EVENTS = 10_000_000;
const MiB = 1024 * 1024;
/** Events recorded before the memory baseline for flatness is taken (heaps and pools warmed up). */
const WARM_EVENTS = 2_000_000;
/** Largest RSS growth over the start allowed at any point (the trace is ~1.5 GiB of JSONL). */
const MAX_RSS_GROWTH = 384 * MiB;
/** Largest RSS growth while the last 80% of the events are recorded: memory is flat, not per event. */
const MAX_RSS_GROWTH_AFTER_WARMUP = 64 * MiB;
const BUCKET = 'load-traces';

it(`records ${EVENTS.toLocaleString('en-US')} events in one trace in bounded memory and loses none`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-trace-10m-'));
  const s3 = await startLocalS3({ dir: join(dir, 's3') });
  try {
    await s3.createBucket(BUCKET);
    const signer = await createTraceS3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: s3.credentials,
      forcePathStyle: true,
    });
    const ids = { userId: 'load-user', taskId: '01JLOAD10MEVENTS000000000' };
    const transport = presignedPutTransport({
      url: async ({ byteLength, sha256 }) =>
        createTraceUploadUrl({
          s3: signer,
          bucket: BUCKET,
          ...ids,
          expiresIn: 3600,
          contentLength: byteLength,
          sha256,
          maxBytes: 5 * 1024 ** 3,
        }),
    });
    const rec = createTraceRecorder({
      ...ids,
      transport,
      spoolDir: join(dir, 'spool'),
      maxBytes: 16 * 1024 * MiB,
    });

    const tools = ['bash', 'read_file', 'write_file', 'grep'];
    rec.record({ event: 'WARMUP' });
    const start = process.memoryUsage.rss();
    let peak = start;
    let warmPeak = start;
    const sample = () => {
      peak = Math.max(peak, process.memoryUsage.rss());
    };
    const sampler = setInterval(sample, 50);
    try {
      for (let i = 1; i < EVENTS; i++) {
        // A hash per event keeps the gzip output large (~10 bytes an event): holding the compressed
        // trace in memory would show up as growth.
        rec.record({
          event: 'TOOL_CALL',
          tool_name: tools[i & 3],
          ok: (i & 7) !== 0,
          n: i,
          h: (Math.imul(i, 2654435761) >>> 0).toString(36),
        });
        // An agent awaits its model between events; let compression land now and then.
        if (i % 10_000 === 0) {
          sample();
          if (i === WARM_EVENTS) warmPeak = peak;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      sample();
      const recorded = peak;
      const result = await rec.finish();
      sample();
      expect(result.error).toBeUndefined();
      expect(result).toMatchObject({ status: 'uploaded', events: EVENTS, dropped: 0 });
      console.log(
        `10M events: ${(result.uncompressedBytes / MiB).toFixed(0)} MiB JSONL, ${(result.bytes / MiB).toFixed(1)} MiB gzip; ` +
          `peak RSS growth ${((warmPeak - start) / MiB).toFixed(1)} MiB after ${WARM_EVENTS / 1e6}M events, ` +
          `${((recorded - start) / MiB).toFixed(1)} MiB after 10M, ${((peak - start) / MiB).toFixed(1)} MiB through the upload`,
      );
      expect(peak - start).toBeLessThan(MAX_RSS_GROWTH);
      expect(recorded - warmPeak).toBeLessThan(MAX_RSS_GROWTH_AFTER_WARMUP);
      // The flatness bound is below the gzip bytes written after warm-up, so it tells a spool that
      // streams to disk from one that holds the compressed trace.
      expect(result.bytes * (1 - WARM_EVENTS / EVENTS)).toBeGreaterThan(MAX_RSS_GROWTH_AFTER_WARMUP);
    } finally {
      clearInterval(sampler);
    }

    // Read the stored object back, streamed from the local S3's disk.
    let lines = 0;
    let header: Record<string, unknown> | undefined;
    for await (const line of readTrace(s3.openObject(BUCKET, traceKey(ids))!)) {
      if (lines === 0) header = line;
      else if (line['seq'] !== lines - 1)
        throw new Error(`line ${lines}: seq ${String(line['seq'])}, expected ${lines - 1}`);
      lines++;
    }
    expect(header).toMatchObject({ accumulated_events: EVENTS, dropped: 0 });
    expect(lines - 1).toBe(EVENTS);
  } finally {
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
});
