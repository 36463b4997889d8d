/**
 * The model core does no I/O (the project's layout rule: README.md, Layout): src/abi, src/arch, src/kernel,
 * src/program and src/codec import nothing that touches files, processes or the
 * network, and read no clock and no randomness.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PURE = ['src/abi', 'src/arch', 'src/kernel', 'src/program', 'src/codec'];
const IO_MODULE = /from\s+['"](node:)?(fs|fs\/promises|child_process|net|http|https|os|process|worker_threads|dgram|tls|readline)['"]|require\(/;
const IMPURE_GLOBAL = /(?<![\w-])(process\.|Date\.now|new Date\b|Math\.random|performance\.now|setTimeout|setInterval)/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('the pure core', () => {
  it('has files to check', () => {
    expect(PURE.flatMap(files).length).toBeGreaterThan(20);
  });

  for (const file of PURE.flatMap(files)) {
    it(`${file} imports no I/O and uses no clock or randomness`, () => {
      const text = readFileSync(file, 'utf8');
      expect(text.match(IO_MODULE)?.[0] ?? null).toBeNull();
      expect(text.match(IMPURE_GLOBAL)?.[0] ?? null).toBeNull();
      for (const m of text.matchAll(/from\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        // Relative imports must stay inside the pure core (no reaching into cli, store or linux).
        if (spec.startsWith('.')) expect(spec).not.toMatch(/\/(cli|store|linux)\//);
        else throw new Error(`${file} imports the package ${spec}`);
      }
    });
  }
});

/**
 * Data flows one way (README.md, Layout): cli → store → container/program → kernel ⇄ arch → abi, and
 * image → restore plan → executor (the model's, or linux's). Each folder of src/ may import only the
 * folders named here; the table itself has no circle, so neither can the folders. `codec` holds the
 * plain-data forms shared by images and host files; `disk` the atomic file writes both use.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  abi: [],
  arch: ['abi'],
  kernel: ['abi', 'arch'],
  program: ['abi', 'arch', 'kernel'],
  container: ['abi', 'arch', 'kernel', 'program'],
  codec: ['abi', 'arch', 'kernel'],
  disk: ['codec'],
  image: ['abi', 'arch', 'kernel', 'program', 'container', 'codec', 'disk'],
  linux: ['abi', 'arch', 'kernel', 'program', 'container', 'codec', 'disk', 'image'],
  store: ['abi', 'arch', 'kernel', 'program', 'container', 'codec', 'disk'],
  oci: ['abi', 'arch', 'kernel', 'codec', 'disk', 'image'],
  cli: ['abi', 'arch', 'kernel', 'program', 'container', 'codec', 'disk', 'image', 'linux', 'store', 'oci'],
};

/** importsOf lists a file's relative imports (static, re-exports and dynamic), resolved to paths under src/, and whether each is only of types. */
function importsOf(file: string, text = readFileSync(file, 'utf8')): Array<{ target: string; typeOnly: boolean }> {
  const out: Array<{ target: string; typeOnly: boolean }> = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const spec = m[4] ?? m[5]!;
    const names = m[3] ?? '';
    const typeOnly = m[2] !== undefined || (/^\{[^}]*\}$/.test(names.trim()) && names.replace(/[{}\s]/g, '').split(',').filter(Boolean).every((n) => n.startsWith('type')));
    out.push({ target: join(dirname(file), spec).replace(/\.js$/, '.ts'), typeOnly });
  }
  return out;
}

const folderOf = (file: string): string | null => /^src\/([^/]+)\//.exec(file)?.[1] ?? null;

/** wrongArrows lists what `file` (its text given, or read) imports from folders its own folder may not use. */
function wrongArrows(file: string, text?: string): string[] {
  const from = folderOf(file);
  if (from === null) return [];
  return importsOf(file, text)
    .map((i) => i.target)
    .filter((t) => {
      const to = folderOf(t);
      return to !== null && to !== from && !MAY_IMPORT[from]!.includes(to);
    });
}

/** valueCircles lists every circle of files importing each other for their values, in `graph` (file -> what it imports). */
function valueCircles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const done = new Set<string>();
  const circles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    const at = path.indexOf(file);
    if (at >= 0) {
      circles.push([...path.slice(at), file].join(' → '));
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next, path);
    path.pop();
    done.add(file);
  };
  for (const f of graph.keys()) visit(f, []);
  return circles;
}

/** valueGraph is the files' imports of values (type-only imports left out). */
const valueGraph = (files: ReadonlyArray<readonly [string, string | undefined]>): Map<string, string[]> =>
  new Map(files.map(([f, text]) => [f, importsOf(f, text).filter((i) => !i.typeOnly).map((i) => i.target)]));

describe('the direction of imports between folders', () => {
  const sources = files('src');

  it('names every folder of src/ in the table', () => {
    const folders = new Set(sources.map(folderOf).filter((f): f is string => f !== null));
    expect([...folders].filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });

  it('has no circle in the table of which folder may import which', () => {
    const seen = new Set<string>();
    const visit = (folder: string, path: readonly string[]): void => {
      if (path.includes(folder)) throw new Error(`circle: ${[...path, folder].join(' → ')}`);
      if (seen.has(folder)) return;
      for (const next of MAY_IMPORT[folder] ?? []) visit(next, [...path, folder]);
      seen.add(folder);
    };
    for (const folder of Object.keys(MAY_IMPORT)) visit(folder, []);
  });

  it('finds a wrong-way arrow when there is one (the check itself works)', () => {
    expect(MAY_IMPORT.kernel).not.toContain('program');
    expect(MAY_IMPORT.store).not.toContain('image');
    expect(importsOf('src/store/host-store.ts').some((i) => folderOf(i.target) === 'container')).toBe(true);
    // a new arrow the wrong way, in each form an import takes, is named; the right way is not
    expect(wrongArrows('src/kernel/new.ts', "import { libcOf } from '../program/libc.js';")).toEqual(['src/program/libc.ts']);
    expect(wrongArrows('src/kernel/new.ts', "import type { Machine } from '../container/machine.js';")).toEqual(['src/container/machine.ts']);
    expect(wrongArrows('src/store/new.ts', "const m = await import('../image/dump.js');")).toEqual(['src/image/dump.ts']);
    expect(wrongArrows('src/image/new.ts', "export { readProcess } from '../linux/proc.js';")).toEqual(['src/linux/proc.ts']);
    expect(wrongArrows('src/codec/deep/new.ts', "import { x } from '../../store/host-store.js';")).toEqual(['src/store/host-store.ts']);
    expect(wrongArrows('src/cli/new.ts', "import { Task } from '../kernel/task.js';\nimport { y } from './main.js';")).toEqual([]);
  });

  it('finds a circle of value imports, and leaves one closed only by a type import alone', () => {
    const files = [
      ['src/kernel/a.ts', "import { b } from './b.js';"],
      ['src/kernel/b.ts', "import { c } from './c.js';"],
      ['src/kernel/c.ts', "import { a } from './a.js';"],
      ['src/kernel/d.ts', "import { e } from './e.js';"],
      ['src/kernel/e.ts', "import type { D } from './d.js';"],
    ] as const;
    expect(valueCircles(valueGraph(files))).toEqual(['src/kernel/a.ts → src/kernel/b.ts → src/kernel/c.ts → src/kernel/a.ts']);
  });

  for (const file of sources) {
    const from = folderOf(file);
    if (from === null) continue; // src/index.ts, the public API, re-exports from everywhere
    it(`${file} imports only from folders ${from} may use`, () => {
      expect(wrongArrows(file)).toEqual([]);
    });
  }

  it('has no circle of files that import each other for their values (type-only imports aside)', () => {
    expect(valueCircles(valueGraph(sources.map((f) => [f, undefined] as const)))).toEqual([]);
  });
});
