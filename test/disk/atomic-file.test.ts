/** writeFileAtomically: whole files only, written in order, and the leftovers of killed writers swept. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomically } from '../../src/disk/atomic-file.js';

describe('writeFileAtomically', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-atomic-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes many chunks in order (more than one writev takes) and leaves no temporary file', () => {
    const chunks = Array.from({ length: 3000 }, (_, i) => Uint8Array.from([i & 0xff, i >> 8]));
    writeFileAtomically(join(dir, 'a.bin'), chunks);
    expect([...readFileSync(join(dir, 'a.bin'))]).toEqual(chunks.flatMap((c) => [...c]));
    expect(readdirSync(dir)).toEqual(['a.bin']);
  });

  it('removes the temporary files of writers that are gone, and only those, on the next write of the same path', () => {
    const dead = spawnSync('true').pid!;
    const live = process.ppid;
    writeFileSync(join(dir, `.b.tar.${dead}.tmp`), 'half');
    writeFileSync(join(dir, `.b.tar.${live}.tmp`), 'busy');
    writeFileSync(join(dir, `.other.tar.${dead}.tmp`), 'not ours');
    writeFileAtomically(join(dir, 'b.tar'), new Uint8Array([1]));
    expect(readdirSync(dir).sort()).toEqual([`.b.tar.${live}.tmp`, `.other.tar.${dead}.tmp`, 'a.bin', 'b.tar'].sort());
  });
});
