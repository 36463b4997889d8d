/**
 * Image files: the streamed writer (batches on their way to the disk while
 * pages.bin is hashed, the manifest written into its place last) makes
 * exactly the bytes the in-memory encoder makes, and the reader's digests,
 * taken while reading, are those of the very bytes each entry is.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { digestsFor, EntryDigester, tarBytes, untar } from '../../src/image/archive.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { dumpContainer } from '../../src/image/dump.js';
import { ImageError } from '../../src/image/format.js';
import { decodeImage, encodeImage } from '../../src/image/image-codec.js';
import { readImageFile, writeImageFile } from '../../src/image/image-file.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/index.js';
import { BATCH_BYTES, writeFileAtomicallyStreamed } from '../../src/disk/atomic-file.js';
import { pageCount } from '../../src/codec/image-pages.js';

const dir = mkdtempSync(join(tmpdir(), 'ckpt-image-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** a container whose init holds `mib` MiB of distinct pages: pages.bin spans several of the writer's and reader's 16 MiB batches */
function containerWithPages(mib: number) {
  const m = Machine.create('p', 'x86_64');
  const c = m.run('big', 'idle.wl', 'program main\n  sleep 100000000\nend\n');
  m.scheduler.run(1);
  const base = c.init.mm.map(0, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const page = new Uint8Array(4096);
  for (let i = 0; i < (mib << 20) / 4096; i++) {
    new DataView(page.buffer).setUint32(i % 1024, i, true);
    c.init.mm.write(base + i * 4096, page);
  }
  return { m, c };
}

describe('writeImageFile', () => {
  it('writes the bytes encodeImage lays out, the manifest patched in with pages.bin\'s digest (hashed on a worker: over 32 MiB), and reports progress to the last byte', async () => {
    const { m, c } = containerWithPages(40);
    const img = dumpContainer(m, c, { shareFrames: true });
    const file = join(dir, 'big.tar');
    const progress: number[] = [];
    const size = await writeImageFile(file, img, { embedPrograms: true, onProgress: (done, total) => progress.push(done, total) });
    const expected = tarBytes(encodeImage(img, { embedPrograms: true }));
    const written = new Uint8Array(readFileSync(file));
    expect(size).toBe(expected.length);
    expect(sha(written)).toBe(sha(expected));
    expect(progress.at(-2)).toBe(size);
    expect(progress.at(-1)).toBe(size);
    expect(readdirSync(dir)).toEqual(['big.tar']);
  }, 60_000);

  it('reads back with a digest for every entry, equal to the SHA-256 of that entry\'s bytes, and decodes to what re-encodes to the file', async () => {
    const file = join(dir, 'big.tar');
    const progress: number[] = [];
    const { entries, digests } = await readImageFile(file, (done, total) => progress.push(done, total));
    expect(progress.slice(-2)).toEqual([statSync(file).size, statSync(file).size]);
    expect([...digests.keys()]).toEqual([...entries.keys()]);
    for (const [name, bytes] of entries) expect(digests.get(name), name).toBe(sha(bytes));
    const img = decodeImage(entries, undefined, digests);
    expect(pageCount(img.pages)).toBeGreaterThan((40 << 20) / 4096);
    expect(sha(tarBytes(encodeImage(img, { embedPrograms: true })))).toBe(sha(new Uint8Array(readFileSync(file))));
  }, 60_000);

  it('refuses a file cut short while it is read as it refuses any truncated image', async () => {
    const file = join(dir, 'cut.tar');
    const { m, c } = containerWithPages(20);
    await writeImageFile(file, dumpContainer(m, c, { shareFrames: true }));
    truncateSync(file, 17 << 20);
    await expect(readImageFile(file)).rejects.toMatchObject({ code: 'CKPT_TRUNCATED' });
    await expect(readImageFile(join(dir, 'missing.tar'))).rejects.toThrow(ImageError);
  }, 60_000);
});

describe('EntryDigester and digestsFor', () => {
  const archive = tarBytes([
    ['manifest.cbor', new Uint8Array(700).fill(1)],
    ['manifest.sha256', new Uint8Array(3).fill(2)],
  ]);

  it('digest each entry however the bytes arrive', () => {
    for (const step of [1, 100, 512, 513, 4096]) {
      const d = new EntryDigester(archive);
      for (let at = step; at < archive.length + step; at += step) d.advance(Math.min(at, archive.length));
      expect(digestsFor(archive, untar(archive), d.digested)).toEqual(
        new Map([
          ['manifest.cbor', sha(new Uint8Array(700).fill(1))],
          ['manifest.sha256', sha(new Uint8Array(3).fill(2))],
        ]),
      );
    }
  });

  it('keep a digest only for the very bytes untar hands out as that entry', () => {
    const entries = untar(archive);
    const view = entries.get('manifest.cbor')!;
    const start = view.byteOffset - archive.byteOffset;
    const wrong = new Map([
      ['manifest.cbor', { start: start + 1, end: start + 1 + view.length, digest: 'x' }],
      ['manifest.sha256', { start: 0, end: 3, digest: 'y' }],
    ]);
    expect(digestsFor(archive, entries, wrong)).toEqual(new Map());
    expect(digestsFor(archive.slice(), entries, new Map([['manifest.cbor', { start, end: start + view.length, digest: 'z' }]]))).toEqual(new Map());
  });
});

describe('writeFileAtomicallyStreamed', () => {
  it('writes chunks larger and smaller than a batch in order, each batch shown to onBatch in shared memory at its offset, then the patches; a failure leaves no file', async () => {
    const big = new Uint8Array(40 << 20).map((_, i) => i * 7);
    const chunks = [Uint8Array.of(1, 2, 3), big, ...Array.from({ length: 5000 }, (_, i) => Uint8Array.of(i & 0xff)), new Uint8Array(9)];
    const seen: Array<{ at: number; sha: string; shared: boolean }> = [];
    const file = join(dir, 'streamed.bin');
    await writeFileAtomicallyStreamed(file, chunks, {
      onBatch: (bytes, at) => void seen.push({ at, sha: sha(bytes), shared: bytes.buffer instanceof SharedArrayBuffer }),
      patches: async () => [{ at: 1, bytes: Uint8Array.of(9, 9) }],
    });
    const unpatched = concatBytes(chunks);
    const expected = unpatched.slice();
    expected.set([9, 9], 1);
    expect(sha(new Uint8Array(readFileSync(file)))).toBe(sha(expected));
    // the batches tile the file in order, each BATCH_BYTES but the last, and are what the file holds there before the patches
    const offsets = seen.map((b) => b.at);
    expect(offsets).toEqual(offsets.map((_, k) => k * BATCH_BYTES));
    expect(seen.map((b) => b.sha)).toEqual(offsets.map((at) => sha(unpatched.subarray(at, at + BATCH_BYTES))));
    expect(seen.every((b) => b.shared)).toBe(true);

    const failed = join(dir, 'failed.bin');
    await expect(
      writeFileAtomicallyStreamed(failed, chunks, {
        patches: () => {
          throw new Error('no digest');
        },
      }),
    ).rejects.toThrow('no digest');
    expect(readdirSync(dir).filter((f) => f.includes('failed'))).toEqual([]);
  }, 60_000);
});
