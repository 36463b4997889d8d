/**
 * Issue 5, archive safety: every kind of tar entry an image may not hold is
 * refused as CKPT_BAD_ARCHIVE by restore, check and inspect, with nothing
 * written anywhere; the image path itself must be a regular file; a dump
 * writes only its output file; and reading is bounded by the bytes really
 * there, whatever a header or a CBOR length claims (checked in a child
 * process with a small heap).
 */
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Header } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarBytes, untar } from '../../src/image/archive.js';
import { ckptIn } from '../cli/run-ckpt.js';

const golden = new Uint8Array(readFileSync('images/golden/x86_64-nested.tar'));
const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));

/** entry builds one tar header + data, with whatever type, path, link or claimed size. */
function entry(path: string, data: Uint8Array, opts: { type?: string; linkpath?: string; size?: number } = {}): Uint8Array {
  const h = new Header({ path, mode: 0o644, uid: 0, gid: 0, size: opts.size ?? data.length, mtime: new Date(0), type: (opts.type ?? 'File') as 'File', uname: '', gname: '', linkpath: opts.linkpath ?? '', ...(opts.type?.endsWith('Device') ? { devmaj: 1, devmin: 3 } : {}) });
  const block = Buffer.alloc(512);
  h.encode(block, 0);
  const pad = new Uint8Array((512 - (data.length % 512)) % 512);
  return Uint8Array.from([...block, ...data, ...pad]);
}

/** archive puts `evil` first, before the image's own entries (or after the manifest). */
function withEvil(evil: Uint8Array, afterManifest = false): Uint8Array {
  const good = [...untar(golden)].map(([n, b]) => entry(n, b));
  const parts = afterManifest ? [good[0]!, evil, ...good.slice(1)] : [evil, ...good];
  return Uint8Array.from([...parts.flatMap((p) => [...p]), ...new Uint8Array(1024)]);
}

/** Each: what, the archive, what the refusal says and its code (a tar whose first entry is not the manifest is not a ckpt image at all). */
const HOSTILE: Array<[string, Uint8Array, RegExp, string]> = [
  ['an absolute path', withEvil(entry('/etc/cron.d/evil', new Uint8Array([1]))), /a tar archive whose first entry is "\/etc\/cron.d\/evil", not manifest.cbor/, 'CKPT_NOT_AN_IMAGE'],
  ['a path with ..', withEvil(entry('../../evil', new Uint8Array([1]))), /first entry is "..\/..\/evil"/, 'CKPT_NOT_AN_IMAGE'],
  ['a symlink', withEvil(entry('manifest.cbor', new Uint8Array(), { type: 'SymbolicLink', linkpath: '/etc/shadow' })), /is a SymbolicLink, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['a hardlink', withEvil(entry('tasks.cbor', new Uint8Array(), { type: 'Link', linkpath: '/etc/shadow' }), true), /is a Link, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['a character device', withEvil(entry('dev', new Uint8Array(), { type: 'CharacterDevice' })), /first entry is "dev"/, 'CKPT_NOT_AN_IMAGE'],
  ['a character device after the manifest', withEvil(entry('dev', new Uint8Array(), { type: 'CharacterDevice' }), true), /is a CharacterDevice, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['a block device', withEvil(entry('sda', new Uint8Array(), { type: 'BlockDevice' }), true), /is a BlockDevice, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['a FIFO', withEvil(entry('fifo', new Uint8Array(), { type: 'FIFO' }), true), /is a FIFO, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['a directory', withEvil(entry('hosts/', new Uint8Array(), { type: 'Directory' }), true), /is a Directory, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['a pax header', withEvil(entry('PaxHeader', new Uint8Array(), { type: 'ExtendedHeader' }), true), /is a ExtendedHeader, not a regular file/, 'CKPT_BAD_ARCHIVE'],
  ['an unknown entry', withEvil(entry('notes.txt', new Uint8Array([1, 2])), true), /unexpected entry "notes.txt"/, 'CKPT_BAD_ARCHIVE'],
  ['an entry claiming 8 GiB', withEvil(entry('manifest.cbor', new Uint8Array(), { size: 8 * 1024 ** 3 - 1 })), /the image is truncated: entry manifest.cbor has \d+ of its 8589934591 bytes/, 'CKPT_TRUNCATED'],
  ['an entry claiming more than is left', withEvil(entry('manifest.cbor', new Uint8Array(100), { size: 5000 })), /not followed by zero padding/, 'CKPT_BAD_ARCHIVE'],
];

/** listing names every file under `dir` with its size and mtime, to show nothing was written. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe('archive safety', () => {
  let dir: string;
  let root: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ckpt-archive-'));
    root = join(dir, 'state');
    await ckptIn(root, ['host', 'create', 'default', '--arch', 'x86_64']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [what, bytes, message, code] of HOSTILE) {
    it(`${what} is refused by restore, check and inspect, and nothing is written`, async () => {
      const file = join(dir, 'evil.tar');
      writeFileSync(file, bytes);
      expect(() => untar(bytes)).toThrow(message);
      const before = listing(dir);
      for (const argv of [['restore', file], ['check', file, '--json'], ['inspect', file]]) {
        const r = await ckptIn(root, argv);
        expect(r.code, argv.join(' ')).toBe(1);
        const said = argv[0] === 'check' ? JSON.parse(r.out).reasons[0] : { code: r.err.match(/\[(CKPT_\w+)\]/)?.[1], message: r.err };
        expect(said.code).toBe(code);
        expect(said.message).toMatch(message);
      }
      expect(listing(dir)).toEqual(before);
      expect(existsSync('/etc/cron.d/evil')).toBe(false);
    });
  }

  it('the image path must be a regular file: a FIFO, a directory and /dev/zero are refused at once', async () => {
    const fifo = join(dir, 'fifo.tar');
    execFileSync('mkfifo', [fifo]);
    mkdirSync(join(dir, 'adir.tar'));
    for (const path of [fifo, join(dir, 'adir.tar'), '/dev/zero']) {
      const r = await ckptIn(root, ['inspect', path]);
      expect(r.code).toBe(1);
      expect(r.err).toBe(`ckpt: image ${path} is not a regular file [CKPT_READ_FAILED]`);
    }
    const missing = await ckptIn(root, ['restore', join(dir, 'nothing.tar')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`ckpt: cannot read image ${join(dir, 'nothing.tar')}: ENOENT [CKPT_READ_FAILED]`);
  });

  it('a dump writes its output file and nothing else, and replaces a symlink at that path instead of writing through it', async () => {
    await ckptIn(root, ['run', 'web', 'images/workloads/nested.wl', '--steps', '20']);
    const out = join(dir, 'out');
    mkdirSync(out);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(out, 'web.tar'));
    // without --force an existing path is refused, a symlink too; with it, the symlink is replaced
    const refused = await ckptIn(root, ['dump', 'web', '-o', join(out, 'web.tar'), '--leave-running']);
    expect(refused.err).toBe(`ckpt: ${join(out, 'web.tar')} exists; give --force to replace it [CKPT_OUTPUT_EXISTS]`);
    expect(readlinkSync(join(out, 'web.tar'))).toBe(victim);
    const r = await ckptIn(root, ['dump', 'web', '-o', join(out, 'web.tar'), '--leave-running', '--force']);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['web.tar']);
    expect(lstatSync(join(out, 'web.tar')).isFile()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(untar(new Uint8Array(readFileSync(join(out, 'web.tar')))).size).toBe(9);
    // a dump that fails (no such container) leaves no file at all
    const bad = await ckptIn(root, ['dump', 'nope', '-o', join(out, 'nope.tar')]);
    expect(bad.code).toBe(1);
    expect(readdirSync(out)).toEqual(['web.tar']);
  });

  it.skipIf(!built)('reading is bounded by the real data: hostile claims do not exhaust a 64 MiB heap, and a 32 MiB image reads in a small multiple of its size', async () => {
    const bombs: Uint8Array[] = [
      withEvil(entry('manifest.cbor', new Uint8Array(), { size: 8 * 1024 ** 3 - 1 })),
      // records whose CBOR claims 2^32-1 array elements, a 2^40-byte string, a 2^30-entry map
      ...[[0x9b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1], [0x5b, 0, 0, 1, 0, 0, 0, 0, 0, 1], [0xbb, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2]].map((cbor) => {
        const entries = [...untar(golden)].map(([n, b]): [string, Uint8Array] => [n, n === 'tasks.cbor' ? Uint8Array.from(cbor) : b]);
        return tarBytes(entries);
      }),
    ];
    for (const [k, bomb] of bombs.entries()) {
      const file = join(dir, `bomb${k}.tar`);
      writeFileSync(file, bomb);
      const r = await execa('node', ['--max-old-space-size=64', BIN, 'inspect', file, '--root', root], { reject: false });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/\[CKPT_(BAD_ARCHIVE|BAD_CHECKSUM|BAD_RECORD|TRUNCATED)\]$/);
    }
    // a real image of 32 MiB of distinct pages: the peak resident size grows by at most 4x the file
    const big = join(dir, 'big.tar');
    const make = `
      import { Machine } from './dist/src/container/machine.js';
      import { dumpContainer } from './dist/src/image/dump.js';
      import { encodeImage } from './dist/src/image/image-codec.js';
      import { tarChunks } from './dist/src/image/archive.js';
      import { writeFileAtomically } from './dist/src/disk/atomic-file.js';
      const m = Machine.create('p', 'x86_64');
      const c = m.run('big', 'idle.wl', 'program main\\n  sleep 100000000\\nend\\n');
      m.scheduler.run(1);
      const base = c.init.mm.map(0, 32 << 20, 3, 0x22);
      const page = new Uint8Array(4096);
      for (let i = 0; i < 8192; i++) { new DataView(page.buffer).setUint32(0, i, true); c.init.mm.write(base + i * 4096, page); }
      writeFileAtomically(process.argv[1], tarChunks(encodeImage(dumpContainer(m, c), { embedPrograms: true })));`;
    await execa('node', ['--input-type=module', '-e', make, big]);
    const measure = `
      import { readImageFile } from './dist/src/image/image-file.js';
      import { decodeImage } from './dist/src/image/image-codec.js';
      const before = process.resourceUsage().maxRSS;
      const { entries, digests } = await readImageFile(process.argv[1]); const img = decodeImage(entries, undefined, digests);
      console.log(JSON.stringify({ grew: (process.resourceUsage().maxRSS - before) * 1024, pages: img.pages.shared.length }));`;
    const r = await execa('node', ['--input-type=module', '-e', measure, big]);
    const { grew, pages } = JSON.parse(r.stdout) as { grew: number; pages: number };
    expect(pages).toBeGreaterThanOrEqual(8192);
    expect(grew).toBeLessThan(4 * statSync(big).size);
  }, 60_000);
});
