/**
 * The AWS SDK is an optional peer dependency: an agent that imports `@agent-trace/trace-sdk` and
 * uploads through a presigned PUT must never load `@aws-sdk/*` (or its `@smithy/*` runtime).
 * Proven in a fresh Node process (vitest's own module graph already holds the SDK), with a
 * resolve hook that records every module the process resolves.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs in the child. The hook also retries a missing relative `./x.js` as `./x.ts`, so the
 * package runs from its TypeScript sources (Node strips the types) through the `source` condition.
 */
const CHILD = `
import { registerHooks } from 'node:module';
const resolved = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    let result;
    try {
      result = nextResolve(specifier, context);
    } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.startsWith('.') || !specifier.endsWith('.js')) throw err;
      result = nextResolve(specifier.slice(0, -3) + '.ts', context);
    }
    resolved.push(specifier + ' -> ' + result.url);
    return result;
  },
});
const { createServer } = await import('node:http');
let receipts = [];
if (process.argv[1] === 'control') {
  // The detector must see the SDK when something does load it.
  const { createTraceS3Client } = await import('@agent-trace/trace-sdk/orchestrator');
  (await createTraceS3Client({ region: 'us-east-1' })).destroy();
} else {
  const sdk = await import('@agent-trace/trace-sdk');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { etag: '"e"' }); res.end(); });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const key = sdk.traceKey({ userId: 'user-1', taskId: 'task-1' });
  const url = 'http://127.0.0.1:' + server.address().port + '/bucket/' + key + '?X-Amz-Signature=x';
  const artifact = sdk.artifactFromBuffer(key, Buffer.from('body'));
  receipts.push(await sdk.presignedPutTransport({ url }).upload(artifact, {}));
  receipts.push(await sdk.presignedPutTransport({ url: async () => url }).upload(artifact, {}));
  receipts.push(await sdk.transportFromEnv({ TRACE_TRANSPORT: 'presigned-put', TRACE_UPLOAD_URL: url }).upload(artifact, {}));
  server.close();
}
const aws = resolved.filter((line) => /[/@](?:aws-sdk|smithy|aws-crypto)[/+]/.test(line));
console.log(JSON.stringify({ receipts, aws, resolved: resolved.length }));
`;

async function runChild(mode: 'agent' | 'control') {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=source', '--input-type=module', '--no-warnings', '-e', CHILD, mode],
    { cwd: PACKAGE_DIR, timeout: 30_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    receipts: Array<{ key: string; attempts: number }>;
    aws: string[];
    resolved: number;
  };
}

describe('the AWS SDK stays unloaded unless a transport needs it', () => {
  it('importing the package and uploading through a presigned PUT loads no @aws-sdk or @smithy module', async () => {
    const { receipts, aws, resolved } = await runChild('agent');
    expect(receipts).toHaveLength(3);
    for (const receipt of receipts) expect(receipt).toMatchObject({ key: 'traces/user-1/task-1.jsonl.gz' });
    // The package's own modules were seen, so an empty list means something.
    expect(resolved).toBeGreaterThan(20);
    expect(aws).toEqual([]);
  });

  it('the same probe does see the SDK when the orchestrator helpers load it', async () => {
    const { aws } = await runChild('control');
    expect(aws.some((line) => line.startsWith('@aws-sdk/client-s3 -> '))).toBe(true);
  });
});
