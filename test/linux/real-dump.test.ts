/**
 * The real dump: a container's tree is built as real processes from a model image by the real
 * restore (with the image's memory at its own addresses, or, in one case, mapped where the kernel
 * chose and written by the agents' own stores), the model's restore of the same image is the
 * mirror, and dumpReal of the real tree must give the image back (every record, every page; only
 * `outer` becomes the machine's own pids), freezing with SIGSTOP or, for a container in a cgroup of
 * its own, the cgroup v2 freezer. A process killed from outside, a pid or a stop the mirror does not
 * have, and a mapping that is not there each stop the dump with the task's name; the processes are
 * as they were afterwards. Needs root and the compiled helper; skipped with the reason otherwise.
 * Every process made is killed and reaped.
 */
import { restingState, withCheckedSession } from './with-helper.js';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Container } from '../../src/container/container.js';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { dumpContainer } from '../../src/image/dump.js';
import { decodeImage } from '../../src/image/image-codec.js';
import { checkImage } from '../../src/image/image-consistency.js';
import { planFor } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { imageChunks, readImageBytes } from '../../src/image/image-file.js';
import { cgroup2Mount, cgroup2Of, freeze } from '../../src/linux/freeze.js';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { parseMaps, readProcess } from '../../src/linux/proc.js';
import { dumpReal, type RealMirror } from '../../src/linux/real-dump.js';
import { build, type Built } from './real-dump-build.js';
import { parseReply, whatLinuxCannot } from '../../src/linux/real-executor.js';
import { workload as generated } from '../image/generated-workloads.js';
import { DAEMON, imageOf, REAPED, workload } from './restore-images.js';
import { pageBytes, pageRuns, uniformPages } from '../../src/codec/image-pages.js';
import { concatBytes } from '../../src/codec/bytes.js';
import { refCount, refPairs } from '../../src/codec/address-space-record.js';

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: real dumps skipped: ${support.reason}`);

const withHelper = <T>(body: (h: HelperSession) => Promise<T>): Promise<T> => withCheckedSession('real-dump', body);

/**
 * withoutOuter blanks the levels above the container (a real dump has the machine's own pids there)
 * and lays the pages out back to back in one buffer and their references as pairs, so that the same
 * pages compare equal however they are held (a real dump reads each page into an array of its own).
 */
function withoutOuter(image: ContainerImage): ContainerImage {
  const pages = uniformPages(image.pages.size, concatBytes(pageRuns(image.pages)), [...image.pages.shared]);
  return { ...image, tasks: image.tasks.map((t) => ({ ...t, outer: [] })), pages, mms: image.mms.map(([users, vmas, refs]) => [users, vmas, refPairs(refs)]) };
}

/** stopTheStopped stops again, from outside, the processes the image has stopped (after the test continued them). */
function stopTheStopped(image: ContainerImage, b: Built): void {
  image.tasks.forEach((t, i) => {
    if (t.leader === i && t.group.stopped && !t.exited) process.kill(b.pidOf(i), 'SIGSTOP');
  });
}

/** snapshot: what /proc shows of every process of the image (states, pids, groups, children) */
function snapshot(image: ContainerImage, b: Built): unknown {
  const asWhat = restingState;
  return image.tasks.map((t, i) => {
    const p = t.leader === i ? readProcess(b.pidOf(i)) : null;
    return p && { ...p, state: asWhat(p.state), threads: p.threads.map((th) => ({ ...th, state: asWhat(th.state) })) };
  });
}

/** expectAsBefore: /proc shows every process as before (a continued process takes a moment to stop or block again) */
async function expectAsBefore(image: ContainerImage, b: Built, before: unknown): Promise<void> {
  for (let n = 0; n < 200 && JSON.stringify(snapshot(image, b)) !== JSON.stringify(before); n++) await new Promise((r) => setTimeout(r, 10));
  expect(snapshot(image, b)).toEqual(before);
}

async function settled(image: ContainerImage, b: Built): Promise<void> {
  // a stop sent by the test reaches every thread a moment later
  for (let n = 0; n < 200; n++) {
    const ok = image.tasks.every((t, i) => t.leader !== i || t.exited || !t.group.stopped || readProcess(b.pidOf(i))!.threads.every((x) => x.state === 'T'));
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** checkDump: the real dump is the image again, and reads back through the image codec */
function checkDump(image: ContainerImage, dumped: ContainerImage, b: Built, container: Container, machine: Machine): void {
  expect(withoutOuter(dumped)).toEqual(withoutOuter(image));
  expect(withoutOuter(dumped)).toEqual(withoutOuter(dumpContainer(machine, container)));
  dumped.tasks.forEach((t, i) => expect(t.outer).toEqual(b.nspids.get(i)!.slice(0, image.base)));
  checkImage(dumped);
  // written and read back by the image reader, it is what the model's image reads back as
  const readBack = (img: ContainerImage): ContainerImage => {
    const file = readImageBytes(new Uint8Array(Buffer.concat(imageChunks(img))));
    return withoutOuter(decodeImage(file.entries, () => undefined, file.digests));
  };
  expect(readBack(dumped)).toEqual(readBack(image));
}

describe('the parts of a real dump', () => {
  it('parseMaps reads /proc/PID/maps lines, anonymous and named', () => {
    const text = ['00400000-00401000 r-xp 00000000 08:01 1234   /usr/bin/ckpt-helper', '7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ', '7f0000100000-7f0000200000 rw-s 00000000 00:01 9   /dev/zero (deleted)', '7ffd000000-7ffd021000 rw-p 00000000 00:00 0      [stack]', ''].join('\n');
    expect(parseMaps(text)).toEqual([
      { start: 0x400000, end: 0x401000, perms: 'r-xp', path: '/usr/bin/ckpt-helper' },
      { start: 0x7f0000000000, end: 0x7f0000021000, perms: 'rw-p', path: '' },
      { start: 0x7f0000100000, end: 0x7f0000200000, perms: 'rw-s', path: '/dev/zero (deleted)' },
      { start: 0x7ffd000000, end: 0x7ffd021000, perms: 'rw-p', path: '[stack]' },
    ]);
    expect(() => parseMaps('nonsense')).toThrow(/not understood/);
  });

  it('cgroup2Mount finds the v2 hierarchy in mountinfo, on a hybrid machine and a pure v2 one', () => {
    const hybrid = ['37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer', '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw'].join('\n');
    expect(cgroup2Mount(hybrid)).toEqual({ root: '/', at: '/sys/fs/cgroup/unified' });
    expect(cgroup2Mount('29 23 0:26 /ctr /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate')).toEqual({ root: '/ctr', at: '/sys/fs/cgroup' });
    expect(cgroup2Mount('37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer')).toBeNull();
  });

  it('a SIGSTOP freeze stops and thaws exactly the processes it stopped, and refuses one blocked in wait4', { timeout: 30_000 }, async () => {
    const sleeper = execa('sleep', ['60'], { reject: false });
    const waiter = execa('bash', ['-c', 'sleep 60 & wait'], { reject: false });
    try {
      const state = (pid: number) => readProcess(pid)!.state;
      for (let n = 0; n < 200 && (readProcess(waiter.pid!)?.threads.length !== 1 || readFileSync(`/proc/${waiter.pid}/syscall`, 'utf8').split(' ')[0] !== '61'); n++) await new Promise((r) => setTimeout(r, 10));
      const frozen = await freeze([readProcess(sleeper.pid!)!], { method: 'sigstop' });
      expect(frozen.method).toBe('sigstop');
      expect(state(sleeper.pid!)).toBe('T');
      await frozen.thaw();
      // continued, it runs a moment (R) and sleeps again
      for (let n = 0; n < 200 && state(sleeper.pid!) !== 'S'; n++) await new Promise((r) => setTimeout(r, 10));
      expect(state(sleeper.pid!)).toBe('S');
      await expect(freeze([readProcess(sleeper.pid!)!, readProcess(waiter.pid!)!], { method: 'sigstop', nameOf: (pid) => (pid === waiter.pid ? 'the waiter' : 'the sleeper') })).rejects.toThrow(/the waiter \(thread \d+ on this machine\) is blocked in wait4, which a SIGSTOP of its child would wake/);
      // refused before anything was stopped
      expect(state(sleeper.pid!)).not.toBe('T');
    } finally {
      const bashChild = readProcess(waiter.pid!)?.threads[0]?.children ?? [];
      for (const pid of bashChild) process.kill(pid, 'SIGKILL');
      sleeper.kill('SIGKILL');
      waiter.kill('SIGKILL');
      await Promise.all([sleeper, waiter]);
    }
  });
});

describe.skipIf(!support.ok)(`dump of a real container${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const CASES: Array<[string, string, number]> = [
    ['a zombie session leader whose member was forked with CLONE_PARENT', DAEMON, 8],
    ['a session whose leader was reaped', REAPED, 12],
    ['namespaces three levels deep', workload('nested'), 30],
    ['pidcache', workload('pidcache'), 25],
    ['threads', workload('threads'), 20],
    ['jobs, a stopped job', workload('jobs'), 13],
    ['churn', workload('churn'), 40],
  ];
  for (const [title, text, steps] of CASES) {
    it(`${title}: the dump of the real tree is the image (SIGSTOP), and the processes are as they were`, { timeout: 60_000 }, async () => {
      const image = imageOf(text, steps);
      await withHelper(async (h) => {
        const b = await build(h, image);
        await settled(image, b);
        const before = snapshot(image, b);
        const dump = await dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' });
        expect(dump.freezer).toBe('sigstop');
        checkDump(image, dump.image, b, b.mirror.container, b.mirror.machine);
        await expectAsBefore(image, b, before);
      });
    });
  }

  it('memory mapped where the kernel chose and written by the agents\' own stores: realAddress says where, and the dump is the image', { timeout: 60_000 }, async () => {
    const image = imageOf(workload('nested'), 30);
    await withHelper(async (h) => {
      const b = await build(h, image, 'stores');
      expect(b.mirror.realAddress).toBeDefined();
      const dump = await dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' });
      checkDump(image, dump.image, b, b.mirror.container, b.mirror.machine);
      // without it, the dump looks at the mirror's own addresses, where these processes have nothing
      const { realAddress: _, ...atMirrorAddresses } = b.mirror;
      await expect(dumpReal(atMirrorAddresses, { leaveRunning: true, freezer: 'sigstop' })).rejects.toThrow(/cannot be read: 0x400000 is not mapped on this machine/);
    });
  });

  it('generated workloads: every tree the real executor builds dumps back to its image', { timeout: 300_000 }, async () => {
    const counts = { dumped: 0, notBuilt: 0 };
    await fc.assert(
      fc.asyncProperty(generated, fc.nat(80), async (text, n) => {
        const image = imageOf(text, n);
        const plan = (() => {
          try {
            return planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
          } catch (e) {
            if (e instanceof RestoreError) return null;
            throw e;
          }
        })();
        if (!plan || whatLinuxCannot(plan, image).length > 0) return void counts.notBuilt++;
        // the real executor does not yet point a process's pid_for_children anywhere but its own namespace
        // (an unshare(CLONE_NEWPID) before its first child): the dump would rightly refuse the tree it builds
        if (image.tasks.some((t) => !t.exited && t.nsForChildren !== t.ns)) return void counts.notBuilt++;
        await withHelper(async (h) => {
          let b: Built;
          try {
            b = await build(h, image);
          } catch (e) {
            if (e instanceof RestoreError && e.code === 'CKPT_UNSUPPORTED') return void counts.notBuilt++;
            throw e;
          }
          await settled(image, b);
          const before = snapshot(image, b);
          const dump = await dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' });
          checkDump(image, dump.image, b, b.mirror.container, b.mirror.machine);
          await expectAsBefore(image, b, before);
          counts.dumped++;
        });
      }),
      { numRuns: Number(process.env.REAL_DUMP_RUNS ?? 100), seed: Number(process.env.REAL_DUMP_SEED ?? 2027) },
    );
    console.log(`real dumps of generated workloads: ${JSON.stringify(counts)}`);
    expect(counts.dumped).toBeGreaterThan(counts.notBuilt);
  });

  it("the memory is the processes' own: bytes written behind the mirror's back are in the image", { timeout: 60_000 }, async () => {
    const image = imageOf(workload('pidcache'), 25);
    await withHelper(async (h) => {
      const b = await build(h, image);
      const i = image.tasks.findIndex((t) => !t.exited && refCount(image.mms[t.mm]![2]) > 0);
      const mm = image.tasks[i]!.mm;
      const [, vmas, refs] = image.mms[mm]!;
      const data = vmas.find((v) => v[4] === '[data]')!;
      const [index, page] = refPairs(refs).find(([n]) => n * 4096 === data[0])!;
      const mirrorMm = [...b.mirror.tids.keys()].find((t) => t.pid.numbers.slice(image.base).join('/') === image.tasks[i]!.numbers.join('/'))!.mm;
      const at = (b.mirror.realAddress ?? ((_, vma) => vma.start))(mirrorMm, { start: data[0], end: data[1], prot: data[2], shared: data[3], name: data[4] });
      // one byte of a page the workload wrote, and one of a page it never wrote (the mirror has no such page)
      for (const [offset, hex] of [[100, '5a'], [4096 + 7, 'a5']] as const) expect(parseReply(await h.command(`op ${i} poke ${at + offset} ${hex}`))).toMatchObject({ kind: 'r', errno: null });
      const dump = await dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' });
      const refsOut = new Map(refPairs(dump.image.mms[mm]![2]));
      const written = pageBytes(dump.image.pages, refsOut.get(index)!);
      expect(written[100]).toBe(0x5a);
      expect([...written.subarray(0, 100)]).toEqual([...pageBytes(image.pages, page).subarray(0, 100)]);
      const fresh = pageBytes(dump.image.pages, refsOut.get(index + 1)!);
      expect(fresh[7]).toBe(0xa5);
      expect(fresh.filter((x) => x !== 0).length).toBe(1);
      checkImage(dump.image);
    });
  });

  it('a container in a cgroup of its own is frozen with the cgroup v2 freezer', { timeout: 60_000 }, async () => {
    const mount = cgroup2Mount();
    if (!mount) return void console.log('test/linux: no cgroup v2 hierarchy is mounted: the freezer case is not run');
    const image = imageOf(workload('nested'), 30);
    await withHelper(async (h) => {
      const b = await build(h, image);
      const live = image.tasks.flatMap((t, i) => (t.leader === i && !t.exited ? [b.pidOf(i)] : []));
      const home = cgroup2Of(live[0]!)!;
      const dir = join(mount.at, `ckpt-test-${process.pid}-${Date.now()}`);
      mkdirSync(dir);
      try {
        for (const pid of live) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        const before = snapshot(image, b);
        const dump = await dumpReal(b.mirror, { leaveRunning: true });
        expect(dump.freezer).toBe('cgroup');
        expect(dump.cgroup).toBe(dir);
        expect(readFileSync(join(dir, 'cgroup.freeze'), 'utf8').trim()).toBe('0');
        checkDump(image, dump.image, b, b.mirror.container, b.mirror.machine);
        await expectAsBefore(image, b, before);
        // left frozen: the cgroup says so, and no process was stopped by a signal (a frozen task shows S, not T)
        const held = await dumpReal(b.mirror);
        expect(held.freezer).toBe('cgroup');
        expect(readFileSync(join(dir, 'cgroup.events'), 'utf8')).toMatch(/^frozen 1$/m);
        expect(live.map((pid) => readProcess(pid)!.state)).not.toContain('T');
        await held.thaw();
        expect(readFileSync(join(dir, 'cgroup.events'), 'utf8')).toMatch(/^frozen 0$/m);
        await expectAsBefore(image, b, before);
      } finally {
        for (const pid of live) if (readProcess(pid)) writeFileSync(join(mount.at, home.slice(mount.root.length), 'cgroup.procs'), String(pid));
        rmdirSync(dir);
      }
    });
  });

  it('without leaveRunning the container stays frozen until thaw', { timeout: 60_000 }, async () => {
    const image = imageOf(workload('pidcache'), 25);
    await withHelper(async (h) => {
      const b = await build(h, image);
      const dump = await dumpReal(b.mirror);
      const live = image.tasks.flatMap((t, i) => (t.leader === i && !t.exited ? [b.pidOf(i)] : []));
      expect(live.map((pid) => readProcess(pid)!.state)).toEqual(live.map(() => 'T'));
      await dump.thaw();
      await dump.thaw();
      expect(live.map((pid) => readProcess(pid)!.state)).not.toContain('T');
    });
  });

  it('a process killed from outside (a zombie, then reaped) stops the dump, naming it; the others run on', { timeout: 60_000 }, async () => {
    const image = imageOf(workload('nested'), 30);
    await withHelper(async (h) => {
      const b = await build(h, image);
      const victim = image.tasks.findIndex((t, i) => t.leader === i && !t.exited && t.numbers.length > 1 && t.children.length === 0);
      expect(victim).toBeGreaterThan(0);
      process.kill(b.pidOf(victim), 'SIGKILL');
      for (let n = 0; n < 200 && readProcess(b.pidOf(victim))?.state !== 'Z'; n++) await new Promise((r) => setTimeout(r, 10));
      const name = `task ${image.tasks[victim]!.numbers.join('/')} of container ${image.name}`;
      await expect(dumpReal(b.mirror, { freezer: 'sigstop' })).rejects.toThrow(new RegExp(`${name} \\(pid ${b.pidOf(victim)} on this machine\\) is a zombie on this machine but alive in the mirror: was it killed from outside\\?`));
      const live = image.tasks.flatMap((t, i) => (t.leader === i && !t.exited && i !== victim ? [b.pidOf(i)] : []));
      expect(live.map((pid) => readProcess(pid)!.state)).not.toContain('T');
      // reaped by its parent's agent, it is gone from /proc altogether
      const parent = image.tasks[victim]!.parent;
      const asParentSees = b.nspids.get(victim)![b.nspids.get(parent)!.length - 1]!;
      expect(parseReply(await h.command(`op ${parent} wait4 ${asParentSees} 0`))).toMatchObject({ kind: 'r', ret: asParentSees });
      await expect(dumpReal(b.mirror, { freezer: 'sigstop' })).rejects.toThrow(`${name} (pid ${b.pidOf(victim)} on this machine) is gone: was it killed from outside?`);
      expect(live.map((pid) => readProcess(pid)!.state)).not.toContain('T');
    });
  });

  it('a stop the mirror does not have, a mapping that is not there, processes the mirror has the other way round: each is named', { timeout: 60_000 }, async () => {
    const image = imageOf(workload('jobs'), 13);
    await withHelper(async (h) => {
      const b = await build(h, image);
      // the real executor stops the stopped job again; continued from outside, the mirror says stopped, /proc says not
      const stopped = image.tasks.findIndex((t, i) => t.leader === i && t.group.stopped && !t.exited);
      expect(stopped).toBeGreaterThan(0);
      await settled(image, b);
      expect(readProcess(b.pidOf(stopped))!.state).toBe('T');
      process.kill(b.pidOf(stopped), 'SIGCONT');
      for (let n = 0; n < 200 && readProcess(b.pidOf(stopped))!.state === 'T'; n++) await new Promise((r) => setTimeout(r, 10));
      await expect(dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' })).rejects.toThrow(`task ${image.tasks[stopped]!.numbers.join('/')} of container ${image.name} (pid ${b.pidOf(stopped)} on this machine) is not stopped on this machine but stopped in the mirror`);
      stopTheStopped(image, b);
      await settled(image, b);
      // a mapping that the real process does not have
      const realAddress = b.mirror.realAddress ?? ((_, vma) => vma.start);
      const moved: RealMirror = { ...b.mirror, realAddress: (mm, vma) => (vma.name === '[data]' ? 0x10000 : realAddress(mm, vma)) };
      await expect(dumpReal(moved, { leaveRunning: true, freezer: 'sigstop' })).rejects.toThrow(/the mapping \[data\] \(0x500000-0x502000\) of task [0-9/]+ of container box \(pid \d+ on this machine\) cannot be read: 0x10000 is not mapped on this machine/);
      // a task whose real process is not the one the mirror names
      const [first, second] = [...b.mirror.tids.keys()].filter((t) => t.group.leader === t && !t.exited).slice(1, 3);
      const swapped = new Map(b.mirror.tids);
      swapped.set(first!, b.mirror.tids.get(second!)!);
      swapped.set(second!, b.mirror.tids.get(first!)!);
      await expect(dumpReal({ ...b.mirror, tids: swapped }, { leaveRunning: true, freezer: 'sigstop' })).rejects.toThrow(/of container box \(pid \d+ on this machine\) has (pids|children) .* as the mirror has it/);
      // after every refusal the processes run (or stay stopped) as before
      const dump = await dumpReal(b.mirror, { leaveRunning: true, freezer: 'sigstop' });
      expect(withoutOuter(dump.image)).toEqual(withoutOuter(image));
    });
  });
});
