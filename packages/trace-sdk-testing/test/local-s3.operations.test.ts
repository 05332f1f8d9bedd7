import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../src/index.js';
import { s3Client, send, sendSigned, signedRequest } from './helpers.js';

const BUCKET = 'ops';
let s3: LocalS3;
let client: S3Client;
beforeEach(async () => {
  s3 = await startLocalS3();
  client = s3Client(s3, s3.credentials, { maxAttempts: 1 });
});
afterEach(async () => {
  await s3.close();
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('objects', () => {
  it('creates buckets on first write and round-trips bytes, Content-Type and metadata without adding Content-Encoding', async () => {
    const body = Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]);
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'a/b.gz',
        Body: body,
        ContentType: 'application/gzip',
        Metadata: { owner: 'u1' },
      }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a/b.gz' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.ContentType).toBe('application/gzip');
    expect(got.ContentEncoding).toBeUndefined();
    expect(got.Metadata).toEqual({ owner: 'u1' });
    expect(got.ETag).toBe(`"${md5(body)}"`);
  });

  it('strips aws-chunked from the stored encoding and verifies the streamed CRC32 trailer', async () => {
    const defaults = s3Client(s3, s3.credentials, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
    const body = Buffer.alloc(100_000, 3);
    await defaults.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'streamed',
        Body: Readable.from([body]),
        ContentLength: body.length,
      }),
    );
    const request = s3.requests.find((r) => r.operation === 'PutObject')!;
    expect(request.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const stored = await s3.getObject(BUCKET, 'streamed');
    expect(stored?.body.equals(body)).toBe(true);
    expect(stored?.contentEncoding).toBeUndefined();
    expect(stored?.checksums.crc32).toBeDefined();
    // The SDK validates the returned checksum when asked for it.
    const got = await defaults.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'streamed', ChecksumMode: 'ENABLED' }),
    );
    expect(got.ChecksumCRC32).toBe(stored?.checksums.crc32);
    expect((await got.Body!.transformToByteArray()).length).toBe(body.length);
  });

  it('serves HeadObject, ranges, 404 NoSuchKey and DeleteObject', async () => {
    const body = Buffer.from('0123456789');
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'r', Body: body }));
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'r' }));
    expect(head.ContentLength).toBe(10);
    const range = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'r', Range: 'bytes=2-4' }));
    expect(await range.Body!.transformToString()).toBe('234');
    expect(range.ContentRange).toBe('bytes 2-4/10');
    const suffix = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'r', Range: 'bytes=-3' }));
    expect(await suffix.Body!.transformToString()).toBe('789');
    await expect(
      client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'r', Range: 'bytes=20-' })),
    ).rejects.toMatchObject({ name: 'InvalidRange' });
    await expect(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'missing' }))).rejects.toMatchObject(
      {
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      },
    );
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'r' }));
    expect(await s3.headObject(BUCKET, 'r')).toBeUndefined();
  });

  it('answers NoSuchBucket for reads of a missing bucket, and for writes when auto-creation is off', async () => {
    await expect(client.send(new GetObjectCommand({ Bucket: 'nope', Key: 'k' }))).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
    const strict = await startLocalS3({ autoCreateBuckets: false });
    try {
      const c = s3Client(strict, strict.credentials, { maxAttempts: 1 });
      await expect(c.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }))).rejects.toMatchObject({
        name: 'NoSuchBucket',
      });
      await strict.createBucket('b');
      await c.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
      expect((await strict.listObjects('b')).map((o) => o.key)).toEqual(['k']);
    } finally {
      await strict.close();
    }
  });

  it('refuses a PUT without a length (411 MissingContentLength), as S3 does', async () => {
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: 'k',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const { host: _h, ...headers } = signed.headers;
    const answer = await send(signed.url, {
      method: 'PUT',
      headers,
      body: Readable.from([Buffer.from('abc')]) as never,
    });
    expect([answer.status, answer.code]).toEqual([411, 'MissingContentLength']);
  });

  it('honours If-None-Match: * (conditional create)', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'once', Body: 'first' }));
    await expect(
      client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'once', Body: 'second', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    expect((await s3.getObject(BUCKET, 'once'))?.body.toString()).toBe('first');
  });
});

describe('checksums', () => {
  const body = Buffer.from('checksummed body');
  const cases = [
    ['x-amz-checksum-sha256', createHash('sha256').update('other').digest('base64')],
    ['x-amz-checksum-crc32', 'AAAAAA=='],
    ['x-amz-checksum-crc32c', 'AAAAAA=='],
    ['x-amz-checksum-sha1', createHash('sha1').update('other').digest('base64')],
    ['content-md5', createHash('md5').update('other').digest('base64')],
  ] as const;
  for (const [name, wrong] of cases) {
    it(`refuses a body that does not match ${name} (400 BadDigest) and stores nothing`, async () => {
      const signed = await signedRequest(s3, {
        method: 'PUT',
        bucket: BUCKET,
        key: 'c',
        body,
        headers: { [name]: wrong },
      });
      const answer = await sendSigned(signed, 'PUT');
      expect([answer.status, answer.code]).toEqual([400, 'BadDigest']);
      expect(await s3.headObject(BUCKET, 'c')).toBeUndefined();
    });
  }

  it('accepts matching checksums of every verified algorithm, and ignores unknown ones', async () => {
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: 'c',
      body,
      headers: {
        'x-amz-checksum-sha256': createHash('sha256').update(body).digest('base64'),
        'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=',
        'content-md5': createHash('md5').update(body).digest('base64'),
      },
    });
    expect((await sendSigned(signed, 'PUT')).status).toBe(200);
    expect(Object.keys((await s3.headObject(BUCKET, 'c'))!.checksums)).toEqual(['sha256']);
  });

  it('computes CRC32C like the AWS SDK does', async () => {
    const c = s3Client(s3, s3.credentials, { maxAttempts: 1 });
    await c.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'c32c', Body: body, ChecksumAlgorithm: 'CRC32C' }),
    );
    expect((await s3.headObject(BUCKET, 'c32c'))?.checksums.crc32c).toBeDefined();
  });

  it('refuses an aws-chunked body whose trailing checksum does not match', async () => {
    const payload = Buffer.from('abc');
    const framed = Buffer.from(`3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`);
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: 'chunked',
      body: framed,
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(payload.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    });
    const answer = await sendSigned(signed, 'PUT');
    expect([answer.status, answer.code]).toEqual([400, 'BadDigest']);
    expect(await s3.headObject(BUCKET, 'chunked')).toBeUndefined();
  });
});

describe('ListObjectsV2', () => {
  beforeEach(async () => {
    for (const key of ['a/1', 'a/2', 'a/3', 'b/1', 'b/sub/2', 'c']) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
  });

  it('pages with max-keys and continuation tokens', async () => {
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 2, ContinuationToken: token }),
      );
      pages.push((page.Contents ?? []).map((c) => c.Key!));
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    expect(pages).toEqual([
      ['a/1', 'a/2'],
      ['a/3', 'b/1'],
      ['b/sub/2', 'c'],
    ]);
  });

  it('filters by prefix and rolls up common prefixes with a delimiter', async () => {
    const byPrefix = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'b/' }));
    expect(byPrefix.Contents?.map((c) => c.Key)).toEqual(['b/1', 'b/sub/2']);
    const rolled = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }));
    expect(rolled.Contents?.map((c) => c.Key)).toEqual(['c']);
    expect(rolled.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'b/']);
  });

  it('starts after a key and refuses a forged continuation token', async () => {
    const after = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, StartAfter: 'b/1' }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(['b/sub/2', 'c']);
    await expect(
      client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: '!!not-a-token' })),
    ).rejects.toMatchObject({ name: 'InvalidArgument' });
  });
});

describe('multipart uploads', () => {
  it('assembles a lib-storage upload, with an md5-of-md5s-N ETag', async () => {
    const body = Buffer.alloc(11 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
    const upload = new Upload({
      client,
      params: { Bucket: BUCKET, Key: 'big.gz', Body: Readable.from([body]), ContentType: 'application/gzip' },
      partSize: 5 * 1024 * 1024,
    });
    const done = await upload.done();
    const parts = [body.subarray(0, 5 << 20), body.subarray(5 << 20, 10 << 20), body.subarray(10 << 20)];
    const expected = createHash('md5')
      .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
      .digest('hex');
    expect(done.ETag).toBe(`"${expected}-3"`);
    const stored = await s3.getObject(BUCKET, 'big.gz');
    expect(stored?.body.equals(body)).toBe(true);
    expect(stored).toMatchObject({ contentType: 'application/gzip', partsCount: 3 });
    expect(s3.requests.filter((r) => r.stored).map((r) => r.operation)).toEqual(['CompleteMultipartUpload']);
  });

  it('enforces part order, part ETags and the 5 MiB minimum part size', async () => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp' }));
    const one = await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'mp',
        UploadId,
        PartNumber: 1,
        Body: Buffer.from('small'),
      }),
    );
    const two = await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: 'mp',
        UploadId,
        PartNumber: 2,
        Body: Buffer.from('tail'),
      }),
    );
    const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'mp',
          UploadId,
          MultipartUpload: { Parts },
        }),
      );
    await expect(
      complete([
        { PartNumber: 2, ETag: two.ETag! },
        { PartNumber: 1, ETag: one.ETag! },
      ]),
    ).rejects.toMatchObject({ name: 'InvalidPartOrder' });
    await expect(complete([{ PartNumber: 1, ETag: '"0000"' }])).rejects.toMatchObject({
      name: 'InvalidPart',
    });
    await expect(
      complete([
        { PartNumber: 1, ETag: one.ETag! },
        { PartNumber: 2, ETag: two.ETag! },
      ]),
    ).rejects.toMatchObject({ name: 'EntityTooSmall' });
    // A single (last) part may be small.
    await complete([{ PartNumber: 1, ETag: one.ETag! }]);
    expect((await s3.getObject(BUCKET, 'mp'))?.body.toString()).toBe('small');
  });

  it('aborts an upload: no object, and the upload id is gone', async () => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'gone' }));
    await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: 'gone', UploadId, PartNumber: 1, Body: 'x' }),
    );
    await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'gone', UploadId }));
    await expect(
      client.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'gone', UploadId, PartNumber: 2, Body: 'y' })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } });
    expect(await s3.listObjects(BUCKET)).toEqual([]);
  });
});

describe('disk store', () => {
  it('keeps bodies under dir and reloads them in the next server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-s3-'));
    try {
      const first = await startLocalS3({ dir });
      const c = s3Client(first);
      await c.send(
        new PutObjectCommand({
          Bucket: 'd',
          Key: 'traces/u/t.jsonl.gz',
          Body: 'persisted',
          ContentType: 'application/gzip',
        }),
      );
      await first.close();
      const second = await startLocalS3({ dir });
      try {
        const stored = await second.getObject('d', 'traces/u/t.jsonl.gz');
        expect(stored).toMatchObject({ contentType: 'application/gzip', size: 9 });
        expect(stored?.body.toString()).toBe('persisted');
        await second.reset();
        expect(await second.listObjects('d')).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('in-memory store', () => {
  it('copes with a 200 MB body streamed through a presigned-style PUT', async () => {
    const size = 200 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 0x5a);
    const hash = createHash('md5');
    async function* body() {
      for (let sent = 0; sent < size; sent += chunk.length) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: 'huge',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(size) },
    });
    const { host: _h, ...headers } = signed.headers;
    const answer = await send(signed.url, { method: 'PUT', headers, body: Readable.from(body()) as never });
    expect(answer.status).toBe(200);
    expect(answer.headers.etag).toBe(`"${hash.digest('hex')}"`);
    expect((await s3.headObject(BUCKET, 'huge'))?.size).toBe(size);
  });
});
