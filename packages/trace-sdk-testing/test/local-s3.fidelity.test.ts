/**
 * Where a lenient local S3 would let a consumer's test pass that real S3 fails: repeated auth
 * parameters, the object headers and user metadata S3 stores, signed metadata a presigned PUT must
 * carry unchanged, and malformed XML.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../src/index.js';
import { unescapeXml } from '../src/local-s3/xml.js';
import { s3Client, send, sendSigned, signedRequest } from './helpers.js';

const BUCKET = 'fidelity';
const KEY = 'traces/user-1/01JD4Q9Z6X.jsonl.gz';
const BODY = Buffer.from('gzip bytes, as far as S3 cares');

let s3: LocalS3;
let client: S3Client;
beforeEach(async () => {
  s3 = await startLocalS3();
  await s3.createBucket(BUCKET);
  client = s3Client(s3, s3.credentials, { maxAttempts: 1 });
});
afterEach(async () => {
  client.destroy();
  await s3.close();
});

/** A presigned PUT for KEY with Content-Type signed; `metadataAsHeaders` keeps x-amz-meta-* out of the query. */
function presignPut(metadata: Record<string, string>, metadataAsHeaders = false): Promise<string> {
  return getSignedUrl(
    client,
    new PutObjectCommand({ Bucket: BUCKET, Key: KEY, ContentType: 'application/gzip', Metadata: metadata }),
    {
      expiresIn: 300,
      signableHeaders: new Set(['content-type']),
      ...(metadataAsHeaders
        ? { unhoistableHeaders: new Set(Object.keys(metadata).map((name) => `x-amz-meta-${name}`)) }
        : {}),
    },
  );
}

const putTo = (url: string, headers: Record<string, string> = {}) =>
  send(url, { method: 'PUT', headers: { 'content-type': 'application/gzip', ...headers }, body: BODY });

describe('repeated presigned auth parameters', () => {
  const authParameters = [
    'X-Amz-Signature',
    'X-Amz-Credential',
    'X-Amz-Date',
    'X-Amz-Expires',
    'X-Amz-SignedHeaders',
    'X-Amz-Algorithm',
  ];
  for (const name of authParameters) {
    it(`refuses ${name} given twice (400 AuthorizationQueryParametersError) and stores nothing`, async () => {
      const url = new URL(await presignPut({}));
      // The valid value stays first: a server that takes the first would accept this URL.
      url.searchParams.append(name, url.searchParams.get(name)!);
      const answer = await putTo(url.toString());
      expect([answer.status, answer.code, answer.message]).toEqual([
        400,
        'AuthorizationQueryParametersError',
        `Query-string authentication parameters must each appear once; repeated: ${name}.`,
      ]);
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });
  }

  it('refuses a repeated X-Amz-Security-Token of temporary credentials', async () => {
    const temporary = { accessKeyId: 'ASIALOCALTEMP0001', secretAccessKey: 'tmp', sessionToken: 'tok-1' };
    const server = await startLocalS3({ credentials: [temporary] });
    const c = s3Client(server, temporary);
    try {
      const url = new URL(
        await getSignedUrl(c, new PutObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 }),
      );
      url.searchParams.append('X-Amz-Security-Token', 'tok-1');
      const answer = await send(url.toString(), { method: 'PUT', body: BODY });
      expect([answer.status, answer.code]).toEqual([400, 'AuthorizationQueryParametersError']);
    } finally {
      c.destroy();
      await server.close();
    }
  });
});

describe('object headers S3 stores', () => {
  const sent = {
    ContentType: 'application/gzip',
    ContentDisposition: 'attachment; filename="trace.jsonl.gz"',
    CacheControl: 'private, max-age=60',
    ContentLanguage: 'en-GB',
    Expires: new Date('2030-01-02T03:04:05Z'),
  };

  it('keeps Content-Disposition, Cache-Control, Content-Language and Expires, returning them on GET and HEAD', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY, ...sent }));
    for (const got of [
      await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY })),
      await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY })),
    ]) {
      expect({
        ContentType: got.ContentType,
        ContentDisposition: got.ContentDisposition,
        CacheControl: got.CacheControl,
        ContentLanguage: got.ContentLanguage,
        Expires: got.Expires,
      }).toEqual(sent);
    }
    expect(await s3.headObject(BUCKET, KEY)).toMatchObject({
      contentDisposition: sent.ContentDisposition,
      cacheControl: sent.CacheControl,
      contentLanguage: sent.ContentLanguage,
      expires: 'Wed, 02 Jan 2030 03:04:05 GMT',
    });
  });

  it('omits them when the writer sent none', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY }));
    const got = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expect([got.ContentDisposition, got.CacheControl, got.ContentLanguage, got.Expires]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('keeps them through a multipart upload and across a restart on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-s3-fidelity-'));
    try {
      const first = await startLocalS3({ dir });
      const c = s3Client(first);
      const { UploadId } = await c.send(
        new CreateMultipartUploadCommand({
          Bucket: BUCKET,
          Key: KEY,
          ...sent,
          Metadata: { Operator: 'alice' },
        }),
      );
      const part = await c.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: KEY, UploadId, PartNumber: 1, Body: BODY }),
      );
      await c.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: KEY,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
        }),
      );
      c.destroy();
      await first.close();
      const second = await startLocalS3({ dir });
      try {
        expect(await second.headObject(BUCKET, KEY)).toMatchObject({
          contentDisposition: sent.ContentDisposition,
          cacheControl: sent.CacheControl,
          contentLanguage: sent.ContentLanguage,
          expires: 'Wed, 02 Jan 2030 03:04:05 GMT',
          metadata: { operator: 'alice' },
        });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('user metadata (x-amz-meta-*)', () => {
  it('lowercases names, keeps values as sent, and returns them on GET and HEAD', async () => {
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: KEY,
        Body: BODY,
        Metadata: { 'Trace-Operator': 'Alice Example', 'session-ID': 'S-1/2=3' },
      }),
    );
    const expected = { 'trace-operator': 'Alice Example', 'session-id': 'S-1/2=3' };
    expect((await s3.headObject(BUCKET, KEY))?.metadata).toEqual(expected);
    expect((await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))).Metadata).toEqual(
      expected,
    );
    expect((await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).Metadata).toEqual(
      expected,
    );
  });

  it('returns non-ASCII values RFC 2047-encoded, as S3 does, instead of failing the GET', async () => {
    const url = await presignPut({ operator: 'Zoë €' });
    expect((await putTo(url)).status).toBe(200);
    expect((await s3.headObject(BUCKET, KEY))?.metadata).toEqual({ operator: 'Zoë €' });
    const got = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expect(got.Metadata).toEqual({ operator: `=?UTF-8?B?${Buffer.from('Zoë €').toString('base64')}?=` });
  });

  it('reads UTF-8 metadata header bytes as UTF-8', async () => {
    // On the wire the header carries the UTF-8 bytes; Node hands them over one char per byte.
    const wire = Buffer.from('Zürich', 'utf8').toString('latin1');
    const signed = await signedRequest(s3, {
      method: 'PUT',
      bucket: BUCKET,
      key: KEY,
      body: BODY,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-city': wire },
    });
    expect((await sendSigned(signed, 'PUT')).status).toBe(200);
    expect((await s3.headObject(BUCKET, KEY))?.metadata).toEqual({ city: 'Zürich' });
  });

  it('refuses more than 2 KB of metadata (400 MetadataTooLarge) and stores nothing', async () => {
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY, Metadata: { big: 'x'.repeat(2048) } }),
      ),
    ).rejects.toMatchObject({ name: 'MetadataTooLarge', $metadata: { httpStatusCode: 400 } });
    expect(await s3.listObjects(BUCKET)).toEqual([]);
  });

  describe('signed into a presigned PUT as headers (unhoistable)', () => {
    const metadata = { operator: 'alice', 'session-id': 'sess-1' };

    it('stores the metadata when the PUT carries exactly the signed values', async () => {
      const url = await presignPut(metadata, true);
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('x-amz-meta-operator');
      const answer = await putTo(url, { 'x-amz-meta-operator': 'alice', 'x-amz-meta-session-id': 'sess-1' });
      expect(answer.status).toBe(200);
      expect((await s3.headObject(BUCKET, KEY))?.metadata).toEqual(metadata);
    });

    it('refuses a PUT that drops a signed metadata header (403 SignatureDoesNotMatch)', async () => {
      const answer = await putTo(await presignPut(metadata, true), { 'x-amz-meta-session-id': 'sess-1' });
      expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });

    it('refuses a PUT that alters a signed metadata header (403 SignatureDoesNotMatch)', async () => {
      const answer = await putTo(await presignPut(metadata, true), {
        'x-amz-meta-operator': 'mallory',
        'x-amz-meta-session-id': 'sess-1',
      });
      expect([answer.status, answer.code]).toEqual([403, 'SignatureDoesNotMatch']);
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });

    it('refuses a PUT that adds an unsigned metadata header (403 AccessDenied, HeadersNotSigned)', async () => {
      const answer = await putTo(await presignPut(metadata, true), {
        'x-amz-meta-operator': 'alice',
        'x-amz-meta-session-id': 'sess-1',
        'x-amz-meta-claimed-by': 'mallory',
      });
      expect([answer.status, answer.code]).toEqual([403, 'AccessDenied']);
      expect(answer.body).toContain('<HeadersNotSigned>x-amz-meta-claimed-by</HeadersNotSigned>');
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });
  });

  describe('signed into a presigned PUT as query parameters (the AWS SDK default)', () => {
    const metadata = { Operator: 'alice' };

    it('stores the metadata from the URL without any header, as S3 does', async () => {
      const url = await presignPut(metadata);
      expect(new URL(url).searchParams.get('x-amz-meta-operator')).toBe('alice');
      expect((await putTo(url)).status).toBe(200);
      expect((await s3.headObject(BUCKET, KEY))?.metadata).toEqual({ operator: 'alice' });
    });

    it('refuses a URL whose metadata parameter was removed or changed (403 SignatureDoesNotMatch)', async () => {
      const removed = new URL(await presignPut(metadata));
      removed.searchParams.delete('x-amz-meta-operator');
      const changed = new URL(await presignPut(metadata));
      changed.searchParams.set('x-amz-meta-operator', 'mallory');
      for (const url of [removed, changed]) {
        const answer = await putTo(url.toString());
        expect([answer.status, answer.code], url.search).toEqual([403, 'SignatureDoesNotMatch']);
      }
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });

    it('refuses an unsigned metadata header next to it (403 AccessDenied)', async () => {
      const answer = await putTo(await presignPut(metadata), { 'x-amz-meta-operator': 'mallory' });
      expect([answer.status, answer.code]).toEqual([403, 'AccessDenied']);
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });
  });
});

describe('malformed XML', () => {
  const completeWith = async (etag: string) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: KEY }));
    await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: KEY, UploadId, PartNumber: 1, Body: BODY }),
    );
    const signed = await getSignedUrl(
      client,
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: KEY, UploadId }),
      { expiresIn: 60 },
    );
    const xml = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
    return send(signed, { method: 'POST', body: xml });
  };

  for (const [what, etag] of [
    ['a character reference beyond Unicode', '&#x110000;'],
    ['a decimal reference beyond Unicode', '&#99999999999;'],
    ['a reference to a character XML forbids', '&#0;'],
    ['an unknown entity', '&nbsp;'],
    ['a bare ampersand', 'a&b'],
  ] as const) {
    it(`answers 400 MalformedXML (not a crash) for ${what} in CompleteMultipartUpload`, async () => {
      const answer = await completeWith(etag);
      expect([answer.status, answer.code]).toEqual([400, 'MalformedXML']);
      expect(await s3.listObjects(BUCKET)).toEqual([]);
    });
  }

  it('decodes the references S3 accepts', () => {
    expect(unescapeXml('&quot;a&amp;b&#x41;&#66;&lt;&gt;&apos;&quot;')).toBe('"a&bAB<>\'"');
    expect(unescapeXml('&#x1F600;')).toBe('😀');
    expect(unescapeXml('&#xD800;')).toBeUndefined();
  });
});
