/**
 * Measuring how much an upload grows the process's memory, sampled while the upload runs:
 * peak RSS, and peak live memory (JS heap plus buffers) right after a young-generation GC, so
 * that garbage awaiting collection is not counted and a transport that holds on to the body
 * shows up plainly.
 *
 * @packageDocumentation
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Growth over the baseline, in bytes. */
export interface MemoryGrowth {
  readonly rss: number;
  /** `heapUsed + external` (external includes every Buffer's memory), after a GC. */
  readonly live: number;
}

type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' }) => void;

let cachedGc: Gc | null | undefined;

/** The V8 `gc()` function, exposed at runtime when the process was not started with `--expose-gc`. */
function gcFunction(): Gc | undefined {
  if (cachedGc === undefined) {
    cachedGc = (globalThis as { gc?: Gc }).gc ?? null;
    if (cachedGc === null) {
      try {
        setFlagsFromString('--expose-gc');
        cachedGc = runInNewContext('gc') as Gc;
      } catch {
        cachedGc = null;
      }
    }
  }
  return cachedGc ?? undefined;
}

function live(gc: Gc | undefined, type: 'major' | 'minor'): number {
  gc?.({ type, execution: 'sync' });
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Starts sampling every `intervalMs`; `stop()` returns the peak growth seen. */
export function sampleMemory(intervalMs = 10): { stop(): MemoryGrowth } {
  const gc = gcFunction();
  const baseLive = live(gc, 'major');
  const baseRss = process.memoryUsage.rss();
  let peakRss = baseRss;
  let peakLive = baseLive;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakLive = Math.max(peakLive, live(gc, 'minor'));
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { rss: peakRss - baseRss, live: peakLive - baseLive };
    },
  };
}
