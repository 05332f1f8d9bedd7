/**
 * The local S3 for the upload benchmarks, in a process of its own so that its request handling
 * (SigV4 verification, MD5 for the ETag, storing) never shares an event loop with the client being
 * measured. Not a benchmark itself: `upload-throughput.bench.ts` and `upload-rss.bench.ts` spawn it.
 *
 * Usage: node upload-s3-server.ts [--dir <path>]
 * Prints one JSON line, `{"endpoint": "http://127.0.0.1:<port>", "region": "us-east-1"}`, and
 * serves until its stdin closes (the parent exited or is done).
 */
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';

const dirAt = process.argv.indexOf('--dir');
const dir = dirAt >= 0 ? process.argv[dirAt + 1] : undefined;

const s3 = await startLocalS3(dir === undefined ? {} : { dir });
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, region: s3.region })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void s3.close().then(() => process.exit(0));
});
