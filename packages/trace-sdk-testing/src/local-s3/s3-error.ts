/**
 * The error a local S3 operation answers with: an HTTP status, an S3 error code and message, and
 * any extra elements real S3 adds to the XML body (e.g. `Key`, `HeadersNotSigned`).
 *
 * @packageDocumentation
 */

/** An S3-style failure; the server renders it as the usual `<Error>` XML body. */
export class S3Error extends Error {
  /** HTTP status, e.g. 403. */
  readonly status: number;
  /** S3 error code, e.g. `SignatureDoesNotMatch`. */
  readonly s3Code: string;
  /** Extra child elements of `<Error>`, in order. */
  readonly extra: Readonly<Record<string, string>>;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    s3Code: string,
    message: string,
    extra: Record<string, string> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
    this.status = status;
    this.s3Code = s3Code;
    this.extra = extra;
    this.headers = headers;
  }
}

/** The errors several modules raise, named as S3 names them. */
export const s3Errors = {
  accessDenied: (message = 'Access Denied', extra?: Record<string, string>) =>
    new S3Error(403, 'AccessDenied', message, extra),
  signatureDoesNotMatch: (extra?: Record<string, string>) =>
    new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      extra,
    ),
  invalidAccessKeyId: (accessKeyId: string) =>
    new S3Error(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: accessKeyId },
    ),
  badDigest: (message: string) => new S3Error(400, 'BadDigest', message),
  invalidRequest: (message: string) => new S3Error(400, 'InvalidRequest', message),
  invalidArgument: (message: string, extra?: Record<string, string>) =>
    new S3Error(400, 'InvalidArgument', message, extra),
  noSuchBucket: (bucket: string) =>
    new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) =>
    new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      404,
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  notImplemented: (what: string) =>
    new S3Error(
      501,
      'NotImplemented',
      `A header or query you provided implies functionality that is not implemented: ${what}`,
    ),
  malformedXML: () =>
    new S3Error(
      400,
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    ),
} as const;
