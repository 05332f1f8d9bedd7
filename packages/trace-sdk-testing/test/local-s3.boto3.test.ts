import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../src/index.js';
import { send } from './helpers.js';

const run = promisify(execFile);
const BUCKET = 'boto-bucket';

/** Runs a Python snippet with a boto3 client `s3` for the local server; returns its stdout. */
async function boto3(server: LocalS3, script: string, args: Record<string, unknown> = {}): Promise<string> {
  const program = `
import json, sys, boto3
from botocore.config import Config
args = json.loads(sys.argv[1])
s3 = boto3.client('s3', endpoint_url=args['endpoint'], region_name='us-east-1',
  aws_access_key_id=args['akid'], aws_secret_access_key=args['secret'],
  config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
${script}
`;
  const { stdout } = await run(
    'python3',
    [
      '-c',
      program,
      JSON.stringify({
        endpoint: server.endpoint,
        akid: server.credentials.accessKeyId,
        secret: server.credentials.secretAccessKey,
        ...args,
      }),
    ],
    { timeout: 20_000 },
  );
  return stdout.trim();
}

/**
 * Why these tests cannot run here, or undefined when python3 with boto3 is available. A missing
 * prerequisite is a reported skip with this reason, never a silent pass (`.ci/run` installs
 * Debian's python3-boto3, so CI always runs them).
 */
function boto3Unavailable(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import boto3'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error !== undefined)
    return `python3 is not on PATH (${probe.error.message}); install python3 and boto3`;
  if (probe.status !== 0)
    return 'python3 cannot import boto3; install it (Debian: apt-get install python3-boto3)';
  return undefined;
}
const skipReason = boto3Unavailable();

let s3: LocalS3;
beforeEach((ctx) => {
  if (skipReason !== undefined) ctx.skip(`boto3 interop skipped: ${skipReason}`);
});
beforeAll(async () => {
  if (skipReason !== undefined) return;
  s3 = await startLocalS3();
  await s3.createBucket(BUCKET);
});
afterAll(async () => {
  await s3?.close();
});

describe('boto3 interoperability', () => {
  it('verifies presigned PUT URLs minted by boto3, and refuses them tampered', async () => {
    const key = 'traces/boto-user/01JD4Q9Z6X.jsonl.gz';
    const url = await boto3(
      s3,
      `print(s3.generate_presigned_url('put_object', Params={'Bucket': args['bucket'], 'Key': args['key'], 'ContentType': 'application/gzip'}, ExpiresIn=300))`,
      { bucket: BUCKET, key },
    );
    expect(url).toContain('X-Amz-SignedHeaders=content-type%3Bhost');
    const body = Buffer.from('\x1f\x8b pretend gzip');

    const wrongType = await send(url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body });
    expect([wrongType.status, wrongType.code]).toEqual([403, 'SignatureDoesNotMatch']);
    const otherKey = await send(url.replace('boto-user', 'other-user'), {
      method: 'PUT',
      headers: { 'content-type': 'application/gzip' },
      body,
    });
    expect([otherKey.status, otherKey.code]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await s3.listObjects(BUCKET)).toEqual([]);

    const ok = await send(url, { method: 'PUT', headers: { 'content-type': 'application/gzip' }, body });
    expect(ok.status).toBe(200);
    const stored = await s3.getObject(BUCKET, key);
    expect(stored?.body.equals(body)).toBe(true);
    expect(stored?.contentType).toBe('application/gzip');
  });

  // The CRC32 is asked for explicitly: boto3 sends one by default only since 1.36, and Debian's
  // python3-boto3 (what CI installs) is older.
  it('round-trips put_object and get_object (signed payload hash, CRC32 checksum, 100-continue)', async () => {
    const out = await boto3(
      s3,
      `
body = bytes(range(256)) * 4096
put = s3.put_object(Bucket=args['bucket'], Key='roundtrip/a b+c.bin', Body=body, ContentType='application/octet-stream', ChecksumAlgorithm='CRC32')
got = s3.get_object(Bucket=args['bucket'], Key='roundtrip/a b+c.bin')
data = got['Body'].read()
listed = s3.list_objects_v2(Bucket=args['bucket'], Prefix='roundtrip/')
print(json.dumps({'same': data == body, 'etag': put['ETag'], 'length': len(data),
  'keys': [o['Key'] for o in listed.get('Contents', [])]}))
`,
      { bucket: BUCKET },
    );
    const result = JSON.parse(out) as { same: boolean; etag: string; length: number; keys: string[] };
    expect(result).toMatchObject({ same: true, length: 256 * 4096, keys: ['roundtrip/a b+c.bin'] });
    const stored = await s3.headObject(BUCKET, 'roundtrip/a b+c.bin');
    expect(stored?.etag).toBe(result.etag);
    expect(stored?.checksums.crc32).toBeDefined();
    const put = s3.requests.find((r) => r.operation === 'PutObject' && r.key === 'roundtrip/a b+c.bin');
    expect(put?.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('surfaces SignatureDoesNotMatch to boto3 for a wrong secret', async () => {
    const out = await boto3(
      s3,
      `
bad = boto3.client('s3', endpoint_url=args['endpoint'], region_name='us-east-1',
  aws_access_key_id=args['akid'], aws_secret_access_key='wrong',
  config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try:
  bad.put_object(Bucket=args['bucket'], Key='nope', Body=b'x')
  print('stored')
except Exception as e:
  print(e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode'])
`,
      { bucket: BUCKET },
    );
    expect(out).toBe('SignatureDoesNotMatch 403');
    expect(await s3.headObject(BUCKET, 'nope')).toBeUndefined();
  });
});
