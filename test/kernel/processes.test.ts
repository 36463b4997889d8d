/**
 * Task lifecycle in the model kernel: reaper death, zombies, process groups
 * and sessions, reparenting, threads, wait4, kill, credentials, unshare and
 * ns_last_pid. Sources: pid_namespaces(7), wait4(2), kill(2), setpgid(2),
 * setsid(2), proc(5), docs/semantics.md §3.5, §5.4 and §7.
 */
import { describe, expect, it } from 'vitest';
import {
  CLONE_NEWPID,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  Host,
  LINUX_CAPABILITY_VERSION_3,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAX_PID_NS_LEVEL,
  PROT_READ,
  PROT_WRITE,
  SIGCHLD,
  SIGCONT,
  SIGKILL,
  SIGSTOP,
  WCONTINUED,
  WNOHANG,
  WUNTRACED,
  __WCLONE,
  type Task,
} from '../../src/index.js';
import { abiRegisters } from '../../src/arch/reg-access.js';
import { ALL_ARCHES, BAD_POINTER, expectUnchanged, nestedInit, unprivileged } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

const THREAD = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;

/** taken reports whether root-namespace pid `nr` is allocated (a targeted eclone would be EBUSY). */
function taken(h: Host, nr: number): boolean {
  return h.rootPidNs.bitmap.test(nr);
}

describe.each(ALL_ARCHES)('process lifecycle on %s', (arch) => {
  it('the death of a namespace\'s init kills every task in it and in the namespaces below, and frees their pids (pid_namespaces(7))', () => {
    const h = Host.create({ arch });
    const init1 = nestedInit(h, 1); // root pid 2
    const l1 = libcOf(h, init1);
    const a = l1.fork().child!;
    libcOf(h, a).fork(); // a grandchild, reparented on a's death
    const init2 = l1.clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!;
    libcOf(h, init2).fork();
    libcOf(h, init2).fork();
    const z = l1.fork().child!;
    libcOf(h, z).exit(3); // a zombie inside
    expect(h.tasks.size).toBe(8);
    expect(libcOf(h, h.init).kill(init1.pid.nr, SIGKILL).ret).toBe(0);
    // Only the dead init is left, as a zombie of the host init.
    expect([...h.tasks].map((t) => [t.pid.nr, t.state])).toEqual([
      [1, 'runnable'],
      [2, 'zombie'],
    ]);
    const ns1 = init1.activeNs;
    expect(ns1.accepting).toBe(false);
    expect([...ns1.pids.keys()]).toEqual([1]);
    expect([...init2.activeNs.pids.keys()]).toEqual([]);
    const status = [0];
    expect(libcOf(h, h.init).wait4(-1, status, 0, 0).ret).toBe(2);
    expect(status[0]).toBe(SIGKILL);
    expect([...h.rootPidNs.pids.keys()]).toEqual([1]);
  });

  it('a namespace\'s init ignores signals from inside its namespace and takes SIGKILL from an ancestor', () => {
    const h = Host.create({ arch });
    const init1 = nestedInit(h, 1);
    const inner = libcOf(h, init1).fork().child!;
    expect(libcOf(h, inner).kill(1, SIGKILL).ret).toBe(0);
    expect(init1.state).toBe('runnable');
    expect(libcOf(h, init1).kill(1, SIGKILL).ret).toBe(0);
    expect(init1.state).toBe('runnable');
    expect(libcOf(h, h.init).kill(1, SIGKILL).ret).toBe(0);
    expect(h.init.state).toBe('runnable');
    libcOf(h, h.init).kill(init1.pid.nr, SIGKILL);
    expect(init1.state).toBe('zombie');
  });

  it('a zombie holds its pid at every level until it is reaped', () => {
    const h = Host.create({ arch });
    const init1 = nestedInit(h, 1);
    const child = libcOf(h, init1).fork().child!;
    expect(child.nspids).toEqual([3, 2]);
    libcOf(h, child).exit(7);
    expect(child.state).toBe('zombie');
    expect(libcOf(h, init1).eclone(SIGCHLD, { nr_pids: 2 }, 48, [3, 9]).errno).toBe('EBUSY');
    expect(libcOf(h, init1).eclone(SIGCHLD, { nr_pids: 2 }, 48, [9, 2]).errno).toBe('EBUSY');
    const status = [0];
    expect(libcOf(h, init1).wait4(2, status, 0, 0).ret).toBe(2);
    expect(status[0]).toBe(7 << 8);
    expect(libcOf(h, init1).eclone(SIGCHLD, { nr_pids: 2 }, 48, [3, 2]).ret).toBe(2);
  });

  it('a process group id stays allocated after its leader is reaped while members remain', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const leader = l.fork().child!; // 2
    expect(libcOf(h, leader).setpgid(0, 0).ret).toBe(0);
    const member = libcOf(h, leader).fork().child!; // 3, in group 2
    libcOf(h, leader).exit(0);
    expect(l.wait4(2, 0, 0, 0).ret).toBe(2);
    expect(h.tasks.has(leader)).toBe(false);
    expect(taken(h, 2)).toBe(true);
    expect(libcOf(h, member).getpgid(0).ret).toBe(2);
    expect(libcOf(h, member).getppid().ret).toBe(1); // reparented to the reaper
    expect(l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [2]).errno).toBe('EBUSY');
    libcOf(h, member).exit(0);
    expect(l.wait4(3, 0, 0, 0).ret).toBe(3);
    expect(taken(h, 2)).toBe(false);
  });

  it('a session id stays allocated after the session leader is reaped', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const leader = l.fork().child!;
    expect(libcOf(h, leader).setsid().ret).toBe(2);
    const member = libcOf(h, leader).fork().child!;
    expect(libcOf(h, member).setpgid(0, 0).ret).toBe(0);
    libcOf(h, leader).exit(0);
    l.wait4(2, 0, 0, 0);
    expect(taken(h, 2)).toBe(true);
    expect(libcOf(h, member).getsid(0).ret).toBe(2);
  });

  it('wait4: ECHILD, WNOHANG, blocking and wake-up through the restartable syscall state', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    expect(expectUnchanged(h, () => l.wait4(-1, 0, 0, 0)).errno).toBe('ECHILD');
    const child = l.fork().child!;
    expect(l.wait4(-1, 0, WNOHANG, 0).ret).toBe(0);
    expect(l.wait4(99, 0, 0, 0).errno).toBe('ECHILD');
    const status = [0];
    const blocked = l.wait4(-1, status, 0, 0);
    expect(blocked.blocked).toBe(true);
    expect(h.init.state).toBe('blocked');
    expect(h.init.blockedIn).toBe('wait4');
    libcOf(h, child).exit(42);
    expect(h.init.state).toBe('runnable');
    const r = l.resume();
    expect(r.ret).toBe(2);
    expect(status[0]).toBe(42 << 8);
  });

  it('wait4 reaps even when the status pointer faults, and reports EFAULT (2.6.32 wait_task_zombie)', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const child = l.fork().child!;
    libcOf(h, child).exit(0);
    expect(l.wait4(-1, BAD_POINTER, 0, 0).errno).toBe('EFAULT');
    expect(taken(h, 2)).toBe(false);
  });

  it('wait4 selects by process group and by __WCLONE', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const a = l.fork().child!;
    const b = l.fork().child!;
    libcOf(h, b).setpgid(0, 0);
    const c = l.clone(0, 0, 0, 0, 0).child!; // exit signal 0: a "clone" child
    for (const t of [a, b, c]) libcOf(h, t).exit(1);
    expect(l.wait4(-3, 0, WNOHANG, 0).ret).toBe(3);
    expect(l.wait4(0, 0, WNOHANG, 0).ret).toBe(2);
    expect(l.wait4(-1, 0, WNOHANG, 0).errno).toBe('ECHILD');
    expect(l.wait4(-1, 0, __WCLONE | WNOHANG, 0).ret).toBe(4);
  });

  it('SIGSTOP and SIGCONT are reported once each to WUNTRACED and WCONTINUED waiters; SIGKILL ends a stopped process', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const child = l.fork().child!;
    expect(l.kill(2, SIGSTOP).ret).toBe(0);
    expect(child.state).toBe('stopped');
    const status = [0];
    expect(l.wait4(2, status, WUNTRACED | WNOHANG, 0).ret).toBe(2);
    expect(status[0]).toBe((SIGSTOP << 8) | 0x7f);
    expect(l.wait4(2, status, WUNTRACED | WNOHANG, 0).ret).toBe(0);
    l.kill(2, SIGCONT);
    expect(child.state).toBe('runnable');
    expect(l.wait4(2, status, WCONTINUED | WNOHANG, 0).ret).toBe(2);
    expect(status[0]).toBe(0xffff);
    l.kill(2, SIGSTOP);
    l.kill(2, SIGKILL);
    expect(l.wait4(2, status, 0, 0).ret).toBe(2);
    expect(status[0]).toBe(SIGKILL);
  });

  it('kill errors: EINVAL, ESRCH, EPERM', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const u = unprivileged(h);
    expect(expectUnchanged(h, () => l.kill(2, 65)).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => l.kill(999, 0)).errno).toBe('ESRCH');
    expect(expectUnchanged(h, () => l.kill(-999, SIGKILL)).errno).toBe('ESRCH');
    expect(expectUnchanged(h, () => libcOf(h, u).kill(1, SIGKILL)).errno).toBe('EPERM');
    expect(libcOf(h, u).kill(2, 0).ret).toBe(0);
  });

  it.each(['mainline', '2.6.32'] as const)('threads share the tgid, have their own tids, and never become zombies; a leader waits for its threads (%s)', (kernel) => {
    const h = Host.create({ arch, kernel });
    const l = libcOf(h, h.init);
    const proc = l.fork().child!; // 2
    const thread = libcOf(h, proc).clone(THREAD, 0, 0, 0, 0).child!;
    expect(libcOf(h, thread).getpid().ret).toBe(2);
    expect(libcOf(h, thread).gettid().ret).toBe(3);
    expect(libcOf(h, thread).getppid().ret).toBe(1);
    expect(thread.mm).toBe(proc.mm);
    libcOf(h, proc).exit(5); // the leader exits first
    expect(proc.state).toBe('zombie');
    expect(l.wait4(2, 0, WNOHANG, 0).ret).toBe(0); // delay_group_leader
    libcOf(h, thread).exit(6);
    expect(h.tasks.has(thread)).toBe(false);
    const status = [0];
    expect(l.wait4(2, status, WNOHANG, 0).ret).toBe(2);
    // mainline: the last thread out sets the status (kernel/exit.c synchronize_group_exit); 2.6.32: the leader's own
    expect(status[0]).toBe((kernel === 'mainline' ? 6 : 5) << 8);
    expect(taken(h, 3)).toBe(false);
  });

  it('exit_group takes every thread with one status; children of an exiting thread go to a sibling thread', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const proc = l.fork().child!;
    const thread = libcOf(h, proc).clone(THREAD, 0, 0, 0, 0).child!;
    const orphan = libcOf(h, thread).fork().child!;
    expect(orphan.parent).toBe(thread);
    libcOf(h, thread).exit(0);
    expect(orphan.parent).toBe(proc);
    const t2 = libcOf(h, proc).clone(THREAD, 0, 0, 0, 0).child!;
    libcOf(h, t2).exit_group(9);
    expect(proc.state).toBe('zombie');
    const status = [0];
    expect(l.wait4(2, status, 0, 0).ret).toBe(2);
    expect(status[0]).toBe(9 << 8);
    expect(orphan.parent).toBe(h.init);
  });

  it('ids from outside a namespace read as 0 inside it (pid_vnr)', () => {
    const h = Host.create({ arch });
    const init1 = nestedInit(h, 1);
    const l1 = libcOf(h, init1);
    expect(l1.getpid().ret).toBe(1);
    expect(l1.getppid().ret).toBe(0);
    expect(l1.getpgid(0).ret).toBe(0);
    expect(l1.getsid(0).ret).toBe(0);
    expect(l1.setsid().ret).toBe(1);
    expect(l1.getpgid(0).ret).toBe(1);
    expect(libcOf(h, h.init).getpgid(2).ret).toBe(2);
  });

  it('setsid and setpgid errors (setsid(2), setpgid(2))', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const a = l.fork().child!;
    const b = libcOf(h, a).fork().child!;
    const la = libcOf(h, a);
    expect(expectUnchanged(h, () => l.setsid()).errno).toBe('EPERM'); // init leads its group
    expect(expectUnchanged(h, () => la.setpgid(0, -1)).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => la.setpgid(999, 0)).errno).toBe('ESRCH');
    expect(expectUnchanged(h, () => la.setpgid(1, 0)).errno).toBe('ESRCH');
    expect(expectUnchanged(h, () => la.setpgid(0, 77)).errno).toBe('EPERM');
    expect(libcOf(h, b).setsid().ret).toBe(3);
    expect(expectUnchanged(h, () => la.setpgid(3, 0)).errno).toBe('EPERM'); // child in another session
    expect(expectUnchanged(h, () => libcOf(h, b).setpgid(0, 0)).errno).toBe('EPERM'); // session leader
    expect(la.setpgid(0, 0).ret).toBe(0);
    expect(expectUnchanged(h, () => la.setsid()).errno).toBe('EPERM');
  });

  it('setuid drops every capability; capset can only shrink', () => {
    const h = Host.create({ arch });
    const child = libcOf(h, h.init).fork().child!;
    const lc = libcOf(h, child);
    const hdr = { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    expect(lc.capset(hdr, [{ effective: 0xffffffff, permitted: 0xffffffff, inheritable: 0 }, { effective: 0, permitted: 0xff, inheritable: 0 }]).ret).toBe(0);
    expect(expectUnchanged(h, () => lc.capset(hdr, [{ effective: 1, permitted: 1, inheritable: 0 }, { effective: 0, permitted: 0x1ff, inheritable: 0 }])).errno).toBe('EPERM');
    expect(expectUnchanged(h, () => lc.capset({ version: 1, pid: 0 }, [])).errno).toBe('EINVAL');
    expect(lc.setuid(1000).ret).toBe(0);
    const data: Array<{ effective: number; permitted: number; inheritable: number }> = [];
    expect(lc.capget(hdr, data).ret).toBe(0);
    expect(data).toEqual([
      { effective: 0, permitted: 0, inheritable: 0 },
      { effective: 0, permitted: 0, inheritable: 0 },
    ]);
    expect(lc.getuid().ret).toBe(1000);
    expect(expectUnchanged(h, () => lc.setuid(0)).errno).toBe('EPERM');
  });

  it('pid namespaces nest 32 deep; the 33rd is ENOSPC', () => {
    const h = Host.create({ arch });
    const deepest = nestedInit(h, MAX_PID_NS_LEVEL);
    expect(deepest.nspids.length).toBe(33);
    expect(expectUnchanged(h, () => libcOf(h, deepest).clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0)).errno).toBe('ENOSPC');
    expect(expectUnchanged(h, () => libcOf(h, deepest).unshare(CLONE_NEWPID)).errno).toBe('ENOSPC');
    // clone3 at level 32 can name 32 levels, never the root's (docs/semantics.md §2.2, §5.3)
    const r = libcOf(h, deepest).clone3({ exit_signal: SIGCHLD, set_tid: Array.from({ length: 32 }, () => 100) }, 88);
    expect(r.child!.nspids).toEqual([34, ...Array.from({ length: 32 }, () => 100)]);
  });

  it('unshare(CLONE_NEWPID) leaves the caller in place and makes its first child pid 1', () => {
    const h = Host.create({ arch });
    const t = libcOf(h, h.init).fork().child!;
    const lt = libcOf(h, t);
    const u = unprivileged(h);
    expect(expectUnchanged(h, () => libcOf(h, u).unshare(CLONE_NEWPID)).errno).toBe('EPERM');
    expect(lt.unshare(CLONE_NEWPID).ret).toBe(0);
    expect(lt.getpid().ret).toBe(2);
    expect(expectUnchanged(h, () => lt.unshare(CLONE_NEWPID)).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => lt.clone(THREAD, 0, 0, 0, 0)).errno).toBe('EINVAL');
    const first = lt.fork().child!;
    expect(first.nspids).toEqual([4, 1]);
    expect(first.activeNs.childReaper).toBe(first);
    expect(lt.fork().child!.nspids).toEqual([5, 2]);
  });

  it('ns_last_pid: read, write, permission, bounds, and the silent skip of a busy pid (proc(5), docs/semantics.md §3.5)', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const path = '/proc/sys/kernel/ns_last_pid';
    const fd = l.open(path, 2).ret;
    expect(fd).toBe(0);
    const buf = new Uint8Array(16);
    expect(l.read(fd, buf, 16).ret).toBe(2);
    expect(new TextDecoder().decode(buf.subarray(0, 2))).toBe('1\n');
    expect(l.write(fd, '499\n').ret).toBe(4);
    expect(l.fork().ret).toBe(500);
    expect(l.write(fd, '499').ret).toBe(3);
    expect(l.fork().ret).toBe(501); // 500 is busy: the next free one, with no error
    expect(expectUnchanged(h, () => l.write(fd, 'abc')).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => l.write(fd, '32769')).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => l.write(fd, '-1')).errno).toBe('EINVAL');
    const u = unprivileged(h);
    const lu = libcOf(h, u);
    const ufd = lu.open(path, 2).ret;
    expect(expectUnchanged(h, () => lu.write(ufd, 'abc')).errno).toBe('EPERM'); // permission before parsing
    expect(expectUnchanged(h, () => l.open('/etc/passwd', 0)).errno).toBe('ENOENT');
    expect(l.close(fd).ret).toBe(0);
    expect(expectUnchanged(h, () => l.close(fd)).errno).toBe('EBADF');
    // It acts on the writer's own namespace.
    const init1 = nestedInit(h, 1);
    const l1 = libcOf(h, init1);
    const fd1 = l1.open(path, 1).ret;
    expect(l1.write(fd1, '99').ret).toBe(2);
    expect(l1.fork().child!.nspids.slice(1)).toEqual([100]);
    expect(expectUnchanged(h, () => l1.read(fd1, new Uint8Array(4), 4)).errno).toBe('EBADF');
  });

  it('memory: pages allocated on first write, shared copy-on-write after fork, EFAULT on bad pointers', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const addr = l.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    const resident = h.init.mm.residentPages();
    expect(l.loadInt32(addr)).toBe(0);
    expect(h.init.mm.residentPages()).toBe(resident);
    l.storeInt32(addr, 1234);
    expect(h.init.mm.residentPages()).toBe(resident + 1);
    const child = l.fork().child!;
    expect(child.mm.isShared(addr)).toBe(true);
    libcOf(h, child).storeInt32(addr, 5678);
    expect(child.mm.isShared(addr)).toBe(false);
    expect(l.loadInt32(addr)).toBe(1234);
    expect(libcOf(h, child).loadInt32(addr)).toBe(5678);
    expect(l.munmap(addr, 8192).ret).toBe(0);
    expect(() => l.loadInt32(addr)).toThrow(/load at/);
    expect(expectUnchanged(h, () => l.munmap(addr + 1, 4096)).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => l.mmap(0, 4096, PROT_READ, MAP_PRIVATE, 3, 0)).errno).toBe('EBADF');
  });

  it('an unknown syscall number is ENOSYS', () => {
    const h = Host.create({ arch });
    const t: Task = h.init;
    const before = t.regs.slice();
    abiRegisters(t.abi).nr.set(t.dv, 999);
    h.syscall(t);
    expect(t.abi.readReturn(t.dv)).toEqual({ ret: -1, errno: 38 });
    t.regs.set(before);
  });
});
