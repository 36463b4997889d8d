/** dump, check, restore and inspect through the command line. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ckptIn } from './run-ckpt.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ckpt-img-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const ckpt = (...argv: string[]) => ckptIn(root, argv);

describe('dump and restore through the CLI', () => {
  it('--into: restored inside a running container, shown under it, moved on with every pid kept, removed with it (2.6.32 hosts: on mainline, see below)', async () => {
    await ckpt('host', 'create', 'default', '--arch', 'x86_64', '--kernel', '2.6.32');
    const idle = join(root, 'idle.wl');
    writeFileSync(idle, 'program main\nidle:\n  sleep 100000000\n  goto idle\nend\n');
    const image = join(root, 'web.tar');
    const inside = join(root, 'inside.tar');
    await ckpt('run', 'web', 'images/workloads/nested.wl', '--steps', '50');
    const before = JSON.parse((await ckpt('ps', 'web', '--json')).out);
    expect((await ckpt('dump', 'web', '-o', image)).code).toBe(0);
    await ckpt('run', 'pod', idle, '--steps', '1');
    const check = await ckpt('check', image, '--into', 'pod', '--host-pids', '--json');
    expect(check.code).toBe(1);
    expect(JSON.parse(check.out).reasons.map((r: { code: string }) => r.code)).toEqual(['CKPT_UNSUPPORTED']);
    const r = await ckpt('restore', image, '--into', 'pod', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse((await ckpt('ps', '--json')).out) as Array<{ container: string; nspids: number[] }>;
    // web's tasks are one level deeper than before, with the same pids at web's own levels, and listed under web only
    expect(rows.filter((x) => x.container === 'web').map((x) => x.nspids.slice(2))).toEqual(before.map((x: { nspids: number[] }) => x.nspids.slice(1)));
    expect(rows.filter((x) => x.container === 'pod')).toHaveLength(1);
    // from pod on this host to pod on another, every pid kept
    expect((await ckpt('dump', 'web', '-o', inside, '--leave-running')).code).toBe(0);
    await ckpt('host', 'create', 'other', '--arch', 'x86_64', '--kernel', '2.6.32');
    await ckpt('run', 'pod', idle, '--steps', '1', '--host', 'other');
    expect((await ckpt('restore', inside, '--into', 'pod', '--host-pids', '--via', 'clone3', '--host', 'other')).code).toBe(0);
    const moved = JSON.parse((await ckpt('ps', 'web', '--json', '--host', 'other')).out);
    expect(moved.map((x: { nspids: number[] }) => x.nspids)).toEqual(rows.filter((x) => x.container === 'web').map((x) => x.nspids));
    // a collision at pod's level is named there
    const again = await ckpt('check', inside, '--into', 'pod', '--host-pids', '--host', 'other', '--name', 'web2');
    expect(again.out.split('\n')[1]).toMatch(/^ {2}- host pid \d+ \(task 1 of the image\) is held by task \d+ on host other: eclone would fail with EBUSY \[CKPT_PID_COLLISION\]$/);
    expect(again.out).toMatch(/pid 2 at level 1 \(container pod\) \(task 1 of the image\) is held by task 2 in container pod: eclone would fail with EBUSY \[CKPT_PID_COLLISION\]/);
    // removing pod takes web with it
    expect((await ckpt('rm', 'pod', '--force')).code).toBe(0);
    expect(JSON.parse((await ckpt('ps', '--json')).out)).toEqual([]);
    expect((await ckpt('restore', image, '--into', 'ghost')).err).toBe('ckpt: --into ghost: no container of that name on host default [CKPT_NO_CONTAINER]');
  }, 60_000);

  it('an image restores only onto a host of its kernel personality; on mainline, --into a container goes through clone3', async () => {
    const idle = join(root, 'idle.wl');
    writeFileSync(idle, 'program main\nidle:\n  sleep 100000000\n  goto idle\nend\n');
    const image = join(root, 'web.tar');
    await ckpt('host', 'create', 'old', '--arch', 'x86_64', '--kernel', '2.6.32');
    await ckpt('run', 'web', 'images/workloads/nested.wl', '--steps', '50', '--host', 'old');
    expect((await ckpt('dump', 'web', '-o', image, '--host', 'old')).code).toBe(0);
    const mismatch = await ckpt('restore', image);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toBe('ckpt: cannot restore an image of a 2.6.32 host on host default, whose kernel personality is mainline: restore it on a 2.6.32 host (ckpt host create NAME --arch x86_64 --kernel 2.6.32) [CKPT_KERNEL_MISMATCH]');
    // the command the hint suggests runs as given and makes a host the image restores onto
    const suggested = /\(ckpt (host create NAME [^)]*)\)/.exec(mismatch.err)![1]!.replace('NAME', 'old2').split(' ');
    expect((await ckpt(...suggested)).code).toBe(0);
    expect((await ckpt('check', image, '--host', 'old2')).code).toBe(0);
    expect((await ckpt('restore', image, '--host', 'old')).code).toBe(0);
    // a mainline image into a running container
    const fresh = join(root, 'fresh.tar');
    await ckpt('run', 'web', 'images/workloads/nested.wl', '--steps', '50');
    expect((await ckpt('dump', 'web', '-o', fresh)).code).toBe(0);
    await ckpt('run', 'pod', idle, '--steps', '1');
    const viaEclone = JSON.parse((await ckpt('check', fresh, '--into', 'pod', '--json')).out);
    expect(viaEclone.reasons.map((r: { code: string }) => r.code)).toEqual(['CKPT_UNSUPPORTED']);
    expect(viaEclone.reasons[0].message).toContain('restore with --via clone3');
    expect((await ckpt('restore', fresh, '--into', 'pod', '--via', 'clone3')).code).toBe(0);
    expect((await ckpt('check', image, '--host', 'old', '--name', 'web3')).out).toContain('would restore');
  });

  it('i386 -> x86_64 with eclone, pids identical at every container level', async () => {
    const image = join(root, 'web.tar');
    await ckpt('host', 'create', 'old', '--arch', 'i386');
    await ckpt('host', 'create', 'new', '--arch', 'x86_64');
    await ckpt('run', 'web', 'images/workloads/nested.wl', '--host', 'old', '--steps', '50');
    const before = JSON.parse((await ckpt('ps', 'web', '--host', 'old', '--json')).out);
    const d = await ckpt('dump', 'web', '--host', 'old', '-o', image);
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/^dumped web \(i386, 5 tasks\) to .*web\.tar, \d+ bytes; it was removed$/);
    expect((await ckpt('ps', '--host', 'old', '--json')).out).toBe('[]');
    expect((await ckpt('check', image, '--host', 'new')).out).toBe(`${image} would restore on host new`);
    const r = await ckpt('restore', image, '--host', 'new', '--json');
    expect(JSON.parse(r.out)).toMatchObject({ container: 'web', host: 'new', via: 'eclone', tasks: 5 });
    const after = JSON.parse((await ckpt('ps', 'web', '--host', 'new', '--json')).out);
    const inside = (rows: Array<{ nspids: number[] }>) => rows.map((x) => x.nspids.slice(1)).sort();
    expect(inside(after)).toEqual(inside(before));
    await ckpt('step', '--all', '--until-idle', '--host', 'new');
    expect((await ckpt('logs', 'web', '--host', 'new')).out).toContain('L1 init: no children left');
  }, 30_000);

  it('a collision is reported with every reason, the errno of the interface, and nothing changes', async () => {
    const image = join(root, 'p.tar');
    await ckpt('run', 'p', 'images/workloads/pidcache.wl', '--steps', '20');
    await ckpt('dump', 'p', '-o', image, '--leave-running');
    const hostBefore = (await ckpt('host', 'show', 'default', '--json')).out;
    const c = await ckpt('check', image, '--host-pids', '--name', 'p2', '--json');
    expect(c.code).toBe(1);
    const reasons = JSON.parse(c.out).reasons as Array<{ code: string; message: string }>;
    expect(reasons.length).toBe(3);
    expect(reasons.every((r) => r.code === 'CKPT_PID_COLLISION')).toBe(true);
    expect(reasons.every(({ message: r }) => /^host pid \d+ \(task [\d/]+ of the image\) is held by task \d+ on host default: eclone would fail with EBUSY$/.test(r))).toBe(true);
    const r = await ckpt('restore', image, '--host-pids', '--name', 'p2');
    expect(r.code).toBe(1);
    expect(r.err.split('; ').length).toBe(3);
    expect((await ckpt('host', 'show', 'default', '--json')).out).toBe(hostBefore);
    // the same image without --host-pids restores beside the original
    expect((await ckpt('restore', image, '--name', 'p2', '--via', 'clone3')).code).toBe(0);
  }, 30_000);

  it('inspect shows the tree with every pid level', async () => {
    const image = join(root, 'n.tar');
    await ckpt('run', 'n', 'images/workloads/nested.wl', '--steps', '30');
    await ckpt('dump', 'n', '-o', image);
    const t = await ckpt('inspect', image, '--tree');
    expect(t.out.split('\n')[0]).toMatch(/^container n: x86_64, kernel mainline, pid_max 32768, \d+ tasks, \d+ pid namespaces, \d+ distinct pages$/);
    expect(t.out).toMatch(/^ {2}3\/2\/1 /m);
    const j = JSON.parse((await ckpt('inspect', image, '--json')).out);
    expect(j.tasks[0].nspids).toEqual([2, 1]);
    expect(j.kernel).toBe('mainline');
    // a golden image, written before personalities, is a 2.6.32 one
    expect(JSON.parse((await ckpt('inspect', 'images/golden/x86_64-nested.tar', '--json')).out).kernel).toBe('2.6.32');
  }, 30_000);

  it('refuses bad input in one line', async () => {
    expect((await ckpt('restore', join(root, 'none.tar'))).err).toBe(`ckpt: cannot read image ${join(root, 'none.tar')}: ENOENT [CKPT_READ_FAILED]`);
    expect((await ckpt('dump', 'ghost')).err.split(' (looked')[0]).toBe('ckpt: no host named default');
    await ckpt('run', 'real', 'images/workloads/threads.wl');
    expect((await ckpt('dump', 'ghost')).err).toBe('ckpt: no container ghost on host default (it has: real) [CKPT_NO_CONTAINER]');
    expect(existsSync('ghost.ckpt.tar')).toBe(false);
  }, 30_000);
});

describe('ckpt check', () => {
  it('lists every reason an image cannot restore at once: a missing program and an architecture mismatch together', async () => {
    const program = join(root, 'gone.wl');
    writeFileSync(program, readFileSync('images/workloads/nested.wl', 'utf8'));
    await ckpt('host', 'create', 'src64', '--arch', 'x86_64');
    await ckpt('host', 'create', 'small', '--arch', 'i386');
    await ckpt('run', 'g', program, '--host', 'src64', '--steps', '10');
    const image = join(root, 'g.tar');
    expect((await ckpt('dump', 'g', '--host', 'src64', '-o', image, '--no-embed-programs')).code).toBe(0);
    rmSync(program);
    const r = await ckpt('check', image, '--host', 'small', '--json');
    expect(r.code).toBe(1);
    const reasons = JSON.parse(r.out).reasons as Array<{ code: string; message: string }>;
    expect(reasons.map((p) => p.code).sort()).toEqual(['CKPT_ARCH_MISMATCH', 'CKPT_MISSING_PROGRAM']);
    expect(reasons.find((p) => p.code === 'CKPT_MISSING_PROGRAM')!.message).toContain(program);
  }, 30_000);

  it('with programs embedded (the default), an image restores wherever its program file is gone', async () => {
    const program = join(root, 'moved.wl');
    writeFileSync(program, readFileSync('images/workloads/nested.wl', 'utf8'));
    await ckpt('host', 'create', 'src64', '--arch', 'x86_64');
    await ckpt('run', 'm', program, '--host', 'src64', '--steps', '10');
    const image = join(root, 'm.tar');
    expect((await ckpt('dump', 'm', '--host', 'src64', '-o', image)).code).toBe(0);
    rmSync(program);
    expect((await ckpt('check', image, '--host', 'src64', '--name', 'm2')).out).toBe(`${image} would restore on host src64`);
  }, 30_000);
});
