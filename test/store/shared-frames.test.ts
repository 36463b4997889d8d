/**
 * What a host's containers share across the files of the store (issue 19
 * point 4): page frames the host's init shares copy-on-write with the
 * containers it started, frames those containers go on sharing after the
 * init has copied its own, and an address space two containers' tasks share.
 * A command that loads some containers must count the references the others
 * hold, and a save must keep what is shared as one object.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLONE_NEWPID, CLONE_VM } from '../../src/abi/clone-flags.js';
import { SIGCHLD } from '../../src/abi/signals.js';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { libcOf } from '../../src/program/libc.js';
import { HostStore } from '../../src/store/host-store.js';
import { frameClasses, frameRefsAgree } from './frames.js';

const NESTED = readFileSync('images/workloads/nested.wl', 'utf8');
const PIDCACHE = readFileSync('images/workloads/pidcache.wl', 'utf8');
// no task of it sleeps: a sleeper of a container not loaded would not wake meanwhile, which is not what these tests are about
const CHURN = readFileSync('images/workloads/churn.wl', 'utf8');

/** an image of a small running container, restored onto the hosts below: a restore marshals its calls on the host init's stack */
function anImage(name: string, text: string): ContainerImage {
  const src = Machine.create('source', 'x86_64');
  src.run('w', name, text);
  src.scheduler.run(20);
  return dumpContainer(src, src.containers.get('w')!);
}

const restore = (m: Machine, image: ContainerImage, name: string): Machine => restoreAtomically(m, image, { name }).machine;

/** the host init's one resident page (its stack, written by a restore's calls), as an address */
function initStackPage(m: Machine): number {
  const pages: number[] = [];
  m.host.init.mm.forEachPage((index) => void pages.push(index));
  expect(pages.length).toBe(1);
  return pages[0]! * m.host.init.mm.pageSize;
}

describe('page frames and address spaces shared across a host\'s containers, through the store', () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-shared-frames-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const image = anImage('pidcache.wl', PIDCACHE);
  const churn = anImage('churn.wl', CHURN);

  /** a host whose init has written its stack (a restore), then started a container that shares that frame copy-on-write */
  function initSharesWithA(name: string): Machine {
    let m = restore(Machine.create(name, 'x86_64'), image, 'r1');
    const a = m.run('a', 'nested.wl', NESTED);
    m.scheduler.run(10);
    // the premise: a's init holds the host init's stack frame
    expect(a.init.mm.isShared(initStackPage(m))).toBe(true);
    return m;
  }

  it('counts the references of containers not loaded: the host init copies a frame one of them shares before writing it', () => {
    const store = new HostStore(root);
    const whole = initSharesWithA('counted');
    store.add(initSharesWithA('counted'));
    const expected = restore(whole, image, 'r2');
    store.replace('counted', (m) => {
      expect([...m.unloaded].sort()).toEqual(['a', 'r1']);
      // a's init is not loaded, but it holds this frame: the host init must not write it in place
      expect(m.host.init.mm.isShared(initStackPage(m))).toBe(true);
      return { machine: restore(m, image, 'r2'), out: undefined };
    }, undefined, []);
    const back = store.read('counted');
    expect(back.host.snapshot()).toEqual(expected.host.snapshot());
    expect(frameClasses(back)).toEqual(frameClasses(expected));
    expect(frameRefsAgree(back)).toEqual([]);
  }, 30_000);

  it('keeps a frame two containers share as one frame after the host init has copied its own, and so through partial loads', () => {
    const store = new HostStore(root);
    const make = (): Machine => {
      const m = restore(Machine.create('pair', 'x86_64'), churn, 'r1');
      m.run('a', 'churn.wl', CHURN);
      m.run('b', 'churn.wl', CHURN);
      m.scheduler.run(6);
      // the host init writes its stack again: a and b still share the frame it held
      return restore(m, churn, 'r2');
    };
    const whole = make();
    store.add(make());
    const [a, b] = ['a', 'b'].map((c) => whole.containers.get(c)!.init);
    expect(a!.mm.isShared(initStackPage(whole)) && b!.mm.isShared(initStackPage(whole))).toBe(true);
    expect(frameClasses(store.read('pair'))).toEqual(frameClasses(whole));
    // a step of a alone, then of b alone, then a restore with neither loaded
    for (const c of ['a', 'b']) {
      whole.scheduler.run(4, (t) => whole.containers.get(c)!.init.pid.ns.isAncestorOf(t.pid.ns));
      store.update('pair', (m) => void m.scheduler.run(4, (t) => m.containers.get(c)!.init.pid.ns.isAncestorOf(t.pid.ns)), undefined, [c]);
    }
    const expected = restore(whole, churn, 'r3');
    store.replace('pair', (m) => ({ machine: restore(m, churn, 'r3'), out: undefined }), undefined, []);
    const back = store.read('pair');
    expect(back.host.snapshot()).toEqual(expected.host.snapshot());
    expect(frameClasses(back)).toEqual(frameClasses(expected));
    expect(frameRefsAgree(back)).toEqual([]);
  }, 30_000);

  it('finds an address space shared across containers only in the host init\'s, which the host file holds once: a container\'s task cannot put children in another container', () => {
    const store = new HostStore(root);
    const m = Machine.create('vm', 'x86_64');
    const a = m.run('a', 'nested.wl', NESTED);
    const b = m.run('b', 'nested.wl', NESTED);
    m.run('lone', 'nested.wl', NESTED);
    m.scheduler.run(10);
    // Only a task of the root pid namespace reaches two containers' namespaces: setns to a pid
    // namespace that is not the caller's own or below it is EINVAL (pidns_install, kernel/pid_namespace.c).
    const init = libcOf(m.host, m.host.init);
    const [fdA, fdB] = [init.pidfd_open(a.init.pid.nr, 0).ret, init.pidfd_open(b.init.pid.nr, 0).ret];
    expect(init.setns(fdA, CLONE_NEWPID).errno).toBeUndefined();
    const x = init.clone(CLONE_VM | SIGCHLD, 0, 0, 0, 0).child!;
    expect(libcOf(m.host, x).setns(fdB, CLONE_NEWPID).errno).toBe('EINVAL');
    // so two containers' tasks share an address space only through the host init: its own
    expect(init.setns(fdB, CLONE_NEWPID).errno).toBeUndefined();
    const y = init.clone(CLONE_VM | SIGCHLD, 0, 0, 0, 0).child!;
    const self = init.pidfd_open(1, 0).ret;
    expect(init.setns(self, CLONE_NEWPID).errno).toBeUndefined();
    for (const fd of [fdA, fdB, self]) {
      init.close(fd);
      libcOf(m.host, x).close(fd);
      libcOf(m.host, y).close(fd);
    }
    expect([x.pid.ns, y.pid.ns]).toEqual([a.init.pid.ns, b.init.pid.ns]);
    expect(x.mm).toBe(m.host.init.mm);
    expect(y.mm).toBe(m.host.init.mm);
    store.add(m);
    expect(store.read('vm').host.snapshot()).toEqual(m.host.snapshot());
    // loaded alone, each container's task shares the host init's address space, all three users counted
    for (const c of ['a', 'b']) {
      const one = store.read('vm', [c]);
      expect([...one.containers.keys()]).toEqual([c]);
      const task = [...one.host.tasks].find((t) => t.pid.nr === (c === 'a' ? x : y).pid.nr)!;
      expect(task.mm).toBe(one.host.init.mm);
      expect(task.mm.users).toBe(3);
    }
  }, 30_000);
});
