/**
 * Images through pipes and compressors, with the built binary as a user
 * runs it: `dump -o -` into `restore -`, gzip and zstd written and read by
 * their magic bytes, truncation and foreign archives named as such, and a
 * listing cut short by its reader ending quietly.
 */
import { libcOf } from '../../src/program/libc.js';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { HostStore } from '../../src/store/host-store.js';

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));
const hasZstd = (await execa('zstd', ['--version'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
const NESTED = 'images/workloads/nested.wl';

let dir: string;
let root: string;
const sh = (script: string) => execa('bash', ['-c', `set -o pipefail; ${script}`], { reject: false, env: { CKPT_ROOT: root, CKPT: `node ${BIN}` } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ckpt-io-'));
  root = join(dir, 'state');
  await execa('node', [BIN, 'run', 'web', NESTED, '--steps', '40'], { env: { CKPT_ROOT: root } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!built)('images through pipes', () => {
  it('dump -o - | restore - moves a container, and the dump reports on stderr', async () => {
    const r = await sh('$CKPT dump web -o - --leave-running | $CKPT restore - --name moved --json');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ container: 'moved', host: 'default' });
    expect(r.stderr).toMatch(/^dumped web \(x86_64, \d+ tasks\) to standard output, \d+ bytes; it is still running$/);
    const ps = JSON.parse((await sh('$CKPT ps moved --json')).stdout) as Array<{ nspids: number[] }>;
    const orig = JSON.parse((await sh('$CKPT ps web --json')).stdout) as Array<{ nspids: number[] }>;
    expect(ps.map((t) => t.nspids.slice(1))).toEqual(orig.map((t) => t.nspids.slice(1)));
  }, 60_000);

  it('check - and inspect - read standard input', async () => {
    const c = await sh('$CKPT dump web -o - --leave-running 2>/dev/null | $CKPT check - --name again');
    expect([c.exitCode, c.stdout]).toEqual([0, 'standard input would restore on host default']);
    const i = await sh('$CKPT dump web -o - --leave-running 2>/dev/null | $CKPT inspect - --json');
    expect(JSON.parse(i.stdout).container).toBe('web');
  }, 60_000);

  it('gzip images are written with --compress and read by their magic, under any name', async () => {
    const file = join(dir, 'web.image');
    expect((await sh(`$CKPT dump web -o ${file} --compress gzip --leave-running`)).exitCode).toBe(0);
    expect([...readFileSync(file).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    const r = await sh(`$CKPT restore ${file} --name fromgz`);
    expect(r.stdout, r.stderr).toMatch(/^restored fromgz on host default/);
    const cut = await sh(`head -c 300 ${file} | $CKPT inspect -`);
    expect([cut.exitCode, cut.stderr]).toEqual([1, 'ckpt: the image is truncated: its gzip stream ends early [CKPT_TRUNCATED]']);
  }, 60_000);

  it.skipIf(!hasZstd)('zstd images are written with --compress zstd and read by their magic (needs the zstd program)', async () => {
    const file = join(dir, 'web.zst');
    expect((await sh(`$CKPT dump web -o ${file} --compress zstd --leave-running`)).exitCode).toBe(0);
    expect([...readFileSync(file).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect((await sh(`cat ${file} | $CKPT restore - --name fromzst`)).stdout).toMatch(/^restored fromzst on host default/);
    const cut = await sh(`head -c 300 ${file} | $CKPT inspect -`);
    expect([cut.exitCode, cut.stderr]).toEqual([1, 'ckpt: the image is truncated: its zstd stream ends early [CKPT_TRUNCATED]']);
  }, 60_000);

  it.skipIf(!hasZstd)('a zstd stream that expands past 100 MB is read whole, not cut at a buffer limit (needs the zstd program)', async () => {
    // 110 MB of zeros compress to a few KiB: expanded whole, they are then no image at all (execa keeping
    // a second copy of zstd's output stopped at its 100 MB maxBuffer, as a "damaged" stream or a V8 abort)
    const file = join(dir, 'zeros.zst');
    expect((await sh(`head -c 110000000 /dev/zero | zstd -q -c > ${file}`)).exitCode).toBe(0);
    const r = await sh(`$CKPT inspect ${file}`);
    expect([r.exitCode, r.stderr]).toEqual([1, 'ckpt: not a ckpt image: it is not a tar archive (nor a gzip or zstd one) [CKPT_NOT_AN_IMAGE]']);
  }, 60_000);

  it('without the zstd program, --compress zstd is refused in one line before anything is touched', async () => {
    const r = await execa(process.execPath, [BIN, 'dump', 'web', '-o', join(dir, 'nozstd.zst'), '--compress', 'zstd'], { reject: false, env: { CKPT_ROOT: root, PATH: join(dir, 'empty') } });
    expect([r.exitCode, r.stderr]).toEqual([1, 'ckpt: zstd images need the zstd program, which is not on PATH (Debian package zstd) [CKPT_NO_ZSTD]']);
    expect(existsSync(join(dir, 'nozstd.zst'))).toBe(false);
    expect(JSON.parse((await sh("$CKPT ps web --json")).stdout).length).toBeGreaterThan(3);
  }, 60_000);

  it("another program's tar, a plain file and a cut image are each named for what they are", async () => {
    writeFileSync(join(dir, 'notes.txt'), 'hello\n');
    await execa('tar', ['cf', join(dir, 'other.tar'), '-C', dir, 'notes.txt']);
    const other = await sh(`$CKPT inspect ${join(dir, 'other.tar')}`);
    expect(other.stderr).toBe('ckpt: not a ckpt image: a tar archive whose first entry is "notes.txt", not manifest.cbor [CKPT_NOT_AN_IMAGE]');
    const plain = await sh(`$CKPT restore ${join(dir, 'notes.txt')}`);
    expect(plain.stderr).toBe('ckpt: not a ckpt image: it is not a tar archive (nor a gzip or zstd one) [CKPT_NOT_AN_IMAGE]');
    const cut = await sh('$CKPT dump web -o - --leave-running 2>/dev/null | head -c 5000 | $CKPT inspect -');
    expect(cut.stderr).toMatch(/^ckpt: the image is truncated: entry \S+ has \d+ of its \d+ bytes \[CKPT_TRUNCATED\]$/);
  }, 60_000);

  it('an existing output file is replaced only with --force', async () => {
    const file = join(dir, 'keep.tar');
    writeFileSync(file, 'precious');
    const r = await sh(`$CKPT dump web -o ${file} --leave-running`);
    expect([r.exitCode, r.stderr]).toEqual([1, `ckpt: ${file} exists; give --force to replace it [CKPT_OUTPUT_EXISTS]`]);
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect((await sh(`$CKPT dump web -o ${file} --leave-running --force`)).exitCode).toBe(0);
    expect(readFileSync(file).length).toBeGreaterThan(1024);
  }, 60_000);

  it('a listing whose reader goes away ends quietly (ps | head -2)', async () => {
    // enough tasks that ps writes more than a pipe holds
    const m = Machine.create('many', 'x86_64');
    const c = m.run('crowd', join(process.cwd(), NESTED), readFileSync(NESTED, 'utf8'));
    for (let i = 0; i < 3000; i++) libcOf(m.host, c.init).fork();
    new HostStore(root).add(m);
    // what ckpt says on stderr goes to a file of the test's own directory, then after the status
    const err = join(dir, 'err.txt');
    const r = await sh(`$CKPT ps --host many 2>${err} | head -2 > /dev/null; echo \${PIPESTATUS[0]}; cat ${err}`);
    expect(r.stdout.trim()).toBe('0');
    const tree = await sh(`$CKPT ps --host many --tree 2>${err} | head -1 > /dev/null; echo \${PIPESTATUS[0]}; cat ${err}`);
    expect(tree.stdout.trim()).toBe('0');
  }, 60_000);

  it.skipIf(!existsSync('/dev/full'))('standard output that cannot be written is one line and exit 1, no stack trace (> /dev/full)', async () => {
    const ps = await sh('$CKPT ps > /dev/full');
    expect([ps.exitCode, ps.stderr]).toEqual([1, 'ckpt: cannot write to standard output: ENOSPC [CKPT_WRITE_FAILED]']);
    // a dump to standard output fails as a dump: nothing committed, the container left running
    const dump = await sh('$CKPT dump web -o - > /dev/full');
    expect([dump.exitCode, dump.stderr]).toEqual([1, 'ckpt: cannot write image to standard output: ENOSPC; what was written is incomplete [CKPT_WRITE_FAILED]']);
    expect(JSON.parse((await sh('$CKPT ps web --json')).stdout).length).toBeGreaterThan(3);
  }, 60_000);
});
