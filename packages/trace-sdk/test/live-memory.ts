/**
 * Live memory for "stays bounded" tests: JS heap plus Buffers, each sample taken right after a
 * young-generation GC so garbage awaiting collection is not counted. RSS is the wrong measure in a
 * unit test: it also counts the compression workers' zlib state, thread stacks and allocator slack,
 * and it wandered past fixed bounds on a loaded 2-core CI machine. RSS targets live in `pnpm bench`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major' | 'minor'; execution: 'sync' }) => void;

let gc: Gc | undefined;

function collect(type: 'major' | 'minor'): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  }
  gc({ type, execution: 'sync' });
}

/** Tracks the peak of `heapUsed + arrayBuffers` over a baseline taken after a full GC. */
export function liveMemoryPeak(): { sample(): void; growthMiB(): number } {
  const live = () => {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  collect('major');
  const baseline = live();
  let peak = baseline;
  return {
    sample() {
      collect('minor');
      peak = Math.max(peak, live());
    },
    growthMiB: () => (peak - baseline) / (1024 * 1024),
  };
}
