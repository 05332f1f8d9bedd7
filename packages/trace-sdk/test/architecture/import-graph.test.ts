/**
 * The layering of packages/trace-sdk/src, checked on the real import graph so it stays:
 * record → spool → upload → protocol, with orchestrator/ and lambda/ on protocol/ and never on each
 * other, and no cycle between folders. Top-level files are the base layer (errors, sanitize, key)
 * or the entry layer (index.ts, config.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Top-level files of src/ form the base layer that everything may use (errors, sanitize, key, ...). */
const BASE = '(base)';
/** The package's entry files, which assemble the layers (the root export list, config → transport). */
const ENTRY = '(entry)';
const ENTRY_FILES = new Set(['index.ts', 'config.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** A folder, or a top-level file (each its own node, so base files may use each other). */
function nodeOf(file: string): string {
  const rel = relative(SRC, file).split(sep);
  return rel.length > 1 ? `${rel[0]!}/` : rel[0]!;
}

/** The layer of a node: its folder, or the base or entry layer for a top-level file. */
function layerOf(node: string): string {
  if (node.endsWith('/')) return node.slice(0, -1);
  return ENTRY_FILES.has(node) ? ENTRY : BASE;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g;
const DYNAMIC = /import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** node → nodes it imports (relative imports only; packages are not layers). */
function importGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = nodeOf(file);
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(IMPORT), ...text.matchAll(DYNAMIC)].map((m) => m[1]!);
    for (const target of targets) {
      const to = nodeOf(resolve(dirname(file), target.replace(/\.js$/, '.ts')));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
  }
  return graph;
}

/** Which folders each folder may import. Anything not listed is forbidden. */
const ALLOWED: Record<string, readonly string[]> = {
  // sanitize.ts applies the redaction rules (serialize/redact.ts, a leaf) to error text.
  [BASE]: ['serialize'],
  [ENTRY]: [BASE, 'protocol', 'upload', 'record', 'spool', 'serialize', 'read'],
  protocol: [BASE],
  serialize: [BASE, 'telemetry'],
  compress: [BASE],
  telemetry: [BASE],
  read: [BASE, 'compress', 'protocol'],
  upload: [BASE, 'protocol', 'telemetry'],
  spool: [BASE, 'compress', 'upload', 'protocol', 'read'],
  record: [BASE, 'serialize', 'compress', 'spool', 'upload', 'protocol', 'telemetry'],
  orchestrator: [BASE, 'protocol'],
  lambda: [BASE, 'protocol', 'upload'],
  cli: [
    BASE,
    ENTRY,
    'protocol',
    'upload',
    'spool',
    'record',
    'read',
    'compress',
    'serialize',
    'orchestrator',
  ],
  integrations: [BASE, 'record', 'upload', 'read', 'telemetry'],
};

describe('the import graph of src/', () => {
  const graph = importGraph();
  /** The same graph between layers. */
  const layers = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    for (const to of tos) {
      const [a, b] = [layerOf(from), layerOf(to)];
      if (a === b) continue;
      if (!layers.has(a)) layers.set(a, new Set());
      layers.get(a)!.add(b);
    }
  }

  it('has no cycle between folders (or top-level files)', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (done.has(node)) return;
      if (visiting.has(node)) {
        cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
        return;
      }
      visiting.add(node);
      for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
      visiting.delete(node);
      done.add(node);
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });

  it('imports only along the allowed layers', () => {
    const violations: string[] = [];
    for (const [from, tos] of layers) {
      const allowed = ALLOWED[from];
      if (allowed === undefined) {
        violations.push(`${from}/ is a new folder: add its layer to ALLOWED`);
        continue;
      }
      for (const to of tos) if (!allowed.includes(to)) violations.push(`${from}/ imports ${to}/`);
    }
    expect(violations).toEqual([]);
  });

  it('keeps orchestrator/ and lambda/ apart, and upload/ below spool/ and record/', () => {
    expect(layers.get('orchestrator')?.has('lambda') ?? false).toBe(false);
    expect(layers.get('lambda')?.has('orchestrator') ?? false).toBe(false);
    for (const above of ['spool', 'record', 'cli', 'orchestrator', 'lambda']) {
      expect(layers.get('upload')?.has(above) ?? false, `upload/ imports ${above}/`).toBe(false);
    }
    expect(layers.get('protocol') ?? new Set(), 'protocol/ uses the base layer only').toEqual(
      new Set([BASE]),
    );
  });
});
