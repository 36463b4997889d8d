/**
 * The repository's top level is fixed: package.json, package-lock.json, tsconfig.json, bin/, src/,
 * images/, test/, bench/, docs/, .ci/, README.md (and .gitignore). A stray file committed at the top
 * (a test's or a command's leftover, e.g. an err.txt) fails here. Reads what git tracks, so files a
 * build or a run leaves in a working tree (dist/, node_modules/, an image a dump wrote) do not count.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const TOP_LEVEL = ['.ci', '.gitignore', 'README.md', 'bench', 'bin', 'docs', 'images', 'package-lock.json', 'package.json', 'src', 'test', 'tsconfig.json'];

/** tracked is what git tracks at the top of the repository, or null outside a git checkout (a packed copy). */
function tracked(): string[] | null {
  if (!existsSync('.git')) return null;
  try {
    const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
    return [...new Set(files.map((f) => f.split('/')[0]!))].sort();
  } catch {
    return null;
  }
}

const top = tracked();
if (top === null) console.log('test/layout: skipped: not a git checkout (or no git program)');

describe.skipIf(top === null)(`the repository's top level${top === null ? ' (skipped: not a git checkout)' : ''}`, () => {
  it('holds only the fixed entries', () => {
    expect(top!.filter((name) => !TOP_LEVEL.includes(name))).toEqual([]);
  });
});
