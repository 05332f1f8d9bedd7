import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalS3, type LocalS3Credentials, startLocalS3 } from '../src/index.js';
import { encodeKey, s3Client, send, sendSigned, signedRequest } from './helpers.js';

const BUCKET = 'traces-bucket';
const KEY = 'traces/user-1/01JD4Q9Z6X.jsonl.gz';
const BODY = Buffer.from('gzip bytes, as far as S3 cares');

let s3: LocalS3;
beforeEach(async () => {
  s3 = await startLocalS3();
  await s3.createBucket(BUCKET);
});
afterEach(async () => {
  await s3.close();
});

/** A presigned PUT for KEY with Content-Type signed, as the orchestrator mints it. */
async function presignPut(
  client: S3Client = s3Client(s3),
  opts: { key?: string; expiresIn?: number; signingDate?: Date } = {},
): Promise<string> {
  return getSignedUrl(
    client,
    new PutObjectCommand({ Bucket: BUCKET, Key: opts.key ?? KEY, ContentType: 'application/gzip' }),
    {
      expiresIn: opts.expiresIn ?? 300,
      signableHeaders: new Set(['content-type']),
      ...(opts.signingDate ? { signingDate: opts.signingDate } : {}),
    },
  );
}

const putTo = (url: string, headers: Record<string, string> = { 'content-type': 'application/gzip' }) =>
  send(url, { method: 'PUT', headers, body: BODY });

async function expectNothingStored(): Promise<void> {
  expect(await s3.listObjects(BUCKET)).toEqual([]);
}

describe('presigned URLs', () => {
  it('accepts a valid presigned PUT and stores the body with its Content-Type', async () => {
    const answer = await putTo(await presignPut());
    expect(answer.status).toBe(200);
    expect(answer.headers.etag).toBe(`"${createHash('md5').update(BODY).digest('hex')}"`);
    const stored = await s3.getObject(BUCKET, KEY);
    expect(stored?.body.equals(BODY)).toBe(true);
    expect(stored?.contentType).toBe('application/gzip');
    expect(stored?.contentEncoding).toBeUndefined();
  });

  it('accepts a presigned GET', async () => {
    await putTo(await presignPut());
    const url = await getSignedUrl(s3Client(s3), new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
      expiresIn: 60,
    });
    const answer = await send(url);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe(BODY.toString());
  });

  it('refuses the URL for another key (SignatureDoesNotMatch) and stores nothing', async () => {
    const url = new URL(await presignPut());
    url.pathname = `/${BUCKET}/${encodeKey('traces/user-2/01JD4Q9Z6X.jsonl.gz')}`;
    const answer = await putTo(url.toString());
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
    await expectNothingStored();
  });

  it('refuses the URL for another bucket', async () => {
    const url = new URL(await presignPut());
    url.pathname = `/other-bucket/${encodeKey(KEY)}`;
    const answer = await putTo(url.toString());
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses a changed Content-Type when it was signed', async () => {
    const answer = await putTo(await presignPut(), { 'content-type': 'text/html' });
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
    await expectNothingStored();
  });

  it('refuses a tampered signature', async () => {
    const url = new URL(await presignPut());
    const signature = url.searchParams.get('X-Amz-Signature')!;
    url.searchParams.set(
      'X-Amz-Signature',
      `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
    );
    const answer = await putTo(url.toString());
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
    await expectNothingStored();
  });

  it('refuses a URL signed with the wrong secret', async () => {
    const wrong = s3Client(s3, { ...s3.credentials, secretAccessKey: 'not-the-secret' });
    const answer = await putTo(await presignPut(wrong));
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses a URL with an added query parameter', async () => {
    const answer = await putTo(`${await presignPut()}&extra=1`);
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses a PUT URL used for another method', async () => {
    const answer = await send(await presignPut(), { method: 'DELETE' });
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses an expired URL with AccessDenied "Request has expired"', async () => {
    const url = await presignPut(undefined, { expiresIn: 60, signingDate: new Date(Date.now() - 61_000) });
    const answer = await putTo(url);
    expect([answer.status, answer.code, answer.message]).toEqual([
      403,
      'AccessDenied',
      'Request has expired',
    ]);
    await expectNothingStored();
  });

  it('judges expiry by the server clock (the `now` option)', async () => {
    const start = Date.now();
    let now = start;
    const timed = await startLocalS3({ now: () => now });
    try {
      const url = await getSignedUrl(
        s3Client(timed),
        new PutObjectCommand({ Bucket: BUCKET, Key: KEY, ContentType: 'application/gzip' }),
        { expiresIn: 10, signableHeaders: new Set(['content-type']), signingDate: new Date(start) },
      );
      now = start + 9_000;
      expect((await putTo(url)).status).toBe(200);
      now = start + 11_000;
      expect((await putTo(url)).message).toBe('Request has expired');
    } finally {
      await timed.close();
    }
  });

  it('refuses an unknown access key with InvalidAccessKeyId', async () => {
    const stranger = s3Client(s3, { accessKeyId: 'AKIDNOTKNOWNHERE0000', secretAccessKey: 'whatever' });
    const answer = await putTo(await presignPut(stranger));
    expect([answer.status, answer.code]).toEqual([403, 'InvalidAccessKeyId']);
  });

  it('refuses X-Amz-Expires beyond a week', async () => {
    const url = new URL(await presignPut());
    url.searchParams.set('X-Amz-Expires', '604801');
    const answer = await putTo(url.toString());
    expect([answer.status, answer.code]).toEqual([400, 'AuthorizationQueryParametersError']);
  });

  it('refuses a URL scoped to another region', async () => {
    const elsewhere = new S3Client({
      endpoint: s3.endpoint,
      region: 'eu-west-1',
      credentials: s3.credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const answer = await putTo(await presignPut(elsewhere));
    expect([answer.status, answer.code]).toEqual([400, 'AuthorizationQueryParametersError']);
  });

  it('refuses x-amz-* headers that were not signed, as S3 does', async () => {
    const answer = await putTo(await presignPut(), {
      'content-type': 'application/gzip',
      'x-amz-checksum-sha256': createHash('sha256').update(BODY).digest('base64'),
    });
    expect([answer.status, answer.code]).toEqual([403, 'AccessDenied']);
    expect(answer.body).toContain('<HeadersNotSigned>x-amz-checksum-sha256</HeadersNotSigned>');
  });

  it('rejects a non-empty body against the empty-body CRC32 the SDK signs by default (BadDigest)', async () => {
    // Without requestChecksumCalculation: 'WHEN_REQUIRED' the presigner puts the CRC32 of an empty
    // body in the URL; real S3 then rejects every non-empty upload. So does the local S3.
    const defaults = s3Client(s3, s3.credentials, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
    const url = await presignPut(defaults);
    expect(url).toContain('x-amz-checksum-crc32=');
    const answer = await putTo(url);
    expect([answer.status, answer.code]).toEqual([400, 'BadDigest']);
    await expectNothingStored();
  });

  it('requires the session token of temporary credentials', async () => {
    const temporary: LocalS3Credentials = {
      accessKeyId: 'ASIALOCALTEMPORARY01',
      secretAccessKey: 'temporary-secret',
      sessionToken: 'session-token-1',
    };
    const server = await startLocalS3({ credentials: [temporary] });
    try {
      const ok = await presignPut(s3Client(server, temporary));
      expect(new URL(ok).searchParams.get('X-Amz-Security-Token')).toBe('session-token-1');
      expect((await putTo(ok)).status).toBe(200);
      const noToken = await presignPut(s3Client(server, { ...temporary, sessionToken: undefined }));
      expect(await putTo(noToken)).toMatchObject({ status: 403, code: 'InvalidToken' });
      const wrongToken = await presignPut(
        s3Client(server, { ...temporary, sessionToken: 'session-token-2' }),
      );
      expect(await putTo(wrongToken)).toMatchObject({ status: 403, code: 'InvalidToken' });
    } finally {
      await server.close();
    }
  });

  it('refuses URLs signed with temporary credentials once they expired (ExpiredToken)', async () => {
    const temporary: LocalS3Credentials = {
      accessKeyId: 'ASIALOCALTEMPORARY01',
      secretAccessKey: 'temporary-secret',
      sessionToken: 'session-token-1',
      expiresAt: new Date(Date.now() - 1000),
    };
    const server = await startLocalS3({ credentials: [temporary] });
    try {
      const answer = await putTo(await presignPut(s3Client(server, temporary)));
      expect([answer.status, answer.code]).toEqual([400, 'ExpiredToken']);
    } finally {
      await server.close();
    }
  });
});

describe('Authorization header', () => {
  it('refuses an unsigned request with AccessDenied', async () => {
    const answer = await send(s3.objectUrl(BUCKET, KEY), { method: 'PUT', body: BODY });
    expect([answer.status, answer.code]).toEqual([403, 'AccessDenied']);
    await expectNothingStored();
  });

  it('accepts a request signed with a literal payload hash', async () => {
    const signed = await signedRequest(s3, { method: 'PUT', bucket: BUCKET, key: KEY, body: BODY });
    expect(signed.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(BODY).digest('hex'));
    expect((await sendSigned(signed, 'PUT')).status).toBe(200);
  });

  it('refuses a body that does not match the signed payload hash', async () => {
    const signed = await signedRequest(s3, { method: 'PUT', bucket: BUCKET, key: KEY, body: BODY });
    const answer = await sendSigned(
      { ...signed, body: Buffer.from('another body, same length!!!!!!') },
      'PUT',
    );
    expect([answer.status, answer.code]).toEqual([400, 'XAmzContentSHA256Mismatch']);
    await expectNothingStored();
  });

  it('accepts UNSIGNED-PAYLOAD', async () => {
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: KEY,
      body: BODY,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect((await sendSigned(signed, 'PUT')).status).toBe(200);
  });

  it('refuses a tampered signature', async () => {
    const signed = await signedRequest(s3, { method: 'PUT', bucket: BUCKET, key: KEY, body: BODY });
    const authorization = signed.headers.authorization!;
    const flipped = authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const answer = await sendSigned(
      { ...signed, headers: { ...signed.headers, authorization: flipped } },
      'PUT',
    );
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses a changed signed header', async () => {
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: KEY,
      body: BODY,
      headers: { 'content-type': 'application/gzip' },
    });
    const answer = await sendSigned(
      { ...signed, headers: { ...signed.headers, 'content-type': 'application/json' } },
      'PUT',
    );
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses a signed request sent to another key', async () => {
    const signed = await signedRequest(s3, { method: 'PUT', bucket: BUCKET, key: KEY, body: BODY });
    const answer = await sendSigned(
      { ...signed, url: s3.objectUrl(BUCKET, 'traces/user-2/x.jsonl.gz') },
      'PUT',
    );
    expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('refuses the wrong secret and unknown keys through the AWS SDK', async () => {
    const wrong = s3Client(s3, { ...s3.credentials, secretAccessKey: 'nope' }, { maxAttempts: 1 });
    await expect(
      wrong.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY })),
    ).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    const stranger = s3Client(
      s3,
      { accessKeyId: 'AKIDNOTKNOWNHERE0000', secretAccessKey: 'x' },
      { maxAttempts: 1 },
    );
    await expect(
      stranger.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY })),
    ).rejects.toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
    await expectNothingStored();
  });

  it('refuses a request signed too far from the server clock (RequestTimeTooSkewed)', async () => {
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: KEY,
      body: BODY,
      signingDate: new Date(Date.now() - 16 * 60_000),
    });
    const answer = await sendSigned(signed, 'PUT');
    expect([answer.status, answer.code]).toEqual([403, 'RequestTimeTooSkewed']);
  });

  it('refuses a signature scoped to another region (AuthorizationHeaderMalformed)', async () => {
    const signed = await signedRequest(s3, { method: 'GET', bucket: BUCKET, key: KEY, region: 'eu-west-1' });
    const answer = await sendSigned(signed, 'GET');
    expect([answer.status, answer.code]).toEqual([400, 'AuthorizationHeaderMalformed']);
  });
});

describe('key-scoped credentials', () => {
  const scoped: LocalS3Credentials = {
    accessKeyId: 'LOCALSCOPEDUSER00001',
    secretAccessKey: 'scoped-secret',
    keyPrefixes: ['traces/user-1/'],
  };

  it('lets a key write and list only under its prefixes', async () => {
    const server = await startLocalS3({ credentials: [{ ...s3.credentials }, scoped] });
    try {
      const client = s3Client(server, scoped, { maxAttempts: 1 });
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY }));
      await expect(
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'traces/user-2/t.jsonl.gz', Body: BODY })),
      ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      expect((await server.listObjects(BUCKET)).map((o) => o.key)).toEqual([KEY]);
    } finally {
      await server.close();
    }
  });
});
