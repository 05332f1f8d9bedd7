/**
 * SigV4 building blocks for the verifier: the canonical signer (the AWS SDK's own
 * `@smithy/signature-v4`, opened up to rebuild the signature a request should carry), and the
 * parsing of the credential scope and signing date, and constant-time comparison.
 *
 * @packageDocumentation
 */
import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { HttpRequest } from '@smithy/protocol-http';
import { ALGORITHM_IDENTIFIER, getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';
import type { LocalS3Credentials } from './sigv4-verify.js';

export const HEX_SHA256 = /^[0-9a-f]{64}$/;
const LONG_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** An `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`) as a date; `undefined` when malformed. */
export function parseLongDate(value: string | undefined): Date | undefined {
  const m = value === undefined ? null : LONG_DATE.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** String equality in time independent of where they differ (for signatures). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The first value of a query parameter. */
export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The signer, opened up only to reuse its canonical-request and string-to-sign steps. */
export class CanonicalSigner extends SignatureV4 {
  constructor(credentials: LocalS3Credentials, region: string) {
    super({
      service: 's3',
      region,
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
      sha256: Sha256,
      // S3 signs the path as sent (encoded once), unlike other services.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  async expected(
    request: HttpRequest,
    signedHeaders: readonly string[],
    payloadHash: string,
    signingDate: Date,
    scope: string,
    region: string,
  ): Promise<{ signature: string; canonicalRequest: string; stringToSign: string }> {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(signedHeaders));
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const { longDate } = this.formatDate(signingDate);
    const stringToSign = await this.createStringToSign(
      longDate,
      scope,
      canonicalRequest,
      ALGORITHM_IDENTIFIER,
    );
    const signature = await this.sign(stringToSign, {
      signingDate,
      signingRegion: region,
      signingService: 's3',
    });
    return { signature, canonicalRequest, stringToSign };
  }
}

/** The credential scope `<key id>/<date>/<region>/<service>/aws4_request`, split. */
export interface ParsedCredential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly scope: string;
}

/** Splits a credential scope; `undefined` when it is not one. */
export function parseCredential(value: string): ParsedCredential | undefined {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return undefined;
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (accessKeyId === '' || !/^\d{8}$/.test(date)) return undefined;
  return { accessKeyId, date, region, service, scope: parts.slice(1).join('/') };
}
