/**
 * pidfd_open(2) and setns(2) with a pidfd, the way a restorer enters an
 * existing container's pid namespace (kernel/pid.c, kernel/nsproxy.c
 * pidns_install and userns_install; the order is in src/kernel/setns.ts).
 * Every case runs on all six ABIs through registers; a failure leaves the
 * host's snapshot unchanged.
 */
import { describe, expect, it } from 'vitest';
import {
  CLONE_NEWNET,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_THREAD,
  CLONE_SIGHAND,
  CLONE_VM,
  Host,
  PIDFD_NONBLOCK,
  SIGCHLD,
  SIGKILL,
  type Task,
} from '../../src/index.js';
import { ALL_ARCHES, expectUnchanged, nestedInit, unprivileged, userContainer } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

interface World {
  caller: Task;
  /** the pid the caller opens */
  target: number;
}

interface SetnsCase {
  name: string;
  source: string;
  setup: (h: Host) => World;
  nstype: number;
  /** the pidfd_open error, when opening already fails */
  openErrno?: string;
  /** setns's outcome; on success, the pid-namespace level of the caller's next child */
  expect: { errno: string } | { childLevel: number };
  openFlags?: number;
}

/** container: a level-1 namespace whose init is privileged in the root user namespace, and a child of it. */
function container(h: Host): { init: Task; child: Task } {
  const init = nestedInit(h, 1);
  const child = libcOf(h, init).fork().child!;
  return { init, child };
}

const CASES: SetnsCase[] = [
  { name: 'root joins a container\'s pid namespace', source: 'pidns_install', setup: (h) => ({ caller: h.init, target: container(h).child.pid.nr }), nstype: CLONE_NEWPID, expect: { childLevel: 1 } },
  { name: 'nstype 0 with a pidfd is EINVAL', source: 'check_setns_flags', setup: (h) => ({ caller: h.init, target: container(h).init.pid.nr }), nstype: 0, expect: { errno: 'EINVAL' } },
  { name: 'bits beyond the namespace flags are EINVAL', source: 'check_setns_flags', setup: (h) => ({ caller: h.init, target: container(h).init.pid.nr }), nstype: CLONE_NEWPID | CLONE_VM, expect: { errno: 'EINVAL' } },
  { name: 'joining one\'s own pid namespace is allowed', source: 'pidns_install: the active namespace itself', setup: (h) => ({ caller: h.init, target: 1 }), nstype: CLONE_NEWPID, expect: { childLevel: 0 } },
  { name: 'a container joining its own user namespace is EINVAL', source: 'userns_install: no regaining capabilities', setup: (h) => ({ caller: userContainer(h), target: 1 }), nstype: CLONE_NEWUSER, expect: { errno: 'EINVAL' } },
  { name: 'an unprivileged caller with another uid is EPERM (no ptrace access)', source: 'validate_nsset: ptrace_may_access', setup: (h) => ({ caller: unprivileged(h), target: container(h).init.pid.nr }), nstype: CLONE_NEWPID, expect: { errno: 'EPERM' } },
  {
    name: 'a reaped process is ESRCH',
    source: 'validate_nsset: pidfd_get_task',
    setup: (h) => ({ caller: h.init, target: -1 }),
    nstype: CLONE_NEWPID,
    expect: { errno: 'ESRCH' },
  },
  { name: 'CLONE_NEWUSER into a user-namespace container gives its capabilities', source: 'userns_install', setup: (h) => ({ caller: h.init, target: userContainer(h).pid.nr }), nstype: CLONE_NEWUSER | CLONE_NEWPID, expect: { childLevel: 1 } },
  { name: 'CLONE_NEWUSER into one\'s own user namespace is EINVAL', source: 'userns_install', setup: (h) => ({ caller: h.init, target: container(h).init.pid.nr }), nstype: CLONE_NEWUSER, expect: { errno: 'EINVAL' } },
  { name: 'namespaces the model does not keep are accepted and change nothing', source: 'setns(2); the model keeps pid and user namespaces', setup: (h) => ({ caller: h.init, target: container(h).init.pid.nr }), nstype: CLONE_NEWNET, expect: { childLevel: 0 } },
  { name: 'pidfd_open of pid 0 is EINVAL', source: 'pidfd_open(2)', setup: (h) => ({ caller: h.init, target: 0 }), nstype: CLONE_NEWPID, openErrno: 'EINVAL', expect: { errno: 'EINVAL' } },
  { name: 'pidfd_open of an unknown pid is ESRCH', source: 'pidfd_open(2)', setup: (h) => ({ caller: h.init, target: 4000 }), nstype: CLONE_NEWPID, openErrno: 'ESRCH', expect: { errno: 'ESRCH' } },
  { name: 'pidfd_open with unknown flags is EINVAL', source: 'pidfd_open(2)', setup: (h) => ({ caller: h.init, target: 1 }), openFlags: 1, nstype: CLONE_NEWPID, openErrno: 'EINVAL', expect: { errno: 'EINVAL' } },
  { name: 'pidfd_open with PIDFD_NONBLOCK', source: 'pidfd_open(2)', setup: (h) => ({ caller: h.init, target: container(h).init.pid.nr }), openFlags: PIDFD_NONBLOCK, nstype: CLONE_NEWPID, expect: { childLevel: 1 } },
  {
    name: 'pidfd_open of a thread that does not lead its group is ENOENT (Linux 5.10 and the 2.6.32 personality: EINVAL)',
    source: 'kernel/fork.c pidfd_prepare, v6.15',
    setup: (h) => ({ caller: h.init, target: libcOf(h, h.init).clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0).child!.pid.nr }),
    nstype: CLONE_NEWPID,
    openErrno: 'ENOENT',
    expect: { errno: 'ENOENT' },
  },
];

describe.each(ALL_ARCHES)('pidfd_open and setns on %s', (arch) => {
  it.each(CASES)('$name ($source)', (c) => {
    const h = Host.create({ arch });
    const w = c.setup(h);
    const l = libcOf(h, w.caller);
    if (w.target === -1) {
      // a child that has exited and been reaped, its pidfd still open
      const child = l.fork().child!;
      const fd = l.pidfd_open(child.pid.nrIn(w.caller.activeNs), 0).ret;
      libcOf(h, child).exit(0);
      l.wait4(child.pid.nr, 0, 0, 0);
      const r = expectUnchanged(h, () => l.setns(fd, c.nstype));
      expect(r.errno).toBe((c.expect as { errno: string }).errno);
      return;
    }
    const opened = l.pidfd_open(w.target, c.openFlags ?? 0);
    if (c.openErrno) {
      expect(opened.errno).toBe(c.openErrno);
      return;
    }
    expect(opened.errno).toBeUndefined();
    const fd = opened.ret;
    if ('errno' in c.expect) {
      expect(expectUnchanged(h, () => l.setns(fd, c.nstype)).errno).toBe(c.expect.errno);
      return;
    }
    expect(l.setns(fd, c.nstype)).toMatchObject({ ret: 0 });
    // The caller keeps its own pid; its next child is made in the joined namespace.
    expect(w.caller.pid.ns.level).toBe(0);
    const child = l.fork().child!;
    expect(child.pid.level).toBe(c.expect.childLevel);
  });

  it('an ancestor namespace is EINVAL; a sibling container\'s is EINVAL too (pidns_install)', () => {
    const h = Host.create({ arch });
    const a = nestedInit(h, 1);
    const b = nestedInit(h, 1);
    // a cannot name host tasks: the pidfds are opened by the host and handed over (as over a unix socket)
    const l = libcOf(h, h.init);
    a.group.files.set(10, h.init.group.files.get(l.pidfd_open(1, 0).ret)!);
    a.group.files.set(11, h.init.group.files.get(l.pidfd_open(b.pid.nr, 0).ret)!);
    expect(expectUnchanged(h, () => libcOf(h, a).setns(10, CLONE_NEWPID)).errno).toBe('EINVAL');
    expect(expectUnchanged(h, () => libcOf(h, a).setns(11, CLONE_NEWPID)).errno).toBe('EINVAL');
  });

  it('a user-namespace container may not join a namespace its user namespace does not own (EPERM)', () => {
    const h = Host.create({ arch });
    const u = userContainer(h);
    const inner = nestedInit(h, 1); // owned by the root user namespace, below the host only
    const fd = libcOf(h, h.init).pidfd_open(inner.pid.nr, 0).ret;
    u.group.files.set(10, h.init.group.files.get(fd)!);
    // u's active namespace is not an ancestor either, but the capability check comes first
    expect(expectUnchanged(h, () => libcOf(h, u).setns(10, CLONE_NEWPID)).errno).toBe('EPERM');
  });

  it('a child made in the joined namespace cannot itself make a new pid namespace; its own child can', () => {
    const h = Host.create({ arch });
    const { init } = container(h);
    const l = libcOf(h, h.init);
    l.setns(l.pidfd_open(init.pid.nr, 0).ret, CLONE_NEWPID);
    expect(expectUnchanged(h, () => l.clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0)).errno).toBe('EINVAL');
    const helper = l.eclone(SIGCHLD, { nr_pids: 0 }, 48, []).child!;
    expect(helper.nspids).toEqual([4, 3]);
    const inner = libcOf(h, helper).eclone(SIGCHLD | CLONE_NEWPID, { nr_pids: 2 }, 48, [500, 40]).child!;
    expect(inner.nspids).toEqual([500, 40, 1]);
    expect(inner.pid.ns.parent).toBe(init.pid.ns);
    // joining the root namespace again puts the next children back at level 0
    l.setns(l.pidfd_open(1, 0).ret, CLONE_NEWPID);
    expect(l.fork().child!.pid.level).toBe(0);
    libcOf(h, helper).kill(init.pid.nrIn(helper.activeNs), SIGKILL);
  });
});
