/**
 * Measuring how much an upload grows the process's memory: peak RSS, and peak live JS heap plus
 * buffers, sampled while the upload runs. The second is immune to the allocator keeping freed
 * pages from earlier tests (which can hide growth in RSS), so a transport that buffers the
 * whole body shows up in at least one of them.
 *
 * @packageDocumentation
 */

/** Growth over the baseline, in bytes. */
export interface MemoryGrowth {
  readonly rss: number;
  /** `heapUsed + external` (external includes every Buffer's memory). */
  readonly live: number;
}

function live(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Starts sampling every `intervalMs`; `stop()` returns the peak growth seen. */
export function sampleMemory(intervalMs = 10): { stop(): MemoryGrowth } {
  (globalThis as { gc?: () => void }).gc?.();
  const baseRss = process.memoryUsage.rss();
  const baseLive = live();
  let peakRss = baseRss;
  let peakLive = baseLive;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakLive = Math.max(peakLive, live());
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
