/**
 * clone3() with set_tid as mainline has it: every rule of docs/semantics.md §5,
 * including the selftest cases it cites (clone3_set_tid.c, clone3.c,
 * clone3_cap_checkpoint_restore.c), through each ABI's registers and memory.
 * Every case runs on both kernel personalities (src/kernel/personality.ts):
 * clone3 is mainline's on both, and where the kernel around it differs on a
 * 2.6.32 host, the case says so with its own `v2632` outcome and source.
 */
import { describe, expect, it } from 'vitest';
import {
  CLONE_DETACHED,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_PIDFD,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  CAP_CHECKPOINT_RESTORE,
  Host,
  LINUX_CAPABILITY_VERSION_3,
  SIGCHLD,
  SIGKILL,
  type Clone3Args,
  type ErrnoName,
  type Task,
} from '../../src/index.js';
import { abiRegisters } from '../../src/arch/reg-access.js';
import { ALL_ARCHES, BAD_POINTER, forked, nestedInit, unprivileged, userContainer } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

type Args = Omit<Clone3Args, 'set_tid'> & { set_tid?: number[] | number };

interface Clone3Case {
  name: string;
  source: string;
  pidMax?: number;
  setup?: (h: Host) => Task;
  args: Args | number;
  size?: number;
  /** the kernel keeps the cursor advance of auto allocations made before the failing check (§5.3) */
  advancesLastPid?: true;
  /** the outcome on mainline, and on 2.6.32 unless `v2632` says otherwise */
  expect: Outcome;
  /** where a 2.6.32 host differs: its outcome and the source of the difference */
  v2632?: { expect: Outcome; source: string };
}

type Outcome = { errno: ErrnoName } | { nspids: number[]; ret: number };
const KERNELS = ['mainline', '2.6.32'] as const;
type Kernel = (typeof KERNELS)[number];

const ok = (nspids: number[], ret = nspids[nspids.length - 1]!) => ({ nspids, ret });
const CLEAR_SIGHAND = 1n << 32n;
const INTO_CGROUP = 1n << 33n;

/** checkpointRestoreOnly keeps only CAP_CHECKPOINT_RESTORE in a forked child (selftest clone3_cap_checkpoint_restore). */
function checkpointRestoreOnly(h: Host): Task {
  const child = libcOf(h, h.init).fork().child!;
  const cr = 2 ** (CAP_CHECKPOINT_RESTORE - 32);
  const r = libcOf(h, child).capset({ version: LINUX_CAPABILITY_VERSION_3, pid: 0 }, [
    { effective: 0, permitted: 0, inheritable: 0 },
    { effective: cr, permitted: cr, inheritable: 0 },
  ]);
  if (r.ret !== 0) throw new Error(`capset: ${r.errno}`);
  return child;
}

const CASES: Clone3Case[] = [
  // copy_clone_args_from_user (§5.2 steps 1-9)
  { name: 'size above PAGE_SIZE', source: '§5.2 step 1', args: { exit_signal: SIGCHLD }, size: 4097, expect: { errno: 'E2BIG' } },
  { name: 'size below CLONE_ARGS_SIZE_VER0', source: '§5.2 step 2', args: { exit_signal: SIGCHLD }, size: 63, expect: { errno: 'EINVAL' } },
  { name: 'a 64-byte struct has no set_tid and works', source: '§5.2 step 3', args: { exit_signal: SIGCHLD }, size: 64, expect: ok([2]) },
  { name: 'a zero tail past the kernel struct is accepted', source: '§5.2 step 3', args: { exit_signal: SIGCHLD }, size: 120, expect: ok([2]) },
  { name: 'struct unmapped', source: '§5.2 step 3', args: BAD_POINTER, size: 88, expect: { errno: 'EFAULT' } },
  { name: 'set_tid_size 33', source: '§5.2 step 4', args: { exit_signal: SIGCHLD, set_tid: 0x1000, set_tid_size: 33 }, size: 80, expect: { errno: 'EINVAL' } },
  { name: 'set_tid_size without set_tid', source: '§5.2 step 5', args: { exit_signal: SIGCHLD, set_tid_size: 1 }, size: 80, expect: { errno: 'EINVAL' } },
  { name: 'CRIU probe: set_tid = -1 with set_tid_size 0 means set_tid is supported', source: '§5.2 step 6', args: { exit_signal: SIGCHLD, set_tid: -1 }, size: 80, expect: { errno: 'EINVAL' } },
  { name: 'exit_signal outside CSIGNAL', source: '§5.2 step 7', args: { exit_signal: 0x100 }, expect: { errno: 'EINVAL' } },
  { name: 'exit_signal 65 is not a valid signal', source: '§5.2 step 7', args: { exit_signal: 65 }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_INTO_CGROUP in an 80-byte struct', source: '§5.2 step 8', args: { flags: INTO_CGROUP, exit_signal: SIGCHLD }, size: 80, expect: { errno: 'EINVAL' } },
  { name: 'set_tid unmapped', source: '§5.2 step 9', args: { exit_signal: SIGCHLD, set_tid: BAD_POINTER, set_tid_size: 1 }, size: 80, expect: { errno: 'EFAULT' } },
  // clone3_args_valid (§5.2 steps 10-14)
  { name: 'an unknown flag above bit 33', source: '§5.2 step 10', args: { flags: 1n << 40n, exit_signal: SIGCHLD }, expect: { errno: 'EINVAL' } },
  { name: 'CSIGNAL bits in flags', source: '§5.2 step 11', args: { flags: SIGCHLD }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_DETACHED', source: '§5.2 step 11', args: { flags: CLONE_DETACHED, exit_signal: SIGCHLD }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_SIGHAND with CLONE_CLEAR_SIGHAND', source: '§5.2 step 12', args: { flags: BigInt(CLONE_SIGHAND | CLONE_VM) | CLEAR_SIGHAND }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_THREAD with an exit signal', source: '§5.2 step 13', args: { flags: CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, exit_signal: SIGCHLD }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_PARENT with an exit signal', source: '§5.2 step 13', args: { flags: CLONE_PARENT, exit_signal: SIGCHLD }, expect: { errno: 'EINVAL' } },
  { name: 'stack without stack_size', source: '§5.2 step 14', args: { exit_signal: SIGCHLD, stack: 0x10000 }, expect: { errno: 'EINVAL' } },
  { name: 'stack_size without stack', source: '§5.2 step 14', args: { exit_signal: SIGCHLD, stack_size: 4096 }, expect: { errno: 'EINVAL' } },
  // alloc_pid with set_tid (§5.3)
  { name: 'set_tid_size beyond the child namespace levels', source: '§5.3', args: { exit_signal: SIGCHLD, set_tid: [500, 600] }, expect: { errno: 'EINVAL' } },
  { name: 'set_tid 0 is EINVAL, not auto', source: '§5.3 check 1, §6', args: { exit_signal: SIGCHLD, set_tid: [0] }, expect: { errno: 'EINVAL' } },
  { name: 'set_tid negative', source: '§5.3 check 1', args: { exit_signal: SIGCHLD, set_tid: [-1] }, expect: { errno: 'EINVAL' } },
  { name: 'set_tid equal to pid_max', source: '§5.3 check 1', args: { exit_signal: SIGCHLD, set_tid: [32768] }, expect: { errno: 'EINVAL' } },
  { name: 'set_tid names a free pid', source: '§5.3', args: { exit_signal: SIGCHLD, set_tid: [600] }, expect: ok([600]) },
  {
    name: 'set_tid below 300 is allowed after the namespace has wrapped (eclone says EINVAL)',
    source: '§6',
    pidMax: 400,
    setup: (h) => {
      const l = libcOf(h, forked(h, 300));
      l.kill(42, SIGKILL);
      if (l.wait4(42, 0, 0, 0).ret !== 42) throw new Error('could not reap 42');
      return h.init;
    },
    args: { exit_signal: SIGCHLD, set_tid: [42] },
    expect: ok([42]),
  },
  { name: 'set_tid of the caller\'s own pid is EEXIST', source: '§5.3 check 4', args: { exit_signal: SIGCHLD, set_tid: [1] }, expect: { errno: 'EEXIST' } },
  { name: 'pid 1 in a namespace whose init is alive is EEXIST (selftest case 15)', source: '§5.4', setup: (h) => nestedInit(h, 1), args: { exit_signal: SIGCHLD, set_tid: [1] }, expect: { errno: 'EEXIST' } },
  { name: 'CLONE_NEWPID: the new namespace must get pid 1', source: '§5.3 check 2, §5.4', args: { flags: CLONE_NEWPID, exit_signal: SIGCHLD, set_tid: [5] }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_NEWPID: set_tid[0] = 1 and the parent level named', source: '§5.3, §5.4', args: { flags: CLONE_NEWPID, exit_signal: SIGCHLD, set_tid: [1, 700] }, expect: ok([700, 1], 700) },
  { name: 'set_tid naming levels from the innermost out', source: '§5.3', setup: (h) => nestedInit(h, 2), args: { exit_signal: SIGCHLD, set_tid: [40, 50] }, expect: ok([4, 50, 40], 40) },
  { name: 'a pid taken at an outer level only', source: '§5.3 check 4', setup: (h) => nestedInit(h, 1), args: { exit_signal: SIGCHLD, set_tid: [50, 2] }, expect: { errno: 'EEXIST' } },
  { name: 'unprivileged: EPERM', source: '§5.3 check 3, §5.2', setup: (h) => unprivileged(h), args: { exit_signal: SIGCHLD, set_tid: [600] }, expect: { errno: 'EPERM' } },
  { name: 'unprivileged with an invalid innermost tid gets EINVAL first (selftest case 17)', source: '§5.3', setup: (h) => unprivileged(h), args: { exit_signal: SIGCHLD, set_tid: [0] }, expect: { errno: 'EINVAL' } },
  { name: 'CAP_CHECKPOINT_RESTORE alone suffices', source: '§5.3 check 3 (5.9+)', setup: checkpointRestoreOnly, args: { exit_signal: SIGCHLD, set_tid: [600] }, expect: ok([600]) },
  { name: 'a user-namespace container may name its own level', source: '§5.3 check 3', setup: (h) => userContainer(h), args: { exit_signal: SIGCHLD, set_tid: [40] }, expect: ok([3, 40], 40) },
  { name: 'but not the level its user namespace does not own', source: '§5.3 check 3', setup: (h) => userContainer(h), args: { exit_signal: SIGCHLD, set_tid: [40, 900] }, expect: { errno: 'EPERM' } },
  {
    name: 'exhaustion at an auto level is EAGAIN',
    source: '§5.3',
    pidMax: 301,
    setup: (h) => forked(h, 299),
    args: { exit_signal: SIGCHLD },
    expect: { errno: 'EAGAIN' },
  },
  {
    name: 'a namespace whose init died accepts no pids: ENOMEM',
    source: '§5.3, §5.4',
    setup: (h) => {
      const u = libcOf(h, h.init).fork().child!;
      libcOf(h, u).unshare(CLONE_NEWPID);
      const first = libcOf(h, u).fork().child!;
      libcOf(h, u).kill(first.pid.nr, SIGKILL);
      return u;
    },
    args: { exit_signal: SIGCHLD },
    advancesLastPid: true,
    expect: { errno: 'ENOMEM' },
  },
  { name: 'CLONE_PIDFD with CLONE_THREAD', source: 'clone(2)', args: { flags: CLONE_PIDFD | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, pidfd: 0x1000 }, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_NEWUSER with CLONE_THREAD', source: '§4.4 step 5', args: { flags: CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM }, expect: { errno: 'EINVAL' } },
  {
    name: 'CLONE_NEWPID | CLONE_PARENT from a process that is not an init',
    source: 'kernel/pid_namespace.c copy_pid_ns (v6.12): no CLONE_PARENT rule',
    setup: (h) => libcOf(h, h.init).fork().child!,
    args: { flags: CLONE_NEWPID | CLONE_PARENT },
    expect: ok([3, 1], 3),
    v2632: { expect: { errno: 'EINVAL' }, source: 'kernel/pid_namespace.c copy_pid_ns (v2.6.32): CLONE_THREAD | CLONE_PARENT' },
  },
  {
    name: 'CLONE_NEWPID | CLONE_THREAD after setuid(1000)',
    source: 'kernel/fork.c copy_process (v6.12): the flag check comes before any capability',
    setup: (h) => unprivileged(h),
    args: { flags: CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM },
    expect: { errno: 'EINVAL' },
    v2632: { expect: { errno: 'EPERM' }, source: 'kernel/nsproxy.c copy_namespaces (v2.6.32): CAP_SYS_ADMIN before copy_pid_ns' },
  },
  {
    name: 'CLONE_NEWUSER without capabilities',
    source: 'kernel/user_namespace.c create_user_ns (v6.12): no capability needed',
    setup: (h) => unprivileged(h),
    args: { flags: CLONE_NEWUSER, exit_signal: SIGCHLD },
    expect: ok([3]),
    v2632: { expect: { errno: 'EPERM' }, source: 'kernel/fork.c copy_process (v2.6.32): CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID' },
  },
];

function run(arch: string, kernel: Kernel, c: Clone3Case) {
  const h = Host.create({ arch, kernel, ...(c.pidMax ? { pidMax: c.pidMax } : {}) });
  const caller = c.setup ? c.setup(h) : h.init;
  const masked = (snap: ReturnType<Host['snapshot']>) =>
    JSON.stringify(c.advancesLastPid ? { ...snap, pidNamespaces: snap.pidNamespaces.map((n) => ({ ...n, lastPid: 0 })) } : snap);
  const before = h.snapshot();
  const r = libcOf(h, caller).clone3(c.args, c.size ?? 88);
  if (r.errno) {
    const after = h.snapshot();
    if (c.advancesLastPid) expect(after.pidNamespaces.map((n) => n.lastPid)).not.toEqual(before.pidNamespaces.map((n) => n.lastPid));
    return { errno: r.errno, unchanged: masked(after) === masked(before) };
  }
  return { ret: r.ret, nspids: r.child?.nspids };
}

describe.each(KERNELS)('clone3 with set_tid (docs/semantics.md §5) through every ABI on a %s host', (kernel) => {
  for (const c of CASES) {
    const differs = kernel === '2.6.32' && c.v2632;
    it(`${c.name} [${differs ? `2.6.32 differs: ${c.v2632!.source}` : c.source}]`, () => {
      const outcome = differs ? c.v2632!.expect : c.expect;
      const want = 'errno' in outcome ? { errno: outcome.errno, unchanged: true } : { ret: outcome.ret, nspids: outcome.nspids };
      for (const arch of ALL_ARCHES) expect({ arch, ...run(arch, kernel, c) }).toEqual({ arch, ...want });
    });
  }
});

describe.each(ALL_ARCHES)('clone3 effects on %s', (arch) => {
  it('a non-zero byte past the kernel struct is E2BIG before the head is read', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const page = l.mmap(0, 4096, 3, 0x22, -1, 0).ret;
    l.store(page + 100, new Uint8Array([1]));
    expect(l.clone3(page, 128).errno).toBe('E2BIG');
    l.store(page + 100, new Uint8Array([0]));
    l.store(page + 32, new Uint8Array(h.arch.littleEndian ? [SIGCHLD] : [0, 0, 0, 0, 0, 0, 0, SIGCHLD]));
    expect(l.clone3(page, 128).ret).toBe(2);
  });

  it('set_tid never moves the cursor; after unshare(CLONE_NEWPID) only pid 1 may be named first', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    expect(l.clone3({ exit_signal: SIGCHLD, set_tid: [900] }, 88).ret).toBe(900);
    expect(l.fork().ret).toBe(2);
    const u = l.fork().child!;
    const lu = libcOf(h, u);
    expect(lu.unshare(CLONE_NEWPID).ret).toBe(0);
    expect(lu.clone3({ exit_signal: SIGCHLD, set_tid: [5] }, 88).errno).toBe('EINVAL');
    const init = lu.clone3({ exit_signal: SIGCHLD, set_tid: [1, 1000] }, 88).child!;
    expect(init.nspids).toEqual([1000, 1]);
    expect(lu.clone3({ exit_signal: SIGCHLD, set_tid: [5] }, 88).child!.nspids).toEqual([4, 5]);
  });

  it('CLONE_PARENT with exit_signal 0 makes a sibling that inherits its creator\'s exit signal (mainline copy_process)', () => {
    const h = Host.create({ arch });
    const child = libcOf(h, h.init).fork().child!;
    const sibling = libcOf(h, child).clone3({ flags: CLONE_PARENT, exit_signal: 0 }, 64).child!;
    expect(sibling.parent).toBe(h.init);
    expect(sibling.exitSignal).toBe(SIGCHLD);
    // eclone (2.6.32) takes the signal from the flags instead
    const viaEclone = libcOf(h, child).eclone(CLONE_PARENT, {}, 48, []).child!;
    expect(viaEclone.exitSignal).toBe(0);
  });

  it('CLONE_PIDFD writes the new descriptor to pidfd', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const page = l.mmap(0, 4096, 3, 0x22, -1, 0).ret;
    l.storeInt32(page, -1);
    expect(l.clone3({ flags: CLONE_PIDFD, exit_signal: SIGCHLD, pidfd: page }, 64).ret).toBe(2);
    expect(l.loadInt32(page)).toBe(0);
  });

  it('the stack is the lowest address: the child starts at stack + stack_size', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const stack = l.mmap(0, 16384, 3, 0x22, -1, 0).ret;
    const child = l.clone3({ exit_signal: SIGCHLD, stack, stack_size: 16384 }, 64).child!;
    const sp = abiRegisters(child.abi).sp.get(child.dv);
    expect(sp).toBe(stack + 16384);
  });
});
