/**
 * The multipart-upload operations of the local S3: CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload (with S3's part-order, ETag and minimum-size checks) and
 * AbortMultipartUpload.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ensureBucketForWrite, param, quote, type S3Call, send, sendXml, unquote } from './s3-call.js';
import { S3Error, s3Errors } from './s3-error.js';
import { attributesFrom, checksumHeaders, receive } from './write-request.js';
import { parseCompleteMultipartUpload, xmlDocument } from './xml.js';

/** Smallest part S3 accepts in a multipart upload, except the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

function uploadFor(call: S3Call) {
  const uploadId = param(call.query, 'uploadId') ?? '';
  const upload = call.store.getUpload(uploadId);
  if (upload === undefined || upload.bucket !== call.bucket || upload.key !== call.key) {
    throw s3Errors.noSuchUpload(uploadId);
  }
  return upload;
}

export async function createMultipartUpload(call: S3Call): Promise<void> {
  await ensureBucketForWrite(call, call.bucket!);
  const upload = call.store.createUpload(call.bucket!, call.key!, attributesFrom(call));
  sendXml(
    call.res,
    xmlDocument('InitiateMultipartUploadResult', [
      ['Bucket', upload.bucket],
      ['Key', upload.key],
      ['UploadId', upload.uploadId],
    ]),
  );
}

export async function uploadPart(call: S3Call): Promise<void> {
  const upload = uploadFor(call);
  const partNumberParam = param(call.query, 'partNumber') ?? '';
  const partNumber = Number(partNumberParam);
  if (!/^\d+$/.test(partNumberParam) || partNumber < 1 || partNumber > 10_000) {
    throw s3Errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: partNumberParam,
    });
  }
  const body = await receive(call);
  if (call.store.getUpload(upload.uploadId) === undefined) {
    // Aborted or completed while this part was arriving.
    await call.store.discard(body.blob);
    throw s3Errors.noSuchUpload(upload.uploadId);
  }
  const etag = quote(body.md5Hex);
  await call.store.putPart(upload, { partNumber, etag, blob: body.blob });
  send(call.res, 200, { ETag: etag, ...checksumHeaders(body.checksums) });
}

async function readSmallBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw s3Errors.malformedXML();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function completeMultipartUpload(call: S3Call): Promise<void> {
  const upload = uploadFor(call);
  const parts = parseCompleteMultipartUpload(await readSmallBody(call.req, 1024 * 1024));
  if (parts === undefined) throw s3Errors.malformedXML();
  if (parts.length === 0) throw s3Errors.invalidRequest('You must specify at least one part');
  // Checked in S3's order: the list's order, then each part's existence and ETag, then sizes.
  for (const [index, part] of parts.entries()) {
    if (index > 0 && part.partNumber <= parts[index - 1]!.partNumber) {
      throw new S3Error(
        400,
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
      );
    }
  }
  const chosen = parts.map((part) => {
    const stored = upload.parts.get(part.partNumber);
    if (stored === undefined || unquote(stored.etag) !== unquote(part.etag)) {
      throw new S3Error(
        400,
        'InvalidPart',
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { PartNumber: String(part.partNumber), ETag: part.etag },
      );
    }
    return stored;
  });
  for (const [index, part] of chosen.entries()) {
    if (index < chosen.length - 1 && part.blob.size < MIN_PART_BYTES) {
      throw new S3Error(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed size',
        {
          ProposedSize: String(part.blob.size),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(part.partNumber),
        },
      );
    }
  }
  const md5s = Buffer.concat(chosen.map((p) => Buffer.from(unquote(p.etag), 'hex')));
  const etag = quote(`${createHash('md5').update(md5s).digest('hex')}-${chosen.length}`);
  const size = chosen.reduce((sum, p) => sum + p.blob.size, 0);
  const blob = { size, segments: chosen.flatMap((p) => p.blob.segments) };
  await call.store.endUpload(upload, new Set(chosen.map((p) => p.partNumber)));
  await call.store.putObject(
    upload.bucket,
    upload.key,
    blob,
    { ...upload.attributes, etag, checksums: {} },
    chosen.length,
  );
  call.stored = true;
  sendXml(
    call.res,
    xmlDocument('CompleteMultipartUploadResult', [
      ['Location', `/${upload.bucket}/${upload.key}`],
      ['Bucket', upload.bucket],
      ['Key', upload.key],
      ['ETag', etag],
    ]),
  );
}

export async function abortMultipartUpload(call: S3Call): Promise<void> {
  const upload = uploadFor(call);
  await call.store.endUpload(upload);
  send(call.res, 204, {});
}
