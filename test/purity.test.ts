/**
 * The model core does no I/O (the project's layout rule: README.md, Layout): src/abi, src/arch, src/kernel
 * and src/program import nothing that touches files, processes or the
 * network, and read no clock and no randomness.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PURE = ['src/abi', 'src/arch', 'src/kernel', 'src/program'];
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
