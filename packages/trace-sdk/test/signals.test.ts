/**
 * finishOnSignal in process (the real SIGTERM, re-raised, is in reliability/durability.test.ts):
 * one listener per signal for every recorder, finished on the signal, never re-raised while the
 * application has its own listener; disposal; option checks.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, createTraceRecorder, type FinishResult, finishOnSignal } from '../src/index.js';
import { memoryTransport } from './recorder-support.js';

const SIGNAL = 'SIGUSR2';

function recorder(taskId: string) {
  return createTraceRecorder({ userId: 'u-signal', taskId, transport: memoryTransport() });
}

describe('finishOnSignal', () => {
  it('finishes every registered recorder on the signal, and leaves exiting to the application listener', async () => {
    // The application's own listener: with it installed, the signal is not raised again.
    const appListener = () => {};
    process.on(SIGNAL, appListener);
    const before = process.listenerCount(SIGNAL);
    try {
      const finished: FinishResult[] = [];
      const a = recorder('task-a');
      const b = recorder('task-b');
      a.record({ event: 'STEP' });
      b.record({ event: 'STEP' });
      const onFinished = (r: FinishResult) => finished.push(r);
      finishOnSignal(a, { signals: [SIGNAL], onFinished });
      finishOnSignal(b, { signals: [SIGNAL], onFinished, graceMs: 1000 });
      // One process listener serves both.
      expect(process.listenerCount(SIGNAL)).toBe(before + 1);
      process.emit(SIGNAL, SIGNAL);
      while (finished.length < 2) await new Promise((r) => setTimeout(r, 5));
      expect(finished.map((r) => [r.key, r.status]).sort()).toEqual([
        [a.key, 'uploaded'],
        [b.key, 'uploaded'],
      ]);
      // Handled once: the listener is gone.
      expect(process.listenerCount(SIGNAL)).toBe(before);
    } finally {
      process.off(SIGNAL, appListener);
    }
  });

  it('is removed by the returned dispose function', () => {
    const before = process.listenerCount(SIGNAL);
    const dispose = finishOnSignal(recorder('task-c'), { signals: [SIGNAL] });
    expect(process.listenerCount(SIGNAL)).toBe(before + 1);
    dispose();
    expect(process.listenerCount(SIGNAL)).toBe(before);
  });

  it('checks its options', () => {
    const rec = recorder('task-d');
    for (const [opts, variable] of [
      [{ signals: 'SIGTERM' }, 'signals'],
      [{ signals: ['sigterm'] }, 'signals'],
      [{ graceMs: -1 }, 'graceMs'],
      [{ graceMs: Number.NaN }, 'graceMs'],
      [{ onFinished: 'log' }, 'onFinished'],
    ] as const) {
      expect(() => finishOnSignal(rec, opts as never)).toThrow(ConfigError);
      expect(() => finishOnSignal(rec, opts as never)).toThrow(expect.objectContaining({ variable }));
    }
    expect(() => finishOnSignal({} as never)).toThrow(ConfigError);
  });
});
