import { it, expect } from 'vitest';
import { createTraceRecorder } from '../src/index.js';
import { memoryTransport, readBack, rawLines, tempDir } from './recorder-support.js';
it('smoke', async () => {
  const { dir, cleanup } = await tempDir();
  const t = memoryTransport();
  const rec = createTraceRecorder({ userId: 'u1', taskId: 't1', transport: t, spoolDir: dir });
  rec.recordTurn({ turn: 1, model: 'm', text: 'hello AKIAIOSFODNN7EXAMPLE', toolCalls: [{ name: 'bash', input: { cmd: 'ls' } }], toolResults: [{ toolUseId: 'x', content: 'y'.repeat(3000) }] });
  const cyc: any = { a: 1n, f() {}, s: Symbol('q') }; cyc.self = cyc;
  rec.record({ event: 'CUSTOM', cyc, big: 'z'.repeat(400000) });
  rec.record(42 as any);
  const r = await rec.finish();
  console.log(r, rec.stats());
  for (const l of rawLines(t.uploads[0]!.body)) console.log(l.slice(0, 400));
  const back = await readBack(t.uploads[0]!.body);
  expect(back.events.length).toBe(3);
  await cleanup();
});
