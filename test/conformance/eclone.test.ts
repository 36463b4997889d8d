/**
 * eclone() as the v13 patchset defined it: every rule of docs/semantics.md §4,
 * including the cr-tests eclone-1..5 cases (cr-tests), entered through each of
 * the six ABIs' registers and memory. Each case is data: who calls, with
 * what, and the outcome; failing calls must leave the host unchanged. Every
 * case runs on both kernel personalities (src/kernel/personality.ts): eclone
 * is v13's on both, and where the mainline kernel around it differs, the
 * case says so with its own `mainline` outcome and source.
 */
import { describe, expect, it } from 'vitest';
import {
  CLONE_NEWNS,
  CLONE_FS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_PARENT_SETTID,
  CLONE_CHILD_SETTID,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  Host,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SIGCHLD,
  encodeEcloneArgs,
  type EcloneArgs,
  type ErrnoName,
  type Task,
} from '../../src/index.js';
import { abiRegisters } from '../../src/arch/reg-access.js';
import { ALL_ARCHES, BAD_POINTER, expectUnchanged, forked, nestedInit, unprivileged } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

interface EcloneCase {
  name: string;
  /** where the rule comes from */
  source: string;
  pidMax?: number;
  /** prepares the host and returns the caller (default: the root init) */
  setup?: (h: Host) => Task;
  flags?: number;
  args?: EcloneArgs | number;
  size?: number;
  pids?: number[] | number;
  /** the outcome on 2.6.32, and on mainline unless `mainline` says otherwise */
  expect: Outcome;
  /** where mainline differs: its outcome and the source of the difference */
  mainline?: { expect: Outcome; source: string };
}

type Outcome = { errno: ErrnoName } | { nspids: number[]; ret: number };
const KERNELS = ['mainline', '2.6.32'] as const;
type Kernel = (typeof KERNELS)[number];

const ok = (nspids: number[], ret = nspids[nspids.length - 1]!) => ({ nspids, ret });

const CASES: EcloneCase[] = [
  // §4.4 step 1: args_size must be exactly 48
  { name: 'args_size 47', source: '§4.4 step 1', size: 47, args: { nr_pids: 1 }, pids: [377], expect: { errno: 'EINVAL' } },
  { name: 'args_size 56 (the pre-v13 struct)', source: '§4.4 step 1, §4.1', size: 56, args: { nr_pids: 1 }, pids: [377], expect: { errno: 'EINVAL' } },
  { name: 'args_size checked before the struct is read', source: '§4.4 steps 1-2', size: 0, args: BAD_POINTER, expect: { errno: 'EINVAL' } },
  // step 2
  { name: 'cargs NULL', source: '§4.4 step 2', args: 0, expect: { errno: 'EFAULT' } },
  { name: 'cargs unmapped', source: '§4.4 step 2', args: BAD_POINTER, expect: { errno: 'EFAULT' } },
  // step 3 (cr-tests eclone-3, eclone-4)
  { name: 'eclone-3: reserved0 = 0xdeadbeef', source: 'cr-tests eclone-3', args: { nr_pids: 1, reserved0: 0xdeadbeef }, pids: [377], expect: { errno: 'EINVAL' } },
  { name: 'eclone-4: clone_flags_high != 0', source: 'cr-tests eclone-4', args: { nr_pids: 1, clone_flags_high: 1n << 40n }, pids: [377], expect: { errno: 'EINVAL' } },
  { name: 'reserved0 checked before pids are copied', source: '§4.4 steps 3, 6', args: { nr_pids: 1, reserved0: 1 }, pids: BAD_POINTER, expect: { errno: 'EINVAL' } },
  // step 4
  { name: 'child_stack_size != 0', source: '§4.5, §4.4 step 4', args: { child_stack_size: 8192 }, expect: { errno: 'EINVAL' } },
  // step 5
  { name: 'CLONE_NEWUSER with CLONE_THREAD', source: '§4.4 step 5', flags: CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, args: {}, expect: { errno: 'EINVAL' } },
  {
    name: 'CLONE_NEWUSER unprivileged',
    source: '§4.4 step 5',
    setup: (h) => unprivileged(h),
    flags: SIGCHLD | CLONE_NEWUSER,
    args: {},
    expect: { errno: 'EPERM' },
    mainline: { expect: ok([3]), source: 'kernel/user_namespace.c create_user_ns (v6.12): no capability needed' },
  },
  {
    name: 'CLONE_NEWPID | CLONE_THREAD after setuid(1000)',
    source: '§6.1; kernel/nsproxy.c copy_namespaces (v2.6.32): CAP_SYS_ADMIN first',
    setup: (h) => unprivileged(h),
    flags: CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM,
    args: {},
    expect: { errno: 'EPERM' },
    mainline: { expect: { errno: 'EINVAL' }, source: 'kernel/fork.c copy_process (v6.12): the flag check comes before any capability' },
  },
  // step 6
  { name: 'eclone-5a: nr_pids 2 in the root namespace', source: 'cr-tests eclone-5', args: { nr_pids: 2 }, pids: [377, 399], expect: { errno: 'EINVAL' } },
  { name: 'nr_pids bound is checked before the capability', source: '§4.4 step 7', setup: (h) => unprivileged(h), args: { nr_pids: 2 }, pids: [377, 399], expect: { errno: 'EINVAL' } },
  { name: 'nr_pids beyond a level-2 caller', source: '§4.3', setup: (h) => nestedInit(h, 2), args: { nr_pids: 4 }, pids: [1, 2, 3, 4], expect: { errno: 'EINVAL' } },
  { name: 'pids unmapped', source: '§4.4 step 6', args: { nr_pids: 1 }, pids: BAD_POINTER, expect: { errno: 'EFAULT' } },
  { name: 'pids NULL with nr_pids 1', source: '§4.4 step 6', args: { nr_pids: 1 }, pids: 0, expect: { errno: 'EFAULT' } },
  { name: 'nr_pids >= 2^31 turns negative and faults', source: '§4.4 quirk', args: { nr_pids: 0x80000000 }, pids: [377], expect: { errno: 'EFAULT' } },
  // step 7
  { name: 'unprivileged caller naming a pid', source: '§4.3, §4.4 step 7', setup: (h) => unprivileged(h), args: { nr_pids: 1 }, pids: [377], expect: { errno: 'EPERM' } },
  { name: 'unprivileged caller with only auto entries still needs CAP_SYS_ADMIN', source: '§4.3', setup: (h) => unprivileged(h), args: { nr_pids: 1 }, pids: [0], expect: { errno: 'EPERM' } },
  { name: 'the capability is checked before the pid values', source: '§4.4 step 7', setup: (h) => unprivileged(h), args: { nr_pids: 1 }, pids: [-5], expect: { errno: 'EPERM' } },
  { name: 'unprivileged caller with nr_pids 0 is plain clone', source: '§4.3', setup: (h) => unprivileged(h), args: { nr_pids: 0 }, expect: ok([3]) },
  // step 8: copy_process flag rules
  { name: 'CLONE_THREAD without CLONE_SIGHAND', source: '§6.1', flags: CLONE_THREAD | CLONE_VM, args: {}, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_SIGHAND without CLONE_VM', source: '§6.1', flags: CLONE_SIGHAND, args: {}, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_NEWNS with CLONE_FS', source: '§6.1', flags: CLONE_NEWNS | CLONE_FS, args: {}, expect: { errno: 'EINVAL' } },
  { name: 'CLONE_PARENT from an init', source: '§6.1', flags: SIGCHLD | CLONE_PARENT, args: {}, expect: { errno: 'EINVAL' } },
  {
    name: 'CLONE_NEWPID with CLONE_PARENT from a process that is not an init',
    source: '§6.1',
    setup: (h) => libcOf(h, h.init).fork().child!,
    flags: CLONE_NEWPID | CLONE_PARENT,
    args: {},
    expect: { errno: 'EINVAL' },
    mainline: { expect: ok([3, 1], 3), source: 'kernel/pid_namespace.c copy_pid_ns (v6.12): no CLONE_PARENT rule' },
  },
  { name: 'CLONE_NEWPID unprivileged', source: '§6.1', setup: (h) => unprivileged(h), flags: SIGCHLD | CLONE_NEWPID, args: {}, expect: { errno: 'EPERM' } },
  // step 9: set_pidmap per level
  { name: 'eclone-1: pid 377 in the root namespace', source: 'cr-tests eclone-1', flags: SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, args: { nr_pids: 1 }, pids: [377], expect: ok([377]) },
  { name: 'eclone-2: the caller\'s own pid is EBUSY', source: 'cr-tests eclone-2', args: { nr_pids: 1 }, pids: [1], expect: { errno: 'EBUSY' } },
  { name: 'pid >= pid_max', source: '§4.4 step 9', args: { nr_pids: 1 }, pids: [32768], expect: { errno: 'EINVAL' } },
  { name: 'pid just below pid_max', source: '§4.4 step 9', args: { nr_pids: 1 }, pids: [32767], expect: ok([32767]) },
  { name: 'negative pid', source: '§4.4 step 9', args: { nr_pids: 1 }, pids: [-1], expect: { errno: 'EINVAL' } },
  { name: 'pid below 300 on a first pass', source: '§4.4 step 9, §3.2', args: { nr_pids: 1 }, pids: [42], expect: ok([42]) },
  {
    name: 'pid below 300 once last_pid has reached 300',
    source: '§4.4 step 9',
    pidMax: 400,
    setup: (h) => forked(h, 300),
    args: { nr_pids: 1 },
    pids: [42],
    expect: { errno: 'EINVAL' },
  },
  {
    name: 'auto allocation with no free pid is EBUSY',
    source: '§4.4 step 9 (patch 2)',
    pidMax: 301,
    setup: (h) => forked(h, 299),
    args: { nr_pids: 0 },
    expect: { errno: 'EBUSY' },
    mainline: { expect: { errno: 'EAGAIN' }, source: 'kernel/pid.c alloc_pid (v6.12): -ENOSPC from the idr is -EAGAIN' },
  },
  { name: 'eclone-5b: nr_pids 2 from level 1', source: 'cr-tests eclone-5', setup: (h) => nestedInit(h, 1), args: { nr_pids: 2 }, pids: [377, 399], expect: ok([377, 399]) },
  { name: 'a short array names the youngest levels', source: '§4.3', setup: (h) => nestedInit(h, 2), args: { nr_pids: 1 }, pids: [77], expect: ok([4, 3, 77]) },
  { name: '0 entries are auto at their level', source: '§4.3', setup: (h) => nestedInit(h, 2), args: { nr_pids: 3 }, pids: [0, 55, 0], expect: ok([4, 55, 2]) },
  { name: 'a pid taken only at an outer level is EBUSY', source: '§4.4 step 9', setup: (h) => nestedInit(h, 1), args: { nr_pids: 2 }, pids: [2, 50], expect: { errno: 'EBUSY' } },
  {
    name: 'CLONE_NEWPID: the child is 1 inside, the pids name the caller\'s levels',
    source: '§4.3',
    setup: (h) => nestedInit(h, 1),
    flags: SIGCHLD | CLONE_NEWPID,
    args: { nr_pids: 2 },
    pids: [500, 600],
    expect: ok([500, 600, 1], 600),
  },
];

/** run performs one case on one arch and reports the outcome and whether a failure left the host unchanged. */
function run(arch: string, kernel: Kernel, c: EcloneCase) {
  const h = Host.create({ arch, kernel, ...(c.pidMax ? { pidMax: c.pidMax } : {}) });
  const caller = c.setup ? c.setup(h) : h.init;
  const before = h.snapshot();
  const r = libcOf(h, caller).eclone(c.flags ?? SIGCHLD, c.args ?? {}, c.size ?? 48, c.pids ?? []);
  if (r.errno) return { errno: r.errno, unchanged: JSON.stringify(h.snapshot()) === JSON.stringify(before) };
  return { ret: r.ret, nspids: r.child?.nspids };
}

describe.each(KERNELS)('eclone (docs/semantics.md §4) through every ABI on a %s host', (kernel) => {
  for (const c of CASES) {
    const differs = kernel === 'mainline' && c.mainline;
    it(`${c.name} [${differs ? `mainline differs: ${c.mainline!.source}` : c.source}]`, () => {
      const outcome = differs ? c.mainline!.expect : c.expect;
      const outcomes = ALL_ARCHES.map((arch) => run(arch, kernel, c));
      const want = 'errno' in outcome ? { errno: outcome.errno, unchanged: true } : { ret: outcome.ret, nspids: outcome.nspids };
      for (const [i, o] of outcomes.entries()) expect({ arch: ALL_ARCHES[i], ...o }).toEqual({ arch: ALL_ARCHES[i], ...want });
    });
  }
});

describe.each(ALL_ARCHES)('eclone effects on %s', (arch) => {
  it('eclone-1: the child sees gettid() == 377 and the tid pointers are written in the task byte order', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const page = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    const r = l.eclone(SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, { nr_pids: 1, parent_tid_ptr: page, child_tid_ptr: page + 8 }, 48, [377]);
    expect(r.ret).toBe(377);
    const child = r.child!;
    expect(libcOf(h, child).gettid().ret).toBe(377);
    expect(libcOf(h, child).getpid().ret).toBe(377);
    expect(libcOf(h, child).getppid().ret).toBe(1);
    expect(l.loadInt32(page)).toBe(377);
    expect(libcOf(h, child).loadInt32(page + 8)).toBe(377);
    // The parent's copy is separate: CHILD_SETTID wrote into the child's copy-on-write page only.
    expect(l.loadInt32(page + 8)).toBe(0);
    const raw = l.load(page, 4);
    expect(Array.from(raw)).toEqual(h.arch.littleEndian ? [0x79, 1, 0, 0] : [0, 0, 1, 0x79]);
  });

  it('a targeted pid never moves last_pid: the next fork takes the next pid after the last auto one', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    expect(l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [377]).ret).toBe(377);
    expect(h.rootPidNs.lastPid).toBe(1);
    expect(l.fork().ret).toBe(2);
  });

  it('a failure at an outer level frees the inner numbers it took', () => {
    const h = Host.create({ arch });
    const c1 = nestedInit(h, 1); // root pid 2
    const l = libcOf(h, c1);
    expect(l.eclone(SIGCHLD, { nr_pids: 2 }, 48, [2, 50]).errno).toBe('EBUSY');
    expect(h.snapshot().pidNamespaces[1]!.pids).toEqual([1]);
    expect(l.eclone(SIGCHLD, { nr_pids: 2 }, 48, [300, 50]).child!.nspids).toEqual([300, 50]);
  });

  it('auto allocations at inner levels keep their last_pid advance when an outer level fails (§4.4 step 9, inferred from the code)', () => {
    const h = Host.create({ arch });
    const c1 = nestedInit(h, 1);
    const l = libcOf(h, c1);
    expect(l.eclone(SIGCHLD, { nr_pids: 2 }, 48, [2, 0]).errno).toBe('EBUSY');
    expect(h.snapshot().pidNamespaces[1]!.lastPid).toBe(2);
    expect(l.fork().child!.nspids).toEqual([3, 3]);
  });

  it('each call names only its own pids: levels a call leaves out are auto, whatever an earlier call named there (§4.4 step 6)', () => {
    const h = Host.create({ arch });
    const c2 = nestedInit(h, 2); // nspids [3, 2, 1]
    const l = libcOf(h, c2);
    expect(l.eclone(SIGCHLD, { nr_pids: 3 }, 48, [700, 800, 900]).child!.nspids).toEqual([700, 800, 900]);
    // nr_pids 1 names the caller's level only: levels 0 and 1 take their next auto pid, not 700 and 800 again
    expect(l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [901]).child!.nspids).toEqual([4, 3, 901]);
    // a call refused after copying pids[] (EPERM) leaves nothing behind for the next one
    const weak = libcOf(h, unprivileged(h, c2)); // [5, 4, 2]
    expect(weak.eclone(SIGCHLD, { nr_pids: 3 }, 48, [710, 810, 910]).errno).toBe('EPERM');
    expect(l.eclone(SIGCHLD, {}, 48, []).child!.nspids).toEqual([6, 5, 3]);
  });

  it('child_stack is the child\'s stack pointer; 0 keeps the caller\'s', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const stack = l.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    const a = l.eclone(SIGCHLD, { child_stack: stack + 8192 }, 48, []).child!;
    const b = l.eclone(SIGCHLD, {}, 48, []).child!;
    const sp = (t: Task) => abiRegisters(t.abi).sp.get(t.dv);
    expect(sp(a)).toBe(stack + 8192);
    expect(sp(b)).toBe(sp(h.init));
  });
});

describe.each(ALL_ARCHES)('clone_args and pids[] anywhere in user memory on %s', (arch) => {
  // copy_from_user of clone_args and pids[] (§4.4 steps 2 and 6) wherever they lie: inside a page,
  // across a page edge, in a page never written (reads as zero); a range running into an unmapped
  // page is EFAULT and changes nothing.
  it('reads them alike inside a page, across a page edge and from a page never written; EFAULT past the mapping', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const page = h.init.abi.pageSize;
    const base = l.mmap(0, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).ret;
    const le = h.init.abi.littleEndian;
    const residentBefore = h.init.mm.residentPages();
    const places = [0, page - 48, page - 20, page - 2];
    places.forEach((at, k) => {
      const args = base + at;
      const pids = base + page + (k === 3 ? page - 2 : 64 + 8 * k); // the last array crosses into the third page
      l.store(args, encodeEcloneArgs({ nr_pids: 1 }, le));
      l.storeInt32(pids, 377 + k);
      expect(l.eclone(SIGCHLD, args, 48, pids).ret, `clone_args at +${at}`).toBe(377 + k);
    });
    // a struct in a page never written is all zeros: nr_pids 0, so the kernel picks the pid
    const fresh = base + 3 * page + 1024;
    expect(h.init.mm.residentPages()).toBe(residentBefore + 3);
    const auto = l.eclone(SIGCHLD, fresh, 48, 0);
    expect(auto.errno).toBeUndefined();
    expect(auto.child!.nspids).toEqual([auto.ret]);
    // past the end of the mapping: the copy faults, whether the struct crosses into the hole or not
    expect(l.munmap(base + 2 * page, page).ret).toBe(0);
    const edge = base + 2 * page - 20;
    l.store(edge, encodeEcloneArgs({ nr_pids: 1 }, le).subarray(0, 20));
    expect(expectUnchanged(h, () => l.eclone(SIGCHLD, edge, 48, base + page + 64)).errno).toBe('EFAULT');
    expect(expectUnchanged(h, () => l.eclone(SIGCHLD, base, 48, base + 2 * page - 2)).errno).toBe('EFAULT');
  });
});
