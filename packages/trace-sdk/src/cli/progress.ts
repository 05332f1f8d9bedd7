/**
 * The upload progress bar: counts bytes as the transport pulls them from the artifact's stream
 * and redraws one stderr line. Drawing is throttled, and a retry (which re-opens the stream)
 * restarts the count, so the bar shows the attempt in flight.
 *
 * @packageDocumentation
 */
import { pipeline, type Readable, Transform, type Writable } from 'node:stream';
import type { TraceArtifact } from '../upload/types.js';

/** Files at least this large get a progress bar when stderr is a terminal. */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

const REDRAW_EVERY_MS = 100;

/** Formats a byte count for humans: `512 B`, `3.4 KiB`, `27.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** One progress line on a terminal stream. */
export class ProgressBar {
  readonly #out: Writable;
  readonly #total: number;
  readonly #width: number;
  readonly #label: string;
  #lastDraw = 0;
  #done = false;

  constructor(out: Writable, total: number, opts: { label: string; columns?: number | undefined }) {
    this.#out = out;
    this.#total = total;
    this.#label = opts.label;
    this.#width = Math.max(10, Math.min(40, (opts.columns ?? 80) - 40));
  }

  /** Redraws for `sent` bytes, at most every 100 ms unless `force`. */
  update(sent: number, force = false): void {
    if (this.#done) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < REDRAW_EVERY_MS) return;
    this.#lastDraw = now;
    const ratio = this.#total === 0 ? 1 : Math.min(1, sent / this.#total);
    const filled = Math.round(ratio * this.#width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(this.#width - filled)}`;
    const pct = `${Math.floor(ratio * 100)}`.padStart(3);
    this.#out.write(
      `\r${this.#label} [${bar}] ${pct}% ${formatBytes(sent)}/${formatBytes(this.#total)}\u001b[K`,
    );
  }

  /** Draws the final state and ends the line. Idempotent. */
  finish(sent: number): void {
    if (this.#done) return;
    this.update(sent, true);
    this.#done = true;
    this.#out.write('\n');
  }
}

/** Wraps a readable so `onBytes(total so far)` is called for every chunk that passes through. */
export function countBytes(source: Readable, onBytes: (total: number) => void): Readable {
  let total = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      onBytes(total);
      callback(null, chunk);
    },
  });
  // pipeline propagates a source error into `counter` (the consumer sees it) and destroys the
  // source when the consumer destroys `counter` (abort); the callback has nothing left to do.
  pipeline(source, counter, () => {});
  return counter;
}

/**
 * The same artifact, with each `open()` stream counted. `onBytes` receives the bytes of the
 * current attempt (a retry re-opens the body and starts from zero).
 */
export function withByteCounter(artifact: TraceArtifact, onBytes: (sent: number) => void): TraceArtifact {
  return { ...artifact, open: () => countBytes(artifact.open(), onBytes) };
}
