/**
 * SigV4 verification as S3 does it, for `Authorization`-header requests and presigned query URLs.
 *
 * The canonical request is rebuilt from the request as received, over exactly the headers the
 * client listed in `SignedHeaders`, and signed with the secret of the access key named in the
 * credential scope (via `@smithy/signature-v4`, the AWS SDK's own signer); the signatures are then
 * compared in constant time. Expiry, clock skew, region, session tokens and unsigned `x-amz-*`
 * headers are checked as S3 checks them, with S3's error codes.
 *
 * @packageDocumentation
 */
import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { ALGORITHM_IDENTIFIER, getCanonicalHeaders, SignatureV4 } from '@smithy/signature-v4';
import { S3Error, s3Errors } from './s3-error.js';

/** One access key the local S3 accepts. */
export interface LocalS3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /**
   * When set, requests must carry this `X-Amz-Security-Token` (as temporary credentials do);
   * otherwise a token is refused.
   */
  readonly sessionToken?: string | undefined;
  /** When set, requests signed with this key after this instant fail with `400 ExpiredToken`. */
  readonly expiresAt?: Date | undefined;
  /**
   * When set, this key may only read and write object keys starting with one of these prefixes
   * (and list within them), like an IAM policy scoped to `traces/<user_id>/*`; anything else is
   * `403 AccessDenied`.
   */
  readonly keyPrefixes?: readonly string[] | undefined;
}

/** How the body of a verified request is bound to its signature. */
export type PayloadBinding =
  /** `UNSIGNED-PAYLOAD` (presigned URLs, or a client that opted out). */
  | { readonly kind: 'unsigned' }
  /** A literal hex SHA-256 the body must match (`XAmzContentSHA256Mismatch` otherwise). */
  | { readonly kind: 'sha256'; readonly hex: string }
  /** `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: an aws-chunked body with checksum trailers. */
  | { readonly kind: 'streaming-trailer' };

/** A request whose signature checked out. */
export interface VerifiedRequest {
  readonly credentials: LocalS3Credentials;
  readonly mode: 'header' | 'presigned';
  readonly payload: PayloadBinding;
}

/** The parts of an HTTP request a signature covers. */
export interface RequestToVerify {
  readonly method: string;
  /** The path exactly as received (still percent-encoded), without the query. */
  readonly rawPath: string;
  /** Decoded query parameters; repeated names become arrays. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /** Headers with lowercased names, every received value kept (`IncomingMessage.headersDistinct`). */
  readonly headers: Readonly<Record<string, string[] | undefined>>;
}

/** Largest `X-Amz-Expires` S3 accepts: one week. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;
/** How far a request's signing time may be from the server's clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** The query parameters of a SigV4 presigned URL; each may appear only once. */
const AUTH_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'X-Amz-Content-Sha256',
]);

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const LONG_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseLongDate(value: string | undefined): Date | undefined {
  const m = value === undefined ? null : LONG_DATE.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The signer, opened up only to reuse its canonical-request and string-to-sign steps. */
class CanonicalSigner extends SignatureV4 {
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

interface ParsedCredential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly scope: string;
}

function parseCredential(value: string): ParsedCredential | undefined {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return undefined;
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (accessKeyId === '' || !/^\d{8}$/.test(date)) return undefined;
  return { accessKeyId, date, region, service, scope: parts.slice(1).join('/') };
}

/** Verifies SigV4 signatures against a fixed set of access keys. */
export class SigV4Verifier {
  readonly region: string;
  readonly #keys = new Map<string, { credentials: LocalS3Credentials; signer: CanonicalSigner }>();
  readonly #now: () => number;

  constructor(options: { credentials: readonly LocalS3Credentials[]; region: string; now: () => number }) {
    this.region = options.region;
    this.#now = options.now;
    for (const credentials of options.credentials) {
      this.#keys.set(credentials.accessKeyId, {
        credentials,
        signer: new CanonicalSigner(credentials, this.region),
      });
    }
  }

  /** Checks the request's signature; throws {@link S3Error} as S3 would answer. */
  async verify(request: RequestToVerify): Promise<VerifiedRequest> {
    const authorization = request.headers['authorization']?.[0];
    const presigned =
      request.query['X-Amz-Algorithm'] !== undefined || request.query['X-Amz-Signature'] !== undefined;
    if (authorization !== undefined && presigned) {
      throw s3Errors.invalidArgument(
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified',
      );
    }
    if (presigned) return this.#verifyPresigned(request);
    if (authorization !== undefined) return this.#verifyHeader(request, authorization);
    throw s3Errors.accessDenied();
  }

  async #verifyHeader(request: RequestToVerify, authorization: string): Promise<VerifiedRequest> {
    const malformed = (message: string, extra?: Record<string, string>) =>
      new S3Error(400, 'AuthorizationHeaderMalformed', message, extra);
    if (!authorization.startsWith(`${ALGORITHM_IDENTIFIER} `)) {
      throw s3Errors.invalidArgument(
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      );
    }
    const fields = new Map<string, string>();
    for (const part of authorization.slice(ALGORITHM_IDENTIFIER.length + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const credentialField = fields.get('Credential');
    const signedHeadersField = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    if (credentialField === undefined || signedHeadersField === undefined || signature === undefined) {
      throw malformed(
        'The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.',
      );
    }
    const credential = parseCredential(credentialField);
    if (credential === undefined) {
      throw malformed(
        'The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
      );
    }
    const key = this.#lookup(credential.accessKeyId);
    const dateHeader = request.headers['x-amz-date']?.[0];
    const signingDate = parseLongDate(dateHeader);
    if (signingDate === undefined) {
      throw s3Errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
    }
    if (dateHeader!.slice(0, 8) !== credential.date) {
      throw malformed(
        'The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.',
      );
    }
    this.#checkScope(credential, (message) => malformed(message, { Region: this.region }));
    const now = this.#now();
    if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
      throw new S3Error(
        403,
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
        {
          RequestTime: dateHeader!,
          ServerTime: new Date(now).toISOString(),
          MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
        },
      );
    }
    this.#checkToken(key.credentials, request.headers['x-amz-security-token']?.[0]);
    const signedHeaders = this.#signedHeaders(request, signedHeadersField);
    const payloadHash = request.headers['x-amz-content-sha256']?.[0];
    if (payloadHash === undefined) {
      throw s3Errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
    }
    const payload = this.#payloadBinding(payloadHash);
    await this.#compare(
      key.signer,
      request,
      request.query,
      signedHeaders,
      payloadHash,
      signingDate,
      credential,
      signature,
    );
    return { credentials: key.credentials, mode: 'header', payload };
  }

  async #verifyPresigned(request: RequestToVerify): Promise<VerifiedRequest> {
    const q = (name: string) => single(request.query[name]);
    const queryError = (message: string, extra?: Record<string, string>) =>
      new S3Error(400, 'AuthorizationQueryParametersError', message, extra);
    // S3 refuses an auth parameter given twice; taking the first would let a URL carry a second,
    // unchecked signature (or credential) that a more lenient proxy might read instead.
    const repeated = Object.keys(request.query)
      .filter((name) => AUTH_QUERY_PARAMETERS.has(name) && Array.isArray(request.query[name]))
      .sort();
    if (repeated.length > 0) {
      throw queryError(
        `Query-string authentication parameters must each appear once; repeated: ${repeated.join(', ')}.`,
      );
    }
    const algorithm = q('X-Amz-Algorithm');
    const credentialField = q('X-Amz-Credential');
    const dateField = q('X-Amz-Date');
    const expiresField = q('X-Amz-Expires');
    const signedHeadersField = q('X-Amz-SignedHeaders');
    const signature = q('X-Amz-Signature');
    if (
      algorithm === undefined ||
      credentialField === undefined ||
      dateField === undefined ||
      expiresField === undefined ||
      signedHeadersField === undefined ||
      signature === undefined
    ) {
      throw queryError(
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    if (algorithm !== ALGORITHM_IDENTIFIER) {
      throw queryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    }
    const credential = parseCredential(credentialField);
    if (credential === undefined) {
      throw queryError(
        'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
      );
    }
    const key = this.#lookup(credential.accessKeyId);
    const signingDate = parseLongDate(dateField);
    if (signingDate === undefined) {
      throw queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    }
    if (dateField.slice(0, 8) !== credential.date) {
      throw queryError('Invalid credential date. Date is not the same as X-Amz-Date.');
    }
    if (!/^\d+$/.test(expiresField)) throw queryError('X-Amz-Expires should be a number');
    const expiresSeconds = Number(expiresField);
    if (expiresSeconds < 1) throw queryError('X-Amz-Expires must be non-negative');
    if (expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) {
      throw queryError('X-Amz-Expires must be less than a week (in seconds) that is 604800');
    }
    this.#checkScope(credential, (message) => queryError(message, { Region: this.region }));
    const now = this.#now();
    const expires = signingDate.getTime() + expiresSeconds * 1000;
    if (now > expires) {
      throw s3Errors.accessDenied('Request has expired', {
        'X-Amz-Expires': expiresField,
        Expires: new Date(expires).toISOString(),
        ServerTime: new Date(now).toISOString(),
      });
    }
    if (signingDate.getTime() - now > MAX_CLOCK_SKEW_MS) {
      throw s3Errors.accessDenied('Request is not valid yet', {
        'X-Amz-Date': dateField,
        ServerTime: new Date(now).toISOString(),
      });
    }
    this.#checkToken(key.credentials, q('X-Amz-Security-Token'));
    const signedHeaders = this.#signedHeaders(request, signedHeadersField);
    // Presigned S3 URLs bind the body only when the signer put a hash in the URL (the AWS SDK puts
    // UNSIGNED-PAYLOAD there; boto3 leaves it out, which means the same).
    const payloadHash =
      q('X-Amz-Content-Sha256') ??
      (signedHeaders.includes('x-amz-content-sha256')
        ? request.headers['x-amz-content-sha256']?.[0]
        : undefined) ??
      'UNSIGNED-PAYLOAD';
    const payload = this.#payloadBinding(payloadHash);
    await this.#compare(
      key.signer,
      request,
      request.query,
      signedHeaders,
      payloadHash,
      signingDate,
      credential,
      signature,
    );
    return { credentials: key.credentials, mode: 'presigned', payload };
  }

  #lookup(accessKeyId: string): { credentials: LocalS3Credentials; signer: CanonicalSigner } {
    const key = this.#keys.get(accessKeyId);
    if (key === undefined) throw s3Errors.invalidAccessKeyId(accessKeyId);
    return key;
  }

  #checkScope(credential: ParsedCredential, fail: (message: string) => S3Error): void {
    if (credential.region !== this.region) {
      throw fail(`the region '${credential.region}' is wrong; expecting '${this.region}'`);
    }
    if (credential.service !== 's3') {
      throw fail(`the service '${credential.service}' is wrong; expecting 's3'`);
    }
  }

  #checkToken(credentials: LocalS3Credentials, token: string | undefined): void {
    if (credentials.sessionToken !== undefined || token !== undefined) {
      if (
        token === undefined ||
        credentials.sessionToken === undefined ||
        !constantTimeEqual(token, credentials.sessionToken)
      ) {
        throw new S3Error(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
      }
    }
    if (credentials.expiresAt !== undefined && this.#now() >= credentials.expiresAt.getTime()) {
      throw new S3Error(400, 'ExpiredToken', 'The provided token has expired.');
    }
  }

  /** The client's signed header list, checked the way S3 checks it. */
  #signedHeaders(request: RequestToVerify, field: string): string[] {
    const names = field.split(';').map((n) => n.trim().toLowerCase());
    if (!names.includes('host')) {
      throw s3Errors.accessDenied('Host must be signed');
    }
    const unsigned = Object.keys(request.headers)
      .filter((name) => name.startsWith('x-amz-') && !names.includes(name))
      .sort();
    if (unsigned.length > 0) {
      throw s3Errors.accessDenied('There were headers present in the request which were not signed', {
        HeadersNotSigned: unsigned.join(', '),
      });
    }
    return names;
  }

  #payloadBinding(payloadHash: string): PayloadBinding {
    if (payloadHash === 'UNSIGNED-PAYLOAD') return { kind: 'unsigned' };
    if (payloadHash === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') return { kind: 'streaming-trailer' };
    if (HEX_SHA256.test(payloadHash)) return { kind: 'sha256', hex: payloadHash };
    if (payloadHash.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
      throw s3Errors.notImplemented(`x-amz-content-sha256: ${payloadHash} (signed aws-chunked bodies)`);
    }
    throw s3Errors.invalidArgument(
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.',
    );
  }

  async #compare(
    signer: CanonicalSigner,
    request: RequestToVerify,
    query: Readonly<Record<string, string | string[]>>,
    signedHeaders: readonly string[],
    payloadHash: string,
    signingDate: Date,
    credential: ParsedCredential,
    provided: string,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    // Exactly the signed headers, multiple values joined as SigV4 specifies; a signed header that
    // did not arrive canonicalizes as empty, so the signatures differ.
    for (const name of signedHeaders) headers[name] = request.headers[name]?.join(',') ?? '';
    const { 'X-Amz-Signature': _signature, ...signedQuery } = query;
    const canonical = new HttpRequest({
      method: request.method,
      path: request.rawPath,
      query: { ...signedQuery },
      headers,
    });
    const { signature, canonicalRequest, stringToSign } = await signer.expected(
      canonical,
      signedHeaders,
      payloadHash,
      signingDate,
      credential.scope,
      credential.region,
    );
    if (!constantTimeEqual(signature, provided)) {
      throw s3Errors.signatureDoesNotMatch({
        AWSAccessKeyId: credential.accessKeyId,
        StringToSign: stringToSign,
        // Like S3, show what we signed so a client author can diff it; tokens are not echoed.
        CanonicalRequest: canonicalRequest.replace(/(x-amz-security-token[:=])[^\n&]*/gi, '$1<redacted>'),
      });
    }
  }
}
