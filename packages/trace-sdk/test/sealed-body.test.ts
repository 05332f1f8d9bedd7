import { createHash, randomBytes } from 'node:crypto';
import { fstatSync, openSync, unlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BodyStream, hashParts, SharedFd } from '../src/spool/sealed-body.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-trace-sealed-body-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('sealed body', () => {
  it('hashes and streams memory and file parts in order, the file only up to its byte count', async () => {
    const head = randomBytes(1000);
    const middle = randomBytes(700 * 1024);
    const file = randomBytes(900 * 1024);
    const path = join(dir, 'events.part');
    // A torn tail past the members written is not part of the body.
    await writeFile(path, Buffer.concat([file, randomBytes(77)]));
    const parts = [head, middle, { path, bytes: file.length }];
    const whole = Buffer.concat([head, middle, file]);
    expect(await hashParts(parts)).toBe(sha256(whole));
    expect((await buffer(new BodyStream(parts))).equals(whole)).toBe(true);
  });

  it('lets the event loop run while hashing a large body kept in memory', async () => {
    const parts = Array.from({ length: 64 }, () => Buffer.alloc(1024 * 1024, 7));
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const digest = await hashParts(parts);
    running = false;
    expect(digest).toBe(sha256(Buffer.concat(parts)));
    // One turn per MiB hashed, give or take the first and last: never one 64 MiB block.
    expect(turns).toBeGreaterThanOrEqual(60);
  });

  it('reads a file part through a shared descriptor after its path is gone, and closes it after the last reader', async () => {
    const file = randomBytes(600 * 1024);
    const path = join(dir, 'events.part');
    await writeFile(path, file);
    const shared = new SharedFd(openSync(path, 'r'));
    unlinkSync(path);
    const parts = [{ path, bytes: file.length, shared }];
    expect(await hashParts(parts)).toBe(sha256(file));
    // A reader holds it: the owner's close() must wait for that reader.
    const stream = new BodyStream(parts);
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    shared.close();
    expect(shared.isClosed).toBe(false);
    expect(() => fstatSync(shared.fd)).not.toThrow();
    const rest = await buffer(stream);
    expect(Buffer.concat([first, rest]).equals(file)).toBe(true);
    // Released by the last reader: closed now, and no later reader may take it.
    expect(shared.isClosed).toBe(true);
    expect(shared.acquire()).toBe(false);
  });
});
