/** Test helpers: clients and signers pointed at a local S3. */
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { request } from 'undici';
import type { LocalS3, LocalS3Credentials } from '../src/index.js';

/** An S3 client for the local server; checksums only when required, as the orchestrator configures it. */
export function s3Client(
  s3: LocalS3,
  credentials: LocalS3Credentials = s3.credentials,
  extra = {},
): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { ...credentials },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...extra,
  });
}

/** A response as the tests look at it. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** `<Code>` of an S3 error body. */
  code: string | undefined;
  /** `<Message>` of an S3 error body. */
  message: string | undefined;
}

/** Sends a request with undici and reads the S3 error code if any. */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Uint8Array } = {},
): Promise<Answer> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers,
    body: init.body,
  });
  const body = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    body,
    code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1],
  };
}

/** Encodes a key for a path the way the AWS SDK does (each segment, slashes kept). */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * Signs a request with an Authorization header using @smithy/signature-v4, then lets the test
 * change it before sending (to prove the server notices).
 */
export async function signedRequest(
  s3: LocalS3,
  opts: {
    method: string;
    bucket: string;
    key?: string;
    body?: Buffer;
    headers?: Record<string, string>;
    query?: Record<string, string>;
    credentials?: LocalS3Credentials;
    signingDate?: Date;
    region?: string;
  },
): Promise<{ url: string; headers: Record<string, string>; body: Buffer | undefined }> {
  const credentials = opts.credentials ?? s3.credentials;
  const signer = new SignatureV4({
    service: 's3',
    region: opts.region ?? s3.region,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
    },
    sha256: Sha256,
    uriEscapePath: false,
  });
  const path = `/${opts.bucket}${opts.key === undefined ? '' : `/${encodeKey(opts.key)}`}`;
  const host = `127.0.0.1:${s3.port}`;
  const signed = await signer.sign(
    new HttpRequest({
      method: opts.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: s3.port,
      path,
      query: opts.query ?? {},
      headers: { host, ...(opts.headers ?? {}) },
      body: opts.body,
    }),
    { signingDate: opts.signingDate ?? new Date() },
  );
  const search = new URLSearchParams(opts.query ?? {}).toString().replaceAll('+', '%20');
  return {
    url: `${s3.endpoint}${path}${search === '' ? '' : `?${search}`}`,
    headers: signed.headers as Record<string, string>,
    body: opts.body,
  };
}

/** Sends what {@link signedRequest} produced, without the `host` header (undici sets the same). */
export async function sendSigned(
  signed: { url: string; headers: Record<string, string>; body: Buffer | undefined },
  method: string,
): Promise<Answer> {
  const { host: _host, ...headers } = signed.headers;
  return send(signed.url, { method, headers, body: signed.body });
}
