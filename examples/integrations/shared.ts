/**
 * What the integration examples share: an orchestrator with a SigV4-verifying local S3 that mints a
 * presigned PUT URL for the example's task, the agent's transport built from it, and a reader that
 * downloads the stored trace and prints what the adapter recorded.
 *
 * @packageDocumentation
 */
import {
  type FinishResult,
  presignedPutTransport,
  readTrace,
  type TraceTransport,
} from '@agent-trace/trace-sdk';
import { createTraceS3Client, createTraceUploadUrl } from '@agent-trace/trace-sdk/orchestrator';
import { startLocalS3 } from '@agent-trace/trace-sdk-testing';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { check, runExample } from '../shared/run.ts';

const BUCKET = 'traces-integrations';
/** The user the examples record for (a Cognito sub). */
export const USER_ID = '3f1c2a9e-7b4d-4c1e-9a7f-0e5d2b8c6a41';

/** What a run must have produced for the example to pass. */
export interface Expectations {
  readonly turns: number;
  readonly toolCalls: number;
  readonly subtype: string;
}

/**
 * Runs `agent` with a presigned-PUT transport for `traces/<USER_ID>/<taskId>.jsonl.gz`, then reads
 * the stored trace back, prints one line per event and checks it against `expect`.
 */
export function runIntegrationExample(
  name: string,
  taskId: string,
  agent: (transport: TraceTransport) => Promise<FinishResult>,
  expect: Expectations,
): void {
  runExample(`${name} example`, async () => {
    const server = await startLocalS3();
    try {
      // Orchestrator: the only party with S3 credentials.
      const s3 = await createTraceS3Client({
        endpoint: server.endpoint,
        region: server.region,
        credentials: server.credentials,
        forcePathStyle: true,
      });
      // Orchestrator: mints a URL for exactly this trace, its sealed size and SHA-256 signed in.
      const url = ({ byteLength, sha256 }: { byteLength: number; sha256: string }) =>
        createTraceUploadUrl({
          s3,
          bucket: BUCKET,
          userId: USER_ID,
          taskId,
          expiresIn: 900,
          contentLength: byteLength,
          sha256,
        });

      // Agent runtime: records through the adapter, uploads to its one key.
      const result = await agent(presignedPutTransport({ url }));
      check(
        result.status === 'uploaded',
        `upload ${result.status}: ${result.error?.message ?? 'no error given'}`,
      );
      console.log(`${name}: trace landed at s3://${BUCKET}/${result.key} (${result.events} events)`);

      // Reader: download and read it back.
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: result.key }));
      check(got.Body !== undefined, 'GetObject returned no body');
      const events: Record<string, unknown>[] = [];
      for await (const line of readTrace(await got.Body.transformToByteArray())) {
        if (line['event'] !== 'TRAJECTORY_ARTIFACT_HEADER') events.push(line);
      }
      for (const e of events) console.log(`  ${describeEvent(e)}`);

      const turns = events.filter((e) => e['event'] === 'TRAJECTORY_TURN');
      const calls = turns.flatMap((t) => (Array.isArray(t['tool_calls']) ? t['tool_calls'] : []));
      const results = events.filter((e) => e['event'] === 'TRAJECTORY_RESULT');
      check(turns.length === expect.turns, `${turns.length} turns recorded, expected ${expect.turns}`);
      check(
        calls.length === expect.toolCalls,
        `${calls.length} tool calls recorded, expected ${expect.toolCalls}`,
      );
      check(results.length === 1, `${results.length} TRAJECTORY_RESULT events, expected 1`);
      check(results[0]?.['subtype'] === expect.subtype, `result subtype ${String(results[0]?.['subtype'])}`);
      console.log(`${name}: ${turns.length} turns, ${calls.length} tool calls, result ${expect.subtype}`);
      s3.destroy();
    } finally {
      await server.close();
    }
  });
}

/** One line per event: what a reader of the trace sees. */
function describeEvent(e: Record<string, unknown>): string {
  switch (e['event']) {
    case 'TRAJECTORY_TURN': {
      const calls = Array.isArray(e['tool_calls']) ? e['tool_calls'] : [];
      const results = Array.isArray(e['tool_results']) ? e['tool_results'] : [];
      const errors = results.filter((r) => (r as { is_error?: unknown }).is_error === true).length;
      const names = calls.map((c) => (c as { name?: unknown }).name).join(', ');
      return `TRAJECTORY_TURN #${e['turn']} ${e['model'] ?? ''} "${String(e['text'] ?? '').slice(0, 50)}" tools [${names}] results ${results.length} (errors ${errors})`;
    }
    case 'TRAJECTORY_RESULT':
      return `TRAJECTORY_RESULT ${e['subtype']} num_turns=${e['num_turns']} usage=${JSON.stringify(e['usage'] ?? {})}`;
    case 'POLICY_DECISION':
      return `POLICY_DECISION ${e['tool_name']} ${e['allowed'] ? 'allowed' : 'denied'} (${e['reason'] ?? ''})`;
    default:
      return String(e['event']);
  }
}
