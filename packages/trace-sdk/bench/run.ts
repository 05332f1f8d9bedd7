/**
 * `pnpm bench`: runs every benchmark in this directory, in order, each in its own Node process so
 * one benchmark's heap and threadpool never colour another's numbers.
 *
 * A benchmark is a file `bench/<name>.bench.ts` that prints its own section (a title and a table)
 * and exits non-zero on failure. The recorder benchmark runs first; others follow by name. Add a
 * benchmark by adding a file; this runner needs no change.
 *
 * Usage: node packages/trace-sdk/bench/run.ts [--full] [--only <name>]
 *   --full   also run the long variants (e.g. recording 1 GiB), passed on to every benchmark
 *   --only   run only `<name>.bench.ts`
 *
 * Node strips the TypeScript types natively, so these files use erasable syntax only and import the
 * built package (`pnpm bench` builds first).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
const passOn = args.filter((a, i) => a !== '--only' && args[i - 1] !== '--only');

/** Benchmarks that run before the rest, in this order. */
const FIRST = ['recorder'];

function benchmarks(): string[] {
  const names = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length));
  const first = FIRST.filter((n) => names.includes(n));
  const rest = names.filter((n) => !FIRST.includes(n)).sort();
  return [...first, ...rest].filter((n) => only === undefined || n === only);
}

const started = performance.now();
const names = benchmarks();
if (names.length === 0) {
  console.error(only === undefined ? 'No benchmarks found' : `No benchmark named ${only}`);
  process.exit(1);
}
console.log(`agent-trace benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
let failed = 0;
for (const name of names) {
  const res = spawnSync(process.execPath, [join(here, `${name}.bench.ts`), ...passOn], { stdio: 'inherit' });
  if (res.status !== 0) {
    failed++;
    console.error(`\n${name}: exited with ${res.status ?? res.signal}`);
  }
}
console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
