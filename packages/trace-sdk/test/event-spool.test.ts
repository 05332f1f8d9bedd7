import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { createEventSpool } from '../src/spool/event-spool.js';
import { readTrace } from '../src/read/read-trace.js';
import { buffer } from 'node:stream/consumers';

it('smoke', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'spool-'));
  const spool = createEventSpool({ spoolDir: dir, key: 'traces/u/t.jsonl.gz', batchBytes: 1000, memoryThresholdBytes: 2000 });
  const lines = [];
  for (let i = 0; i < 1000; i++) { const l = `${JSON.stringify({ event: 'X', seq: i, text: 'hello '.repeat(i % 50) })}\n`; lines.push(l); spool.append(l); }
  const header = JSON.stringify({ event: 'TRAJECTORY_ARTIFACT_HEADER', accumulated_events: 1000 });
  const body = await spool.seal(header);
  const bytes = await buffer(body.open());
  expect(bytes.length).toBe(body.byteLength);
  expect(gunzipSync(bytes).toString()).toBe(`${header}\n${lines.join('')}`);
  const out = [];
  for await (const l of readTrace(bytes)) out.push(l);
  expect(out.length).toBe(1001);
  console.log(spool.members, spool.compressedBytes, spool.spillPath);
  await body.dispose();
  await rm(dir, { recursive: true });
});
