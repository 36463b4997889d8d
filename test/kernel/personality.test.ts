/**
 * Kernel personalities (src/kernel/personality.ts): each class of
 * disagreement between the model and Linux 6.x that issue 18 lists, on the
 * six ABIs, on a `mainline` host and, where the eclone era differs, on a
 * `2.6.32` host too. Classes 4, 8 and 11-14 follow the same rule on both
 * (2.6.32 did the same, or had no such call: the model offers mainline's).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import {
  CLONE_NEWNET,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  Host,
  SIGCHLD,
  SIGKILL,
  WNOHANG,
  type Task,
} from '../../src/index.js';
import { Machine } from '../../src/container/machine.js';
import { NS_LAST_PID_PATH, O_RDWR, PID_MAX_PATH } from '../../src/kernel/files.js';
import { pidMaxLimit } from '../../src/kernel/host.js';
import { kernelRules, KERNEL_NAMES, RULES, type KernelName } from '../../src/kernel/personality.js';
import { decodeMachine, encodeMachine } from '../../src/store/machine-codec.js';
import { decodeLegacyMachine, type LegacyRecord } from '../../src/store/legacy-host-file.js';
import { ALL_ARCHES, expectUnchanged, unprivileged, userContainer } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
/** byKernel picks the expected outcome of a personality */
const byKernel = <T>(kernel: KernelName, mainline: T, old: T): T => (kernel === 'mainline' ? mainline : old);

/** setLastPid writes /proc/sys/kernel/ns_last_pid from `t` (its own namespace). */
function setLastPid(h: Host, t: Task, value: number): void {
  const l = libcOf(h, t);
  const fd = l.open(NS_LAST_PID_PATH, O_RDWR).ret;
  expect(l.write(fd, String(value)).ret).toBe(String(value).length);
  l.close(fd);
}

/** readLastPid reads ns_last_pid as `t` sees it. */
function readLastPid(h: Host, t: Task): string {
  return readFile(h, t, NS_LAST_PID_PATH);
}

/** readFile reads one of the model's /proc/sys/kernel files as `t` sees it. */
function readFile(h: Host, t: Task, path: string): string {
  const l = libcOf(h, t);
  const fd = l.open(path, 0).ret;
  const buf = new Uint8Array(16);
  const n = l.read(fd, buf, 16).ret;
  l.close(fd);
  return new TextDecoder().decode(buf.subarray(0, n));
}

describe('the personality table', () => {
  it('has each rule once, both behaviours with a source, and builds each personality\'s rules from it', () => {
    const rules = RULES.map((r) => r.rule);
    expect(new Set(rules).size).toBe(rules.length);
    for (const r of RULES) {
      for (const k of KERNEL_NAMES) {
        expect(r[k].source, `${r.rule} on ${k}`).toMatch(/\S/);
        expect(kernelRules(k)[r.rule]).toBe(r[k].value);
      }
      expect(r.mainline.value, `${r.rule} differs`).not.toEqual(r['2.6.32'].value);
    }
  });

  it('mainline is the default; an unknown personality is refused', () => {
    expect(Host.create({ arch: 'x86_64' }).kernel).toBe('mainline');
    expect(Host.create({ arch: 'x86_64', kernel: '2.6.32' }).kernel).toBe('2.6.32');
    expect(() => Host.create({ arch: 'x86_64', kernel: '3.0' })).toThrow(/unknown kernel personality "3.0"/);
  });

  it('a host file keeps its personality; one written before personalities loads as 2.6.32', () => {
    const m = Machine.create('h', 'x86_64');
    const rec = encodeMachine(m);
    expect(rec.host.kernel).toBe('mainline');
    expect(decodeMachine(rec).host.kernel).toBe('mainline');
    // written by the single-file store before personalities existed
    const old = decodeLegacyMachine(decode(readFileSync(fileURLToPath(new URL('../fixtures/format1-host.host', import.meta.url)))) as LegacyRecord);
    expect(old.host.kernel).toBe('2.6.32');
    expect(old.host.rootPidNs.rules).toBe(kernelRules('2.6.32'));
  });
});

describe.each(ALL_ARCHES)('mainline and 2.6.32 on %s', (arch) => {
  const both = (name: string, fn: (kernel: KernelName) => void) => it.each(KERNEL_NAMES)(`${name} (%s)`, fn);

  both('1: clone(CLONE_NEWPID | CLONE_PARENT) from a process that is not an init: mainline makes a sibling init, 2.6.32 says EINVAL', (kernel) => {
    const h = Host.create({ arch, kernel });
    const child = libcOf(h, h.init).fork().child!;
    const r = libcOf(h, child).clone(CLONE_NEWPID | CLONE_PARENT, 0, 0, 0, 0);
    if (kernel === '2.6.32') return expect(r.errno).toBe('EINVAL');
    expect(r.child!.nspids).toEqual([3, 1]);
    expect(r.child!.parent).toBe(h.init);
    expect(libcOf(h, r.child!).getppid().ret).toBe(0);
  });

  both('2: at the wrap with pid_max 302, only last_pid free: mainline gives it (300), 2.6.32 none', (kernel) => {
    const h = Host.create({ arch, kernel, pidMax: 302 });
    const l = libcOf(h, h.init);
    for (let i = 2; i < 302; i++) expect(l.fork().ret).toBe(i);
    expect(l.kill(300, SIGKILL).ret).toBe(0);
    expect(l.wait4(300, 0, 0, 0).ret).toBe(300);
    setLastPid(h, h.init, 300);
    const r = l.fork();
    expect(r.errno ?? r.ret).toBe(byKernel<number | string>(kernel, 300, 'EBUSY'));
  });

  both('2: last_pid 299 with 300 and 301 taken: mainline wraps to the lowest free pid (2), 2.6.32 none', (kernel) => {
    const h = Host.create({ arch, kernel, pidMax: 302 });
    const l = libcOf(h, h.init);
    for (let i = 2; i < 302; i++) l.fork();
    expect(l.kill(2, SIGKILL).ret).toBe(0);
    expect(l.wait4(2, 0, 0, 0).ret).toBe(2);
    setLastPid(h, h.init, 299);
    const r = l.fork();
    expect(r.errno ?? r.ret).toBe(byKernel<number | string>(kernel, 2, 'EBUSY'));
  });

  both('3: ns_last_pid in a namespace whose init was named with set_tid {1}: mainline -1, 2.6.32 0', (kernel) => {
    const h = Host.create({ arch, kernel });
    const init = libcOf(h, h.init).clone3({ flags: CLONE_NEWPID, exit_signal: SIGCHLD, set_tid: [1, 700] }, 88).child!;
    expect(init.nspids).toEqual([700, 1]);
    expect(readLastPid(h, init)).toBe(byKernel(kernel, '-1\n', '0\n'));
    // the next automatic pid is 2 either way
    expect(libcOf(h, init).fork().child!.nspids).toEqual([2, 2]);
    expect(readLastPid(h, init)).toBe('2\n');
  });

  both('4: a thread of a reparented process has the new parent: a CLONE_PARENT child of it is the reaper\'s, which reaps it', (kernel) => {
    const h = Host.create({ arch, kernel });
    const l = libcOf(h, h.init);
    const p = l.fork().child!; // 2
    const c = libcOf(h, p).fork().child!; // 3
    const t = libcOf(h, c).clone(THREAD, 0, 0, 0, 0).child!; // 4
    libcOf(h, p).exit(0);
    expect(l.wait4(2, 0, 0, 0).ret).toBe(2);
    expect(c.parent).toBe(h.init);
    expect(t.parent).toBe(h.init);
    const s = libcOf(h, t).clone(CLONE_PARENT | SIGCHLD, 0, 0, 0, 0).child!;
    expect(libcOf(h, s).getppid().ret).toBe(1);
    libcOf(h, s).exit(7);
    const status = [0];
    expect(l.wait4(-1, status, WNOHANG, 0).ret).toBe(s.pid.nr);
    expect(status[0]).toBe(7 << 8);
  });

  both('5: a namespace init that dies while a process of its namespace has its parent outside stays unreapable on mainline', (kernel) => {
    const h = Host.create({ arch, kernel });
    const u = libcOf(h, h.init).fork().child!; // 2
    const lu = libcOf(h, u);
    const helper = lu.clone(THREAD, 0, 0, 0, 0).child!; // 3, a thread of u: it may wait for u's children
    expect(lu.unshare(CLONE_NEWPID).ret).toBe(0);
    const init = lu.fork().child!; // 4, pid 1 inside
    const other = lu.fork().child!; // 5, pid 2 inside, parent u outside the namespace
    expect(other.nspids).toEqual([5, 2]);
    expect(lu.kill(4, SIGKILL).ret).toBe(0);
    expect(other.state).toBe('zombie');
    if (kernel === '2.6.32') {
      expect(lu.wait4(4, 0, WNOHANG, 0).ret).toBe(4);
      expect(lu.clone3({ exit_signal: SIGCHLD, set_tid: [1, 900] }, 88).errno).toBe('ENOMEM');
      return;
    }
    expect(lu.wait4(4, 0, WNOHANG, 0).ret).toBe(0);
    expect(lu.clone3({ exit_signal: SIGCHLD, set_tid: [1, 900] }, 88).errno).toBe('EEXIST');
    // a blocked wait for the init wakes when the last other pid of its namespace is freed
    lu.wait4(4, 0, 0, 0);
    expect(u.blockedIn).toBe('wait4');
    expect(libcOf(h, helper).wait4(5, 0, 0, 0).ret).toBe(5);
    expect(u.blockedIn).toBe(null);
    expect(lu.resume().ret).toBe(4);
    expect(init.pid.task).toBe(null);
    expect(lu.clone3({ exit_signal: SIGCHLD, set_tid: [1, 900] }, 88).errno).toBe('ENOMEM');
  });

  it('oracle D5: on mainline a dead init whose own process group holds another pid of its namespace waits until its parent moves it to a group of its own', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const t0 = l.clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!;
    const l0 = libcOf(h, t0);
    const t1 = l0.fork().child!; // pid 2 inside
    expect(libcOf(h, t1).setpgid(0, 0).ret).toBe(0);
    expect(l0.setpgid(0, 2).ret).toBe(0);
    libcOf(h, t1).exit(0);
    expect(l0.wait4(2, 0, WNOHANG, 0).ret).toBe(2);
    libcOf(h, t0).exit(0);
    // pid 2 lives on as t0's process group: zap_pid_ns_processes waits for it
    expect(l.wait4(t0.pid.nr, 0, WNOHANG, 0).ret).toBe(0);
    const waiter = l.clone(THREAD, 0, 0, 0, 0).child!;
    libcOf(h, waiter).wait4(t0.pid.nr, 0, 0, 0);
    expect(waiter.blockedIn).toBe('wait4');
    // its parent moves it back to a group of its own: pid 2 is freed, the init finishes, the waiter wakes
    expect(l.setpgid(t0.pid.nr, t0.pid.nr).ret).toBe(0);
    expect(waiter.blockedIn).toBe(null);
    expect(libcOf(h, waiter).resume().ret).toBe(t0.pid.nr);
  });

  both('6: CLONE_NEWPID | CLONE_THREAD after setuid(1000): mainline EINVAL, 2.6.32 EPERM', (kernel) => {
    const h = Host.create({ arch, kernel });
    const weak = unprivileged(h);
    expect(libcOf(h, weak).clone(CLONE_NEWPID | THREAD, 0, 0, 0, 0).errno).toBe(byKernel(kernel, 'EINVAL', 'EPERM'));
  });

  both('7: a pid namespace below one owned by a user namespace the caller is not in: mainline EINVAL (clone and unshare)', (kernel) => {
    const h = Host.create({ arch, kernel });
    const box = userContainer(h); // 2, its pid namespace owned by its user namespace
    const l = libcOf(h, h.init);
    const fd = l.pidfd_open(2, 0).ret;
    expect(l.setns(fd, CLONE_NEWPID).ret).toBe(0);
    const helper = l.fork().child!; // in box's namespace, root's credentials
    l.close(fd);
    expect(helper.nspids).toEqual([3, 2]);
    const want = byKernel(kernel, 'EINVAL', undefined);
    expect(libcOf(h, helper).clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).errno).toBe(want);
    expect(libcOf(h, helper).unshare(CLONE_NEWPID).errno).toBe(want);
    // from box's own user namespace it works on both
    const inside = libcOf(h, box).fork().child!;
    expect(libcOf(h, inside).clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!.pid.level).toBe(2);
  });

  it('8: wait4(-1) from a thread reaps its own children first (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const p = libcOf(h, h.init).fork().child!;
      const t = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
      const a = libcOf(h, p).fork().child!;
      const b = libcOf(h, t).fork().child!;
      libcOf(h, a).exit(1);
      libcOf(h, b).exit(2);
      expect(libcOf(h, t).wait4(-1, 0, 0, 0).ret).toBe(b.pid.nr);
      expect(libcOf(h, p).wait4(-1, 0, 0, 0).ret).toBe(a.pid.nr);
    }
  });

  both('9: the leader exits with 2, the last thread with 5: mainline reports 0x500, 2.6.32 0x200', (kernel) => {
    const h = Host.create({ arch, kernel });
    const p = libcOf(h, h.init).fork().child!;
    const t = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
    libcOf(h, p).exit(2);
    libcOf(h, t).exit(5);
    const status = [0];
    expect(libcOf(h, h.init).wait4(p.pid.nr, status, 0, 0).ret).toBe(p.pid.nr);
    expect(status[0]).toBe(byKernel(kernel, 0x500, 0x200));
  });

  both('10: CLONE_NEWUSER without capabilities: mainline allows it, 2.6.32 says EPERM', (kernel) => {
    const h = Host.create({ arch, kernel });
    const weak = unprivileged(h);
    const r = libcOf(h, weak).clone(SIGCHLD | CLONE_NEWUSER, 0, 0, 0, 0);
    if (kernel === '2.6.32') return expect(r.errno).toBe('EPERM');
    expect(r.child!.creds.userNs.parent).toBe(weak.creds.userNs);
    // and the new user namespace's owner may make a pid namespace in it
    expect(libcOf(h, r.child!).clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!.pid.level).toBe(1);
  });

  it('11: setns with the pidfd of a zombie is ESRCH (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const l = libcOf(h, h.init);
      const c = userContainer(h);
      const fd = l.pidfd_open(c.pid.nr, 0).ret;
      libcOf(h, c).exit(0);
      expect(c.state).toBe('zombie');
      expect(l.setns(fd, CLONE_NEWPID).errno).toBe('ESRCH');
    }
  });

  it('12: setns from a child user namespace to a process of the parent one with the same uid is EPERM (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const u = userContainer(h); // uid 0, in a child user namespace
      const fd = libcOf(h, h.init).pidfd_open(1, 0).ret;
      u.group.files.set(10, h.init.group.files.get(fd)!);
      // a namespace type the model does not keep: only the ptrace check can refuse it
      expect(libcOf(h, u).setns(10, CLONE_NEWNET).errno).toBe('EPERM');
      // the other way round, CAP_SYS_PTRACE over the child namespace lets it through
      const back = libcOf(h, h.init).pidfd_open(u.pid.nr, 0).ret;
      expect(libcOf(h, h.init).setns(back, CLONE_NEWNET).ret).toBe(0);
    }
  });

  it('oracle D3, D6: setns to a process setuid made not dumpable is EPERM for a caller of the same uid, before the namespaces\' own checks (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const t0 = libcOf(h, h.init).fork().child!;
      expect(libcOf(h, t0).setuid(1000).ret).toBe(0);
      const t2 = libcOf(h, t0).fork().child!;
      const lt = libcOf(h, t2);
      const fd = lt.pidfd_open(t0.pid.nr, 0).ret;
      // userns_install would say EINVAL (the caller's own user namespace): the ptrace check comes first
      expect(expectUnchanged(h, () => lt.setns(fd, CLONE_NEWUSER | CLONE_NEWPID)).errno).toBe('EPERM');
      // once it has exited, the flag its address space had then still asks for CAP_SYS_PTRACE (D4)
      libcOf(h, t0).exit(0);
      expect(t0.state).toBe('zombie');
      expect(expectUnchanged(h, () => lt.setns(fd, CLONE_NEWPID)).errno).toBe('EPERM');
      // a caller with CAP_SYS_PTRACE in the initial user namespace passes, and finds the zombie
      expect(libcOf(h, h.init).setns(libcOf(h, h.init).pidfd_open(t0.pid.nr, 0).ret, CLONE_NEWPID).errno).toBe('ESRCH');
      // a dumpable target of the same uid passes the ptrace check
      const t3 = libcOf(h, h.init).fork().child!;
      const t4 = libcOf(h, t3).fork().child!;
      const fd3 = libcOf(h, t4).pidfd_open(t3.pid.nr, 0).ret;
      expect(libcOf(h, t4).setns(fd3, CLONE_NEWNET).ret).toBe(0);
      // the mm's user namespace is the initial one, whatever user namespace the target has moved to (D6)
      const owner = libcOf(h, h.init).fork().child!;
      expect(libcOf(h, owner).setuid(1000).ret).toBe(0);
      // (2.6.32 asks capabilities for CLONE_NEWUSER, which uid 1000 has not)
      if (kernel === 'mainline') {
        const inNew = libcOf(h, owner).clone3({ flags: CLONE_NEWUSER, exit_signal: SIGCHLD }, 88).child!;
        const fdNew = libcOf(h, owner).pidfd_open(inNew.pid.nr, 0).ret;
        expect(libcOf(h, owner).setns(fdNew, CLONE_NEWUSER).errno).toBe('EPERM');
      }
      const mover = libcOf(h, h.init).fork().child!;
      const lm = libcOf(h, mover);
      expect(lm.setuid(1000).ret).toBe(0);
      expect(lm.unshare(CLONE_NEWUSER | CLONE_NEWPID).ret).toBe(0);
      const kid = lm.clone3({ exit_signal: SIGCHLD }, 88).child!;
      expect(lm.setns(lm.pidfd_open(kid.pid.nr, 0).ret, CLONE_NEWUSER | CLONE_NEWPID).errno).toBe('EPERM');
      // and the flag survives a host file
      expect(decodeMachine(encodeMachine(new Machine('m', h))).host.snapshot()).toEqual(h.snapshot());
    }
  });

  it('oracle D7: credentials are per thread; kill checks the task the pid names, and a thread\'s setuid makes its whole address space not dumpable (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const p = libcOf(h, h.init).fork().child!;
      const t1 = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
      const t2 = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
      // the raw syscall from a non-leader thread changes that thread's credentials only
      expect(libcOf(h, t1).setuid(1000).ret).toBe(0);
      expect([p.creds.uid, t1.creds.uid, t2.creds.uid]).toEqual([0, 1000, 0]);
      expect(libcOf(h, t1).getuid().ret).toBe(1000);
      expect(libcOf(h, p).getuid().ret).toBe(0);
      // a child forked by the thread has the thread's credentials
      const weak = libcOf(h, t1).fork().child!;
      expect(weak.creds.uid).toBe(1000);
      // kill(tid) asks the thread's credentials: allowed, and the signal ends the whole process
      const lw = libcOf(h, weak);
      expect(expectUnchanged(h, () => lw.kill(p.pid.nr, 0)).errno).toBe('EPERM');
      expect(expectUnchanged(h, () => lw.kill(t2.pid.nr, 0)).errno).toBe('EPERM');
      // a process group selection asks its leaders' credentials
      expect(expectUnchanged(h, () => lw.kill(-p.group.pgrp.nr, 0)).errno).toBe('EPERM');
      // the address space is the group's: every thread of it is not dumpable now, the leader too
      expect([p.nondumpable, t1.nondumpable, t2.nondumpable]).toEqual([true, true, true]);
      expect(lw.kill(t1.pid.nr, 0).ret).toBe(0);
      expect(lw.kill(t1.pid.nr, SIGKILL).ret).toBe(0);
      const status = [0];
      expect(libcOf(h, h.init).wait4(p.pid.nr, status, WNOHANG, 0).ret).toBe(p.pid.nr);
      expect(status[0]).toBe(SIGKILL);
    }
  });

  it('oracle D7: a thread\'s setuid leaves a zombie thread\'s flag as it was at its exit (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const p = libcOf(h, h.init).fork().child!;
      const t1 = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
      libcOf(h, p).exit(0); // the leader exits first: a zombie while t1 lives
      expect(libcOf(h, t1).setuid(1000).ret).toBe(0);
      expect(p.nondumpable).toBe(false);
      expect(t1.nondumpable).toBe(true);
    }
  });

  it('setns(CLONE_NEWUSER) into a user namespace the caller does not own makes it not dumpable; into one it owns, or unshare, does not (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      // a user namespace owned by root, made below the initial one: root's own
      const mine = userContainer(h);
      const b = libcOf(h, h.init).fork().child!;
      const lb = libcOf(h, b);
      expect(lb.setns(lb.pidfd_open(mine.pid.nr, 0).ret, CLONE_NEWUSER).ret).toBe(0);
      expect(b.nondumpable).toBe(false);
      const d = libcOf(h, h.init).fork().child!;
      expect(libcOf(h, d).unshare(CLONE_NEWUSER).ret).toBe(0);
      expect(d.nondumpable).toBe(false);
      if (kernel === '2.6.32') continue; // (2.6.32: uid 1000 cannot make a user namespace)
      // one owned by uid 1000 (commit_creds: cred_cap_issubset fails, observed on 6.18 with PR_GET_DUMPABLE)
      const a = libcOf(h, h.init).fork().child!;
      expect(libcOf(h, a).setuid(1000).ret).toBe(0);
      expect(libcOf(h, a).unshare(CLONE_NEWUSER).ret).toBe(0);
      const c = libcOf(h, h.init).fork().child!;
      const sharer = libcOf(h, c).clone(CLONE_VM | SIGCHLD, 0, 0, 0, 0).child!;
      const lc = libcOf(h, c);
      expect(lc.setns(lc.pidfd_open(a.pid.nr, 0).ret, CLONE_NEWUSER).ret).toBe(0);
      expect(c.nondumpable).toBe(true);
      // the flag is the address space's: a CLONE_VM sharer has it too
      expect(sharer.nondumpable).toBe(true);
    }
  });

  it('13: setns with CLONE_NEWUSER | CLONE_NEWPID asks the capabilities of the caller\'s credentials at the call (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const l = libcOf(h, h.init);
      const init = l.clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!; // its namespace owned by the root user namespace
      expect(libcOf(h, init).unshare(CLONE_NEWUSER).ret).toBe(0);
      const fd = l.pidfd_open(init.pid.nr, 0).ret;
      expect(l.setns(fd, CLONE_NEWUSER | CLONE_NEWPID).ret).toBe(0);
      expect(h.init.creds.userNs).toBe(init.creds.userNs);
      expect(l.fork().child!.pid.level).toBe(1);
    }
  });

  it('14: unshare(CLONE_NEWUSER) from a thread whose leader is a zombie is EINVAL (both)', () => {
    for (const kernel of KERNEL_NAMES) {
      const h = Host.create({ arch, kernel });
      const p = libcOf(h, h.init).fork().child!;
      const t = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
      libcOf(h, p).exit(0);
      expect(p.state).toBe('zombie');
      expect(libcOf(h, t).unshare(CLONE_NEWUSER).errno).toBe('EINVAL');
      // the leader alone may
      const q = libcOf(h, h.init).fork().child!;
      expect(libcOf(h, q).unshare(CLONE_NEWUSER).ret).toBe(0);
    }
  });

  both('15: pidfd_open of a non-leader thread: mainline ENOENT, and ESRCH for a pid only a process group holds; 2.6.32 EINVAL for both', (kernel) => {
    const h = Host.create({ arch, kernel });
    const l = libcOf(h, h.init);
    const p = l.fork().child!;
    const t = libcOf(h, p).clone(THREAD, 0, 0, 0, 0).child!;
    expect(l.pidfd_open(t.pid.nr, 0).errno).toBe(byKernel(kernel, 'ENOENT', 'EINVAL'));
    const c = l.fork().child!;
    expect(libcOf(h, c).setpgid(0, 0).ret).toBe(0);
    libcOf(h, c).fork();
    libcOf(h, c).exit(0);
    expect(l.wait4(c.pid.nr, 0, 0, 0).ret).toBe(c.pid.nr);
    expect(l.pidfd_open(c.pid.nr, 0).errno).toBe(byKernel(kernel, 'ESRCH', 'EINVAL'));
  });

  both('oracle D2: a user namespace has no uid map: mainline refuses a user namespace made inside it (EPERM) and setuid there (EINVAL), and getuid reads 65534', (kernel) => {
    const h = Host.create({ arch, kernel });
    const u = userContainer(h);
    const lu = libcOf(h, u);
    expect(lu.getuid().ret).toBe(byKernel(kernel, 65534, 0));
    expect(lu.clone3({ flags: CLONE_NEWUSER | CLONE_NEWPID, exit_signal: SIGCHLD }, 88).errno).toBe(byKernel(kernel, 'EPERM', undefined));
    expect(lu.clone(SIGCHLD | CLONE_NEWUSER, 0, 0, 0, 0).errno).toBe(byKernel(kernel, 'EPERM', undefined));
    expect(lu.setuid(1000).errno).toBe(byKernel(kernel, 'EINVAL', undefined));
    // unshare(NEWUSER|NEWPID) twice: the user namespace is refused first
    const p = libcOf(h, h.init).fork().child!;
    expect(libcOf(h, p).unshare(CLONE_NEWUSER | CLONE_NEWPID).ret).toBe(0);
    expect(libcOf(h, p).unshare(CLONE_NEWUSER | CLONE_NEWPID).errno).toBe(byKernel(kernel, 'EPERM', 'EINVAL'));
    // from the initial user namespace it is allowed on both
    expect(libcOf(h, h.init).getuid().ret).toBe(0);
    expect(libcOf(h, h.init).clone(SIGCHLD | CLONE_NEWUSER, 0, 0, 0, 0).errno).toBe(undefined);
  });

  both('oracle D1: pid_max is each namespace\'s own on mainline, through /proc/sys/kernel/pid_max; 2.6.32 has no such file in the model', (kernel) => {
    const h = Host.create({ arch, kernel });
    const l = libcOf(h, h.init);
    if (kernel === '2.6.32') return expect(l.open(PID_MAX_PATH, O_RDWR).errno).toBe('ENOENT');
    const limit = pidMaxLimit(h.arch);
    expect(readFile(h, h.init, PID_MAX_PATH)).toBe('32768\n');
    const init = l.clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!;
    // a new namespace starts at PID_MAX_LIMIT, whatever its parent's is
    expect(readFile(h, init, PID_MAX_PATH)).toBe(`${limit}\n`);
    const li = libcOf(h, init);
    const fd = li.open(PID_MAX_PATH, O_RDWR).ret;
    expect(li.write(fd, '300').errno).toBe('EINVAL');
    expect(li.write(fd, String(limit + 1)).errno).toBe('EINVAL');
    expect(li.write(fd, '302').ret).toBe(3);
    expect(readFile(h, init, PID_MAX_PATH)).toBe('302\n');
    expect(readFile(h, h.init, PID_MAX_PATH)).toBe('32768\n');
    // allocation and ns_last_pid in that namespace follow its own pid_max
    for (let i = 2; i < 302; i++) expect(li.fork().child!.nspids[1]).toBe(i);
    expect(li.fork().errno).toBe('EAGAIN');
    expect(li.clone3({ exit_signal: SIGCHLD, set_tid: [302] }, 88).errno).toBe('EINVAL');
    const nl = li.open(NS_LAST_PID_PATH, O_RDWR).ret;
    expect(li.write(nl, '303').errno).toBe('EINVAL');
    expect(li.write(nl, '302').ret).toBe(3);
    // read-only for anyone but root of the owning user namespace
    const weak = unprivileged(h);
    expect(libcOf(h, weak).open(PID_MAX_PATH, O_RDWR).errno).toBe('EACCES');
    expect(libcOf(h, weak).open(PID_MAX_PATH, 0).errno).toBe(undefined);
    // the host file keeps each namespace's pid_max
    const m = new Machine('m', h);
    const back = decodeMachine(encodeMachine(m)).host;
    expect(back.snapshot()).toEqual(h.snapshot());
    expect(back.snapshot().pidNamespaces.map((n) => n.pidMax)).toEqual([32768, 302]);
  });

  both('16: an init sharing its creator\'s signal handlers: mainline refuses it (EOPNOTSUPP, not modelled), 2.6.32 makes it', (kernel) => {
    const h = Host.create({ arch, kernel });
    const l = libcOf(h, h.init);
    const r = l.clone(CLONE_NEWPID | CLONE_SIGHAND | CLONE_VM | SIGCHLD, 0, 0, 0, 0);
    expect(r.errno).toBe(byKernel(kernel, 'EOPNOTSUPP', undefined));
    // the first child after unshare(CLONE_NEWPID) is an init too
    const u = l.fork().child!;
    expect(libcOf(h, u).unshare(CLONE_NEWPID).ret).toBe(0);
    expect(libcOf(h, u).clone(CLONE_SIGHAND | CLONE_VM | SIGCHLD, 0, 0, 0, 0).errno).toBe(byKernel(kernel, 'EOPNOTSUPP', undefined));
    // a process sharing handlers that is not an init, and a thread, are modelled
    expect(l.clone(CLONE_SIGHAND | CLONE_VM | SIGCHLD, 0, 0, 0, 0).errno).toBe(undefined);
    expect(l.clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0).errno).toBe(undefined);
  });
});
