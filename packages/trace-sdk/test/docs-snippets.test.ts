/**
 * Every code block in README.md and docs/*.md that a reader would paste stays true:
 *
 * - ```ts blocks are typechecked, all in one program, against the workspace packages' sources (the
 *   `source` export condition) with the repository's strict settings. A block may be preceded by
 *   `<!-- doc-test: prelude ... -->`, code prepended to it (imports, `declare const` for names the
 *   prose supplies); the prelude is in the markdown, so a reader sees what the block assumes.
 * - ```sh blocks are run with bash (`-e -o pipefail`) in a scratch directory laid out like a project
 *   that installed the SDK: the `package.json` `npm init -y` writes ("type": "commonjs"),
 *   `node_modules/@agent-trace/trace-sdk` and the `agent-trace` bin (the
 *   built package), a real `trace.jsonl.gz`, and every ```ts block of the same file marked
 *   `<!-- doc-test: file <name> -->` written there under that name, so `node quickstart.mts` runs
 *   the README's own code, and a `spool/` directory holding one artifact whose upload failed.
 * - `<!-- doc-test: package <dir> -->` compiles a block inside another workspace package (the CDK
 *   blocks need aws-cdk-lib), and `<!-- doc-test: this <Type> -->` wraps a block written inside a
 *   Stack constructor in a function with that `this`.
 * - A block that cannot run offline says why: `<!-- doc-test: skip <reason> -->` directly above it.
 *   Skips are counted and listed; a skip without a reason fails.
 *
 * Needs a built `dist/` for the shell blocks (`pnpm build` runs before `pnpm test` in CI).
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTraceRecorder,
  fileTransport,
  type TraceTransport,
  traceKey,
  UploadError,
} from '../src/index.js';

const run = promisify(execFile);
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = join(PACKAGE_DIR, '../..');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

/** A fenced code block and the `doc-test` comments directly above it. */
interface DocBlock {
  readonly doc: string;
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  readonly skip?: string;
  readonly prelude?: string;
  readonly file?: string;
  /** `doc-test: package <dir>`: compile in a scratch project inside that package (its dependencies). */
  readonly packageDir?: string;
  /** `doc-test: this <Type>`: the block is the body of a function with that `this` (a Stack constructor). */
  readonly thisType?: string;
}

const SHELL = new Set(['sh', 'bash', 'shell']);
const TYPESCRIPT = new Set(['ts', 'typescript']);

/** The `doc-test:` comments that end right above line `index` (blank lines and other comments between are allowed). */
function annotationsAbove(lines: readonly string[], index: number): Array<{ kind: string; body: string }> {
  const found: Array<{ kind: string; body: string }> = [];
  let i = index - 1;
  while (i >= 0) {
    if (lines[i]!.trim() === '') {
      i--;
      continue;
    }
    if (!lines[i]!.trim().endsWith('-->')) break;
    let start = i;
    while (start >= 0 && !lines[start]!.includes('<!--')) start--;
    if (start < 0) break;
    const text = lines
      .slice(start, i + 1)
      .join('\n')
      .trim()
      .replace(/^<!--\s*/, '')
      .replace(/\s*-->$/, '');
    const match = /^doc-test:\s*(\w+)\s*([\s\S]*)$/.exec(text);
    if (match !== null) found.push({ kind: match[1]!, body: match[2]!.trim() });
    i = start - 1;
  }
  return found;
}

function blocksOf(doc: string): DocBlock[] {
  const lines = readFileSync(join(REPO, doc), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!.slice(indent));
    const block: { -readonly [K in keyof DocBlock]: DocBlock[K] } = {
      doc,
      line: i + 1,
      lang: open[2]!,
      code: `${body.join('\n')}\n`,
    };
    for (const { kind, body: text } of annotationsAbove(lines, i)) {
      if (kind === 'skip') block.skip = text;
      else if (kind === 'prelude') block.prelude = text;
      else if (kind === 'file') block.file = text;
      else if (kind === 'package') block.packageDir = text;
      else if (kind === 'this') block.thisType = text;
      else throw new Error(`${doc}:${i + 1}: unknown doc-test annotation "${kind}"`);
    }
    blocks.push(block);
    i = j;
  }
  return blocks;
}

const DOCS = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const ALL = DOCS.flatMap(blocksOf).filter((b) => SHELL.has(b.lang) || TYPESCRIPT.has(b.lang));
const name = (b: DocBlock) => `${b.doc}:${b.line} (${b.lang})`;
const tsFile = (b: DocBlock) => `${b.doc.replace(/[/.]/g, '_')}_${b.line}.ts`;

let tsErrors = new Map<string, string[]>();
const projectDirs: string[] = [];
let sandbox: string;

/**
 * The block's source file: prelude, then the block. With `this <Type>`, the block's imports are
 * hoisted and the rest becomes the body of a function whose `this` is that type (CDK code written
 * inside a Stack's constructor).
 */
function blockSource(b: DocBlock): string {
  if (b.thisType === undefined) return `${b.prelude ?? ''}\n${b.code}\nexport {};\n`;
  const imports: string[] = [];
  const body: string[] = [];
  let inImport = false;
  for (const line of b.code.split('\n')) {
    if (inImport || /^import\s/.test(line)) {
      imports.push(line);
      inImport = !line.trimEnd().endsWith(';');
    } else body.push(line);
  }
  return (
    `${imports.join('\n')}\n${b.prelude ?? ''}\n` +
    `export async function docBlock(this: ${b.thisType}) {\n${body.join('\n')}\n}\n`
  );
}

/**
 * Typechecks the ts blocks that compile in `packageDir` (one tsc program, one file per block),
 * from a scratch project inside that package so imports resolve through its own dependencies.
 */
async function typecheckIn(packageDir: string, blocks: readonly DocBlock[]): Promise<Map<string, string[]>> {
  const projectDir = mkdtempSync(join(packageDir, '.doc-blocks-'));
  projectDirs.push(projectDir);
  // No package.json of its own: the package's (ESM) applies, so a block may import the package by
  // its own name (self-reference), as its users do.
  const files = blocks.map((b) => {
    writeFileSync(join(projectDir, tsFile(b)), blockSource(b));
    return tsFile(b);
  });
  writeFileSync(
    join(projectDir, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(projectDir, join(REPO, 'tsconfig.base.json')),
      // Readers paste blocks into ordinary projects: type-only imports without `import type` are fine.
      compilerOptions: {
        noEmit: true,
        verbatimModuleSyntax: false,
        skipLibCheck: true,
        // As in the packages' own tsconfig: the `source` condition also reaches dependencies that
        // publish their TypeScript sources (eventsource-parser, via the AI SDK).
        allowImportingTsExtensions: true,
        rootDir: relative(projectDir, REPO),
      },
      files,
    }),
  );
  const errors = new Map<string, string[]>(files.map((f) => [f, []]));
  try {
    await run(process.execPath, [TSC, '-p', projectDir], { cwd: projectDir, timeout: 120_000 });
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}`;
    for (const line of out.split('\n')) {
      const file = files.find((f) => line.startsWith(f));
      if (file !== undefined) errors.get(file)!.push(line);
      else if (line.trim() !== '' && !line.startsWith(' ')) {
        // An error outside the blocks (e.g. the config itself) fails every block.
        for (const list of errors.values()) list.push(line);
      }
    }
  }
  return errors;
}

/** Typechecks every ts block, grouped by the package each compiles in (`doc-test: package`). */
async function typecheckBlocks(): Promise<Map<string, string[]>> {
  const byPackage = new Map<string, DocBlock[]>();
  for (const b of ALL) {
    if (!TYPESCRIPT.has(b.lang) || b.skip !== undefined) continue;
    const dir = join(REPO, b.packageDir ?? 'packages/trace-sdk');
    byPackage.set(dir, [...(byPackage.get(dir) ?? []), b]);
  }
  const results = await Promise.all([...byPackage].map(([dir, blocks]) => typecheckIn(dir, blocks)));
  return new Map(results.flatMap((m) => [...m]));
}

/** A scratch project: the built SDK linked in, a recorded trace, and the docs' named files. */
async function makeSandbox(): Promise<string> {
  if (!existsSync(join(PACKAGE_DIR, 'dist/index.js')))
    throw new Error('the SDK is not built: run `pnpm build` first');
  const dir = mkdtempSync(join(tmpdir(), 'agent-trace-doc-sh-'));
  // The package.json `npm init -y` writes (npm 11 says "type": "commonjs"): a reader's project is
  // usually that, so a block that only runs in an ESM package would fail here as it fails for them.
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'doc-reader', version: '1.0.0', main: 'index.js', type: 'commonjs' }, null, 2),
  );
  mkdirSync(join(dir, 'node_modules/@agent-trace'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/.bin'));
  symlinkSync(PACKAGE_DIR, join(dir, 'node_modules/@agent-trace/trace-sdk'));
  symlinkSync(join(PACKAGE_DIR, 'bin/agent-trace.js'), join(dir, 'node_modules/.bin/agent-trace'));
  const out = join(dir, 'recorded');
  const rec = createTraceRecorder({
    userId: 'user-1',
    taskId: 'task-1',
    transport: fileTransport({ dir: out }),
  });
  rec.recordTurn({ turn: 1, model: 'claude-sonnet', text: 'hello' });
  await rec.finish();
  writeFileSync(
    join(dir, 'trace.jsonl.gz'),
    readFileSync(join(out, traceKey({ userId: 'user-1', taskId: 'task-1' }))),
  );
  // A spool holding one artifact whose upload failed, for the `spool list` / `spool flush` blocks.
  const down: TraceTransport = {
    name: 'down',
    upload: async () => {
      throw new UploadError('ERR_UPLOAD_NETWORK', 'the endpoint is down', {
        retryable: false,
        transport: 'down',
      });
    },
  };
  const failing = createTraceRecorder({
    userId: 'user-1',
    taskId: 'task-2',
    transport: down,
    spoolDir: join(dir, 'spool'),
  });
  failing.recordTurn({ turn: 1, model: 'claude-sonnet', text: 'hello' });
  expect((await failing.finish()).status).toBe('failed');
  return dir;
}

beforeAll(async () => {
  [tsErrors, sandbox] = await Promise.all([typecheckBlocks(), makeSandbox()]);
  const skipped = ALL.filter((b) => b.skip !== undefined);
  // Reported so the skipped blocks stay visible in every test log.
  console.info(
    `doc blocks: ${ALL.length - skipped.length} checked, ${skipped.length} skipped\n` +
      skipped.map((b) => `  skipped ${name(b)}: ${b.skip}`).join('\n'),
  );
}, 180_000);

afterAll(() => {
  for (const dir of projectDirs) rmSync(dir, { recursive: true, force: true });
  if (sandbox !== undefined) rmSync(sandbox, { recursive: true, force: true });
});

describe('doc blocks', () => {
  it('every skip gives a reason', () => {
    for (const b of ALL) if (b.skip !== undefined) expect(b.skip, name(b)).toMatch(/\w{3,}.*\w{3,}/);
  });

  for (const b of ALL.filter((x) => TYPESCRIPT.has(x.lang) && x.skip === undefined)) {
    it(`typechecks ${name(b)}`, () => {
      expect(tsErrors.get(tsFile(b))).toEqual([]);
    });
  }

  for (const b of ALL.filter((x) => SHELL.has(x.lang) && x.skip === undefined)) {
    it(`runs ${name(b)}`, async () => {
      for (const f of ALL.filter((x) => x.doc === b.doc && x.file !== undefined)) {
        writeFileSync(join(sandbox, f.file!), f.code);
      }
      const env = {
        ...process.env,
        PATH: `${join(sandbox, 'node_modules/.bin')}:${process.env['PATH'] ?? ''}`,
        NODE_NO_WARNINGS: '1',
        npm_config_offline: 'true',
      };
      try {
        await run('bash', ['-e', '-o', 'pipefail', '-c', b.code], { cwd: sandbox, env, timeout: 60_000 });
      } catch (err) {
        const e = err as { code?: unknown; stdout?: string; stderr?: string };
        throw new Error(`${name(b)} failed (exit ${String(e.code)}):\n${e.stderr ?? ''}${e.stdout ?? ''}`);
      }
    }, 90_000);
  }
});
