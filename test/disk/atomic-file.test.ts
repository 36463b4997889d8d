/** writeFileAtomically: whole files only, written in order, and the leftovers of killed writers swept. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_BYTES, syncDirectory, writeFileAtomically, writeFileAtomicallyStreamed, writeFileDurably } from '../../src/disk/atomic-file.js';

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

  it('writes a file durably in place: many chunks in order, over what lay there, with no temporary file', () => {
    const sub = mkdtempSync(join(dir, 'durable-'));
    writeFileSync(join(sub, 'c.part'), 'an older and much longer content than the new one');
    const chunks = Array.from({ length: 2000 }, (_, i) => Uint8Array.from([i & 0xff]));
    writeFileDurably(join(sub, 'c.part'), chunks);
    syncDirectory(sub);
    expect([...readFileSync(join(sub, 'c.part'))]).toEqual(chunks.map((c) => c[0]));
    expect(readdirSync(sub)).toEqual(['c.part']);
  });

  it('streams a large chunk that lies in shared memory as it lies: its batches are views of it, in order, between the staged ones', async () => {
    const big = new Uint8Array(new SharedArrayBuffer(BATCH_BYTES * 2 + 12345));
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
    const chunks = [Uint8Array.of(1, 2, 3), big, ...Array.from({ length: 300 }, (_, i) => Uint8Array.of(i & 0xff)), new Uint8Array(9)];
    const seen: Array<{ at: number; length: number; own: boolean }> = [];
    const file = join(dir, 'shared.bin');
    await writeFileAtomicallyStreamed(file, chunks, { onBatch: (bytes, at) => void seen.push({ at, length: bytes.length, own: bytes.buffer === big.buffer }) });
    const expected = Buffer.concat(chunks);
    expect(createHash('sha256').update(new Uint8Array(readFileSync(file))).digest('hex')).toBe(createHash('sha256').update(new Uint8Array(expected)).digest('hex'));
    // the batches tile the file in order; the big chunk's are views of its own memory, no copy
    let at = 0;
    for (const b of seen) {
      expect(b.at).toBe(at);
      at += b.length;
    }
    expect(at).toBe(expected.length);
    expect(seen.filter((b) => b.own).map((b) => b.length)).toEqual([BATCH_BYTES, BATCH_BYTES, 12345]);
    expect(seen.filter((b) => !b.own).map((b) => b.length)).toEqual([3, 300 + 9]);
  });
});

