/**
 * Where the local S3 keeps buckets, objects and multipart uploads: in memory (the default) or on
 * disk under `dir`. Bodies are written as they arrive and only become visible when committed, so a
 * rejected or interrupted request never leaves an object. Large bodies are never concatenated: an
 * object is a list of segments (buffers in memory, files on disk), and a completed multipart upload
 * is simply the list of its parts.
 *
 * @packageDocumentation
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';

/** A piece of a body: bytes in memory or a file on disk. */
export type Segment = Buffer | { readonly file: string; readonly size: number };

/** An immutable body: its segments in order. */
export interface Blob {
  readonly size: number;
  readonly segments: readonly Segment[];
}

/** What is stored alongside an object's bytes. */
export interface ObjectAttributes {
  /** Quoted ETag, e.g. `"9e107d9d372bb6826bd81d3542a419d6"` or `"...-3"` for multipart. */
  readonly etag: string;
  /** `Content-Type` as sent, if any. */
  readonly contentType: string | undefined;
  /** `Content-Encoding` as sent (minus `aws-chunked`), if any. Never added by the server. */
  readonly contentEncoding: string | undefined;
  /** `Content-Disposition` as sent, if any. */
  readonly contentDisposition?: string | undefined;
  /** `Cache-Control` as sent, if any. */
  readonly cacheControl?: string | undefined;
  /** `Content-Language` as sent, if any. */
  readonly contentLanguage?: string | undefined;
  /** `Expires` as sent (kept verbatim, as S3 returns it), if any. */
  readonly expires?: string | undefined;
  /** `x-amz-meta-*` user metadata, names lowercased without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Verified `x-amz-checksum-*` values by algorithm (`crc32`, `sha256`, ...), base64. */
  readonly checksums: Readonly<Record<string, string>>;
}

/** An object as stored. */
export interface StoredObject extends ObjectAttributes {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly blob: Blob;
  /** Number of parts when the object was assembled by a multipart upload. */
  readonly partsCount: number | undefined;
}

/** A part uploaded to a multipart upload. */
export interface StoredPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly blob: Blob;
}

/** An in-progress multipart upload. */
export interface MultipartUpload {
  readonly uploadId: string;
  readonly bucket: string;
  readonly key: string;
  readonly initiated: Date;
  readonly attributes: Omit<ObjectAttributes, 'etag' | 'checksums'>;
  readonly parts: Map<number, StoredPart>;
}

/** Receives one request body; `blob()` is valid after the writable finished. */
export interface BlobSink {
  readonly writable: Writable;
  /** The body written so far, as a blob (call once the writable has finished). */
  blob(): Blob;
  /** Drops whatever was written (a rejected or interrupted request). */
  discard(): Promise<void>;
}

/** Streams a blob, or the inclusive byte range `[start, end]` of it. */
export function openBlob(blob: Blob, range?: { start: number; end: number }): Readable {
  const start = range?.start ?? 0;
  const end = range?.end ?? blob.size - 1;
  async function* pieces(): AsyncGenerator<Buffer> {
    let offset = 0;
    for (const segment of blob.segments) {
      const size = Buffer.isBuffer(segment) ? segment.byteLength : segment.size;
      const from = Math.max(start - offset, 0);
      const to = Math.min(end - offset, size - 1);
      offset += size;
      if (from > to) continue;
      if (Buffer.isBuffer(segment)) yield segment.subarray(from, to + 1);
      else yield* createReadStream(segment.file, { start: from, end: to });
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}

interface PersistedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
  readonly contentDisposition?: string | undefined;
  readonly cacheControl?: string | undefined;
  readonly contentLanguage?: string | undefined;
  readonly expires?: string | undefined;
  readonly metadata: Record<string, string>;
  readonly checksums: Record<string, string>;
  readonly lastModified: string;
  readonly partsCount?: number | undefined;
  readonly files: { file: string; size: number }[];
}

function segmentFiles(blob: Blob): string[] {
  return blob.segments.flatMap((s) => (Buffer.isBuffer(s) ? [] : [s.file]));
}

/**
 * Buckets, objects and multipart uploads. With `dir`, bodies are files under `dir/blobs` and each
 * object's attributes a JSON file under `dir/objects/<bucket>/`, reloaded by {@link ObjectStore.open};
 * in-progress multipart uploads are not persisted.
 */
export class ObjectStore {
  readonly dir: string | undefined;
  readonly #buckets = new Map<string, Map<string, StoredObject>>();
  readonly #uploads = new Map<string, MultipartUpload>();

  private constructor(dir: string | undefined) {
    this.dir = dir;
  }

  /** Opens a store; with `dir`, creates it or reloads the objects a previous server left there. */
  static async open(dir?: string): Promise<ObjectStore> {
    const store = new ObjectStore(dir);
    if (dir !== undefined) await store.#load(dir);
    return store;
  }

  async #load(dir: string): Promise<void> {
    await mkdir(join(dir, 'blobs'), { recursive: true });
    await mkdir(join(dir, 'objects'), { recursive: true });
    const referenced = new Set<string>();
    for (const bucket of await readdir(join(dir, 'objects'))) {
      const objects = new Map<string, StoredObject>();
      this.#buckets.set(bucket, objects);
      for (const name of await readdir(join(dir, 'objects', bucket))) {
        if (!name.endsWith('.json')) continue;
        const saved = JSON.parse(
          await readFile(join(dir, 'objects', bucket, name), 'utf8'),
        ) as PersistedObject;
        const segments = saved.files.map((f) => ({ file: join(dir, 'blobs', f.file), size: f.size }));
        for (const f of saved.files) referenced.add(f.file);
        objects.set(saved.key, {
          bucket,
          key: saved.key,
          size: saved.size,
          etag: saved.etag,
          contentType: saved.contentType,
          contentEncoding: saved.contentEncoding,
          contentDisposition: saved.contentDisposition,
          cacheControl: saved.cacheControl,
          contentLanguage: saved.contentLanguage,
          expires: saved.expires,
          metadata: saved.metadata,
          checksums: saved.checksums,
          lastModified: new Date(saved.lastModified),
          partsCount: saved.partsCount,
          blob: { size: saved.size, segments },
        });
      }
    }
    // Bodies of requests that were in flight when a previous server stopped.
    for (const file of await readdir(join(dir, 'blobs'))) {
      if (!referenced.has(file)) await rm(join(dir, 'blobs', file), { force: true });
    }
  }

  /** Creates a bucket; returns false when it already existed. */
  async createBucket(name: string): Promise<boolean> {
    if (this.#buckets.has(name)) return false;
    this.#buckets.set(name, new Map());
    if (this.dir !== undefined) await mkdir(join(this.dir, 'objects', name), { recursive: true });
    return true;
  }

  /** Whether `name` exists. */
  hasBucket(name: string): boolean {
    return this.#buckets.has(name);
  }

  /** Bucket names, sorted. */
  bucketNames(): string[] {
    return [...this.#buckets.keys()].sort();
  }

  /** Deletes an empty bucket; returns false when it is not empty. */
  async deleteBucket(name: string): Promise<boolean> {
    const objects = this.#buckets.get(name);
    if (objects === undefined) return true;
    if (objects.size > 0) return false;
    this.#buckets.delete(name);
    if (this.dir !== undefined) await rm(join(this.dir, 'objects', name), { recursive: true, force: true });
    return true;
  }

  /** A place to stream one request body to. Nothing is visible until it is committed. */
  createSink(): BlobSink {
    if (this.dir === undefined) return memorySink();
    return fileSink(join(this.dir, 'blobs', randomUUID()));
  }

  /** Forgets a blob that was never committed (or was replaced). */
  async discard(blob: Blob): Promise<void> {
    await Promise.all(segmentFiles(blob).map((file) => rm(file, { force: true })));
  }

  /** Makes `blob` the object at `bucket`/`key`, replacing any previous one. */
  async putObject(
    bucket: string,
    key: string,
    blob: Blob,
    attributes: ObjectAttributes,
    partsCount?: number,
  ): Promise<StoredObject> {
    const objects = this.#bucket(bucket);
    const stored: StoredObject = {
      ...attributes,
      bucket,
      key,
      size: blob.size,
      lastModified: new Date(),
      blob,
      partsCount,
    };
    if (this.dir !== undefined) await this.#persist(stored);
    const previous = objects.get(key);
    objects.set(key, stored);
    if (previous !== undefined) await this.discard(previous.blob);
    return stored;
  }

  async #persist(object: StoredObject): Promise<void> {
    const dir = this.dir!;
    const saved: PersistedObject = {
      key: object.key,
      size: object.size,
      etag: object.etag,
      contentType: object.contentType,
      contentEncoding: object.contentEncoding,
      contentDisposition: object.contentDisposition,
      cacheControl: object.cacheControl,
      contentLanguage: object.contentLanguage,
      expires: object.expires,
      metadata: { ...object.metadata },
      checksums: { ...object.checksums },
      lastModified: object.lastModified.toISOString(),
      partsCount: object.partsCount,
      files: object.blob.segments.flatMap((s) =>
        Buffer.isBuffer(s) ? [] : [{ file: s.file.slice(join(dir, 'blobs').length + 1), size: s.size }],
      ),
    };
    const path = join(
      dir,
      'objects',
      object.bucket,
      `${createHash('sha256').update(object.key).digest('hex')}.json`,
    );
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(saved));
    await rename(tmp, path);
  }

  /** The object at `bucket`/`key`, if any. */
  getObject(bucket: string, key: string): StoredObject | undefined {
    return this.#buckets.get(bucket)?.get(key);
  }

  /** Deletes an object (a no-op when absent, as in S3). */
  async deleteObject(bucket: string, key: string): Promise<void> {
    const objects = this.#buckets.get(bucket);
    const object = objects?.get(key);
    if (objects === undefined || object === undefined) return;
    objects.delete(key);
    if (this.dir !== undefined) {
      const path = join(
        this.dir,
        'objects',
        bucket,
        `${createHash('sha256').update(key).digest('hex')}.json`,
      );
      await rm(path, { force: true });
    }
    await this.discard(object.blob);
  }

  /** Objects of `bucket` whose key starts with `prefix`, in UTF-8 binary key order (as S3 lists). */
  listObjects(bucket: string, prefix = ''): StoredObject[] {
    const objects = [...(this.#buckets.get(bucket)?.values() ?? [])].filter((o) => o.key.startsWith(prefix));
    return objects.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  /** Starts a multipart upload and returns it. */
  createUpload(bucket: string, key: string, attributes: MultipartUpload['attributes']): MultipartUpload {
    this.#bucket(bucket);
    const upload: MultipartUpload = {
      uploadId: randomUUID().replaceAll('-', ''),
      bucket,
      key,
      initiated: new Date(),
      attributes,
      parts: new Map(),
    };
    this.#uploads.set(upload.uploadId, upload);
    return upload;
  }

  /** The in-progress upload with this id, if any. */
  getUpload(uploadId: string): MultipartUpload | undefined {
    return this.#uploads.get(uploadId);
  }

  /** Stores (or replaces) one part. */
  async putPart(upload: MultipartUpload, part: StoredPart): Promise<void> {
    const previous = upload.parts.get(part.partNumber);
    upload.parts.set(part.partNumber, part);
    if (previous !== undefined) await this.discard(previous.blob);
  }

  /** Ends an upload: its parts become `kept` (now owned by an object) or are discarded. */
  async endUpload(upload: MultipartUpload, kept: ReadonlySet<number> = new Set()): Promise<void> {
    this.#uploads.delete(upload.uploadId);
    for (const part of upload.parts.values()) {
      if (!kept.has(part.partNumber)) await this.discard(part.blob);
    }
  }

  /** Forgets every bucket, object and upload (and deletes their files). */
  async reset(): Promise<void> {
    this.#buckets.clear();
    this.#uploads.clear();
    if (this.dir !== undefined) {
      await rm(join(this.dir, 'objects'), { recursive: true, force: true });
      await rm(join(this.dir, 'blobs'), { recursive: true, force: true });
      await mkdir(join(this.dir, 'blobs'), { recursive: true });
      await mkdir(join(this.dir, 'objects'), { recursive: true });
    }
  }

  #bucket(name: string): Map<string, StoredObject> {
    const objects = this.#buckets.get(name);
    if (objects === undefined) throw new Error(`no bucket ${name}`);
    return objects;
  }
}

function memorySink(): BlobSink {
  const chunks: Buffer[] = [];
  let size = 0;
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      size += chunk.byteLength;
      callback();
    },
  });
  return {
    writable,
    blob: () => ({ size, segments: chunks }),
    discard: async () => {
      chunks.length = 0;
    },
  };
}

function fileSink(file: string): BlobSink {
  const writable = createWriteStream(file);
  return {
    writable,
    blob: () => ({ size: writable.bytesWritten, segments: [{ file, size: writable.bytesWritten }] }),
    discard: async () => {
      writable.destroy();
      await rm(file, { force: true });
    },
  };
}
