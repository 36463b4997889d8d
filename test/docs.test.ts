/**
 * The repository cites only what a fresh clone has: upstream sources (kernel
 * files and versions, patches, man pages) or its own docs/semantics.md. No
 * file under src/, test/, bench/, images/ or docs/, nor README.md, may cite
 * the design and research notes kept outside the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOTS = ['src', 'test', 'bench', 'images', 'docs'];
const FILES = ['README.md'];

/**
 * The notes outside the repository, by file name, and the shared folder that holds them. The names
 * are assembled from parts so that this file, which must name them to find them, cites none itself.
 */
const OUTSIDE_NOTES = [['eclone', 'spec'], ['arch', 'layouts'], ['real', 'kernel'], ['peers'], ['aesthetics'], ['DESIGN']].map((parts) => parts.join('-'));
const SHARED = ['shared', 'research'].join('/');
const OUTSIDE = new RegExp(`(?<![\\w-])(${OUTSIDE_NOTES.join('|')})\\.md\\b|\\.\\./shared\\b|\\b${SHARED}\\b`);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** citations lists each line of `text` that cites a note outside the repository. */
function citations(text: string): string[] {
  return text.split('\n').filter((line) => OUTSIDE.test(line));
}

describe('citations', () => {
  it('recognises every way of citing the outside notes, and not the repository\'s own documents', () => {
    for (const note of OUTSIDE_NOTES) expect(citations(`see ${note}.md §1.7 step 9`)).toHaveLength(1);
    expect(citations(`(../${SHARED}/x.md)`)).toHaveLength(1);
    expect(citations(`/work/${SHARED}/x.md`)).toHaveLength(1);
    expect(citations('docs/semantics.md §4.4; images/FORMAT.md; images/workloads/README.md')).toEqual([]);
    expect(citations('kernel/pid.c alloc_pid, Linux 6.x; clone(2)')).toEqual([]);
  });

  // Golden images are read too (as latin1): a tar could carry a comment that cites the notes.
  const all = [...ROOTS.flatMap(files), ...FILES];

  it('has the repository\'s files to check', () => {
    expect(all.length).toBeGreaterThan(150);
    expect(all).toContain(join('docs', 'semantics.md'));
  });

  for (const file of all) {
    it(`${file} cites nothing outside the repository`, () => {
      expect(citations(readFileSync(file, 'latin1'))).toEqual([]);
    });
  }
});
