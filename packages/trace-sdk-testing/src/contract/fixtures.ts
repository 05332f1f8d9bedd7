/**
 * Artifacts the contract suite uploads: realistic gzip JSONL bodies, a 200 MB file written to
 * disk (so the test process never holds it), and an artifact whose body stalls midway (to abort
 * an upload mid-body, whatever the transport).
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { artifactFromBuffer, artifactFromFile, type TraceArtifact } from '@agent-trace/trace-sdk';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID-shaped random task id. */
export function randomTaskId(): string {
  return Array.from(randomBytes(26), (b) => CROCKFORD[b % 32]).join('');
}

/** A random user id in the style of a Cognito `sub`. */
export function randomUserId(label: string): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

/**
 * A gzip JSONL body of roughly `approxBytes` compressed bytes: a header line naming the task (the
 * uploader Lambda stores nothing else), then event lines carrying random text, so it does not
 * compress away.
 */
export function sampleBody(taskId: string, approxBytes = 256 * 1024): Buffer {
  const lines: string[] = [JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', task_id: taskId })];
  let size = 0;
  for (let seq = 0; size < approxBytes * 1.35; seq++) {
    const line = JSON.stringify({
      event: 'TRAJECTORY_TURN',
      task_id: taskId,
      seq,
      ts: 1_700_000_000_000 + seq,
      text: randomBytes(768).toString('base64'),
    });
    lines.push(line);
    size += line.length + 1;
  }
  return gzipSync(`${lines.join('\n')}\n`);
}

/** An in-memory artifact at `key` with a {@link sampleBody}. */
export function sampleArtifact(key: string, taskId: string, approxBytes?: number): TraceArtifact {
  return artifactFromBuffer(key, sampleBody(taskId, approxBytes));
}

/**
 * Writes a valid gzip file of `bytes` (stored, incompressible content) to `path` with bounded
 * memory, and returns it as a file artifact.
 */
export async function largeFileArtifact(key: string, path: string, bytes: number): Promise<TraceArtifact> {
  const block = randomBytes(1024 * 1024);
  async function* blocks(): AsyncGenerator<Buffer> {
    for (let written = 0, n = 0; written < bytes; n++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(block.length, bytes - written)));
      chunk.writeUInt32BE(n, 0); // every block differs, so order and completeness show in the sha256
      written += chunk.length;
      yield chunk;
    }
  }
  await pipeline(
    Readable.from(blocks()),
    createGzip({ level: constants.Z_NO_COMPRESSION }),
    createWriteStream(path),
  );
  return artifactFromFile(key, path);
}

/**
 * The same artifact, except that its body stops after `afterBytes` and never continues (until
 * the stream is destroyed). `onStall` fires once the first bytes were read.
 */
export function stallingArtifact(
  artifact: TraceArtifact,
  afterBytes: number,
  onStall: () => void,
): TraceArtifact {
  return {
    ...artifact,
    open() {
      const source = artifact.open();
      const chunks = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      let sent = 0;
      let stalled = false;
      return new Readable({
        read() {
          if (stalled) return;
          chunks.next().then(
            ({ value, done }) => {
              if (done) {
                this.push(null);
                return;
              }
              const chunk = value as Buffer;
              const room = afterBytes - sent;
              if (chunk.length < room) {
                sent += chunk.length;
                this.push(chunk);
                return;
              }
              this.push(chunk.subarray(0, room));
              sent += room;
              stalled = true;
              onStall();
            },
            (error: Error) => this.destroy(error),
          );
        },
        destroy(error, callback) {
          source.destroy();
          callback(error);
        },
      });
    },
  };
}
