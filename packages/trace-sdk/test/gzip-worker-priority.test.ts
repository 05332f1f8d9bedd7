import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipBound } from '../src/compress/gzip-members.js';
import { gzipPool, gzipPoolStats } from '../src/compress/gzip-pool.js';
import { WORKER_NICE } from '../src/compress/gzip-worker-thread.js';

/** Nice value of every thread of this process, by thread id. */
function threadPriorities(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc/self/task')) {
    try {
      out.set(Number(name), getPriority(Number(name)));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

describe('compression worker priority', () => {
  it.runIf(process.platform === 'linux')(
    'runs the compression workers below the agent thread, and leaves the agent thread alone',
    async () => {
      const base = getPriority(process.pid);
      const text = Buffer.from('a line of the trace\n'.repeat(1000));
      const input = new SharedArrayBuffer(text.length);
      new Uint8Array(input).set(text);
      const output = new SharedArrayBuffer(gzipBound(text.length));
      // A job answered means its worker has started, and lowered its priority before serving.
      const length = await new Promise<number>((resolve, reject) =>
        gzipPool().submit({ level: 1, input, length: text.length, output }, (r) =>
          r.error === undefined ? resolve(r.length) : reject(new Error(r.error)),
        ),
      );
      expect(gunzipSync(new Uint8Array(output, 0, length)).equals(text)).toBe(true);

      const priorities = threadPriorities();
      expect(priorities.get(process.pid)).toBe(base);
      const niced = [...priorities.values()].filter((p) => p === Math.min(19, base + WORKER_NICE));
      expect(gzipPoolStats().threads).toBeGreaterThanOrEqual(1);
      expect(niced.length).toBeGreaterThanOrEqual(1);
    },
  );
});
