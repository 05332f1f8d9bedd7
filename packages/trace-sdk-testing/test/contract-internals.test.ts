import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { artifactFromBuffer, traceKey } from '@agent-trace/trace-sdk';
import { describe, expect, it } from 'vitest';
import { largeFileArtifact, sampleArtifact, stallingArtifact, unsupported } from '../src/contract/index.js';
import { sampleMemory } from '../src/contract/memory.js';

const KEY = traceKey({ userId: 'u1', taskId: 't1' });

describe('the contract suite building blocks', () => {
  it('sees memory a transport holds on to (so the 200 MB check can fail)', () => {
    const sampler = sampleMemory();
    const held = Buffer.alloc(128 * 1024 * 1024, 1);
    const growth = sampler.stop();
    expect(held.length).toBe(128 * 1024 * 1024);
    expect(growth.live).toBeGreaterThan(120 * 1024 * 1024);
  });

  it('stalls a body after the given bytes and reports it', async () => {
    const artifact = artifactFromBuffer(KEY, Buffer.alloc(100_000, 7));
    let stalled = 0;
    let onStall = () => {};
    const stall = new Promise<void>((resolve) => {
      onStall = resolve;
    });
    const stream = stallingArtifact(artifact, 40_000, () => {
      stalled += 1;
      onStall();
    }).open();
    let received = 0;
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    await stall;
    await new Promise((resolve) => setImmediate(resolve));
    expect([received, stalled, stream.readableEnded]).toEqual([40_000, 1, false]);
    stream.destroy();
    expect(stream.destroyed).toBe(true);
  });

  it('writes a large artifact as a valid gzip file of the requested size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'contract-internals-'));
    try {
      const artifact = await largeFileArtifact(KEY, join(dir, 'big.gz'), 3 * 1024 * 1024 + 5);
      let plain = 0;
      for await (const chunk of createReadStream(join(dir, 'big.gz')).pipe(createGunzip()))
        plain += chunk.length;
      expect(plain).toBe(3 * 1024 * 1024 + 5);
      const hash = createHash('sha256');
      for await (const chunk of artifact.open()) hash.update(chunk);
      expect(hash.digest('hex')).toBe(artifact.sha256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('builds gzip JSONL sample artifacts of about the requested size', () => {
    const artifact = sampleArtifact(KEY, 't1', 100_000);
    expect(artifact.byteLength).toBeGreaterThan(80_000);
    expect(artifact.byteLength).toBeLessThan(200_000);
    expect(artifact.contentType).toBe('application/gzip');
  });

  it('requires a reason for every unsupported capability', () => {
    expect(unsupported('no network')).toEqual({ unsupported: 'no network' });
    expect(() => unsupported(' ')).toThrow(TypeError);
  });
});
