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
function importsOf(file: string): Array<{ target: string; typeOnly: boolean }> {
  const text = readFileSync(file, 'utf8');
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
  });

  for (const file of sources) {
    const from = folderOf(file);
    if (from === null) continue; // src/index.ts, the public API, re-exports from everywhere
    it(`${file} imports only from folders ${from} may use`, () => {
      const wrong = importsOf(file)
        .map((i) => i.target)
        .filter((t) => {
          const to = folderOf(t);
          return to !== null && to !== from && !MAY_IMPORT[from]!.includes(to);
        });
      expect(wrong).toEqual([]);
    });
  }

  it('has no circle of files that import each other for their values (type-only imports aside)', () => {
    const graph = new Map(sources.map((f) => [f, importsOf(f).filter((i) => !i.typeOnly).map((i) => i.target)]));
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
    for (const f of sources) visit(f, []);
    expect(circles).toEqual([]);
  });
});
