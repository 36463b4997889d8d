/**
 * Bad input never breaks the kernel: random sequences of syscalls with
 * hostile arguments (bad pointers, huge and negative numbers, random flag
 * sets, malformed structs) on every ABI. After every call: no exception
 * escaped, every pid is registered at every level exactly while something
 * uses it (no leak, no half-created task), and a failing call left the host
 * unchanged, except for the cursor advances the kernel itself keeps
 * (docs/semantics.md §3.4).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLONE_CHILD_SETTID,
  CLONE_FS,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_PARENT_SETTID,
  CLONE_SETTLS,
  CLONE_SIGHAND,
  CLONE_THREAD,
  CLONE_VM,
  Host,
  SIGCHLD,
  type SyscallResult,
  UserFault,
  type Task,
} from '../../src/index.js';
import type { PidNamespace } from '../../src/kernel/pid-namespace.js';
import { ALL_ARCHES, BAD_POINTER } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

const PID_MAX = 600;
const FLAG_BITS = [SIGCHLD, CLONE_VM, CLONE_FS, CLONE_SIGHAND, CLONE_PARENT, CLONE_THREAD, CLONE_NEWNS, CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_NEWUSER, CLONE_NEWPID];
const FORK_TYPES = new Set(['fork', 'clone', 'eclone', 'clone3']);

/** Numbers that hit edges often, and pids that collide often. */
const num = fc.oneof(
  { arbitrary: fc.constantFrom(0, 1, 2, -1, 299, 300, 301, PID_MAX - 1, PID_MAX, 0x7fffffff, -0x80000000, 4096, BAD_POINTER), weight: 1 },
  { arbitrary: fc.integer({ min: -5, max: PID_MAX + 5 }), weight: 1 },
);
const pidNr = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 12 }), weight: 3 }, { arbitrary: fc.integer({ min: 298, max: 306 }), weight: 3 }, { arbitrary: num, weight: 1 });
const flags = fc.oneof(
  { arbitrary: fc.constantFrom(SIGCHLD, SIGCHLD | CLONE_NEWPID, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD, SIGCHLD | CLONE_NEWPID | CLONE_NEWUSER), weight: 3 },
  { arbitrary: fc.subarray(FLAG_BITS).map((bits) => bits.reduce((a, b) => (a | b) >>> 0, 0)), weight: 1 },
);
const pids = fc.oneof({ arbitrary: fc.array(pidNr, { minLength: 1, maxLength: 4 }), weight: 4 }, { arbitrary: fc.constantFrom(0, BAD_POINTER), weight: 1 });
const ecloneArgs = fc.oneof(
  { arbitrary: fc.record({ nr_pids: fc.integer({ min: 0, max: 4 }) }), weight: 6 },
  { arbitrary: fc.record({ nr_pids: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(0x80000000)), reserved0: fc.constantFrom(0, 1), child_stack_size: fc.constantFrom(0, 8) }), weight: 1 },
  { arbitrary: fc.constantFrom(0, BAD_POINTER), weight: 1 },
);
const clone3Args = fc.oneof(
  { arbitrary: fc.record({ flags: fc.constantFrom(0, 0, CLONE_NEWPID), exit_signal: fc.constant(SIGCHLD), set_tid: fc.array(pidNr, { maxLength: 3 }) }), weight: 6 },
  {
    arbitrary: fc.record({
      flags,
      exit_signal: fc.constantFrom(0, SIGCHLD, 65),
      set_tid: fc.oneof(fc.array(num, { maxLength: 3 }), fc.constantFrom(0, BAD_POINTER)),
      stack: fc.constantFrom(0, 0, 4096),
      stack_size: fc.constantFrom(0, 0, 4096),
    }),
    weight: 1,
  },
  { arbitrary: fc.constantFrom(0, BAD_POINTER), weight: 1 },
);

/** A call is a syscall name and its arguments; the task is picked by index among the live ones. */
const call = fc.record({
  who: fc.nat(),
  what: fc.oneof(
    fc.tuple(fc.constant('eclone' as const), flags, ecloneArgs, fc.constantFrom(48, 48, 48, 48, 47, 0, -1), pids),
    fc.tuple(fc.constant('clone3' as const), clone3Args, fc.constantFrom(88, 88, 88, 80, 64, 63, 4097)),
    fc.tuple(fc.constant('clone' as const), flags, num, num, num, num),
    fc.tuple(fc.constant('fork' as const)),
    fc.tuple(fc.constant('wait4' as const), fc.oneof(fc.constant(-1), pidNr), fc.constantFrom(0, 0, 0, BAD_POINTER), fc.constantFrom(0, 1, 1, 1, 2, 0x1000), fc.constantFrom(0, 0, 0, BAD_POINTER)),
    fc.tuple(fc.constant('kill' as const), pidNr, fc.constantFrom(0, 9, 9, 19, 18, 17, 15, 65, -1)),
    fc.tuple(fc.constant('setpgid' as const), pidNr, pidNr),
    fc.tuple(fc.constant('setsid' as const)),
    fc.tuple(fc.constant('getpgid' as const), pidNr),
    fc.tuple(fc.constant('getsid' as const), pidNr),
    fc.tuple(fc.constant('setuid' as const), fc.constantFrom(0, 1000, -1)),
    fc.tuple(fc.constant('unshare' as const), flags),
    fc.tuple(fc.constant('pidfd_open' as const), pidNr, fc.constantFrom(0, 0, 0o4000, 1)),
    fc.tuple(fc.constant('setns' as const), fc.constantFrom(0, 3, 4, 5, -1), fc.oneof(flags, fc.constantFrom(0x20000000, 0x10000000, 0x30000000))),
    fc.tuple(fc.constant('exit' as const), num),
    fc.tuple(fc.constant('exit_group' as const), num),
    fc.tuple(fc.constant('munmap' as const), num, num),
    fc.tuple(fc.constant('mmap' as const), num, num, fc.constantFrom(0, 3, 8), fc.constantFrom(0, 0x22, 0x21, 0x2), num, num),
  ),
});

/** invoke makes one generated call; the arguments come typed from the generators above. */
function invoke(host: Host, t: Task, what: readonly unknown[]): SyscallResult {
  const l = libcOf(host, t);
  const [name, ...rest] = what;
  const arg = (i: number): never => rest[i] as never;
  switch (name) {
    case 'eclone':
      return l.eclone(arg(0), arg(1), arg(2), arg(3));
    case 'clone3':
      return l.clone3(arg(0), arg(1));
    case 'clone':
      return l.clone(arg(0), arg(1), arg(2), arg(3), arg(4));
    case 'fork':
      return l.fork();
    case 'wait4':
      return l.wait4(arg(0), arg(1), arg(2), arg(3));
    case 'kill':
      return l.kill(arg(0), arg(1));
    case 'setpgid':
      return l.setpgid(arg(0), arg(1));
    case 'setsid':
      return l.setsid();
    case 'getpgid':
      return l.getpgid(arg(0));
    case 'getsid':
      return l.getsid(arg(0));
    case 'setuid':
      return l.setuid(arg(0));
    case 'unshare':
      return l.unshare(arg(0));
    case 'pidfd_open':
      return l.pidfd_open(arg(0), arg(1));
    case 'setns':
      return l.setns(arg(0), arg(1));
    case 'exit':
      return l.exit(arg(0));
    case 'exit_group':
      return l.exit_group(arg(0));
    case 'munmap':
      return l.munmap(arg(0), arg(1));
    case 'mmap':
      return l.mmap(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5));
    default:
      throw new Error(`no such call ${name}`);
  }
}

/** checkPids verifies every namespace's bitmap and table agree with the tasks, groups and sessions using them. */
function checkPids(host: Host): void {
  const namespaces = new Set<PidNamespace>();
  for (const t of host.tasks) {
    for (const ns of t.pid.ns.chain) namespaces.add(ns);
    for (const p of [t.pid, t.group.pgrp, t.group.session]) {
      expect(p.inUse).toBe(true);
      for (let i = 0; i <= p.level; i++) {
        const ns = p.ns.chain[i]!;
        expect(ns.pids.get(p.numbers[i]!)).toBe(p);
        expect(ns.bitmap.test(p.numbers[i]!)).toBe(true);
      }
    }
  }
  for (const ns of namespaces) {
    let bits = 0;
    for (let nr = 1; nr < ns.pidMax; nr++) {
      if (!ns.bitmap.test(nr)) continue;
      bits++;
      const p = ns.pids.get(nr);
      expect(p, `pid ${nr} at level ${ns.level} is set in the bitmap but belongs to nothing`).toBeDefined();
      expect(p!.inUse, `pid ${nr} at level ${ns.level} is allocated but unused`).toBe(true);
    }
    expect(bits).toBe(ns.pids.size);
  }
}

function masked(host: Host): string {
  const s = host.snapshot();
  return JSON.stringify({ ...s, pidNamespaces: s.pidNamespaces.map((n) => ({ ...n, lastPid: 0 })) });
}

describe('hostile syscall sequences', () => {
  it('never throw, never leak a pid, and leave the host unchanged when they fail', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_ARCHES), fc.array(call, { minLength: 20, maxLength: 60 }), (arch, calls) => {
        const host = Host.create({ arch, pidMax: PID_MAX });
        for (const { who, what } of calls) {
          const live = [...host.tasks].filter((t) => !t.exited);
          const t = live[who % live.length]!;
          const l = libcOf(host, t);
          if (l.isBlocked) {
            l.resume();
            continue;
          }
          // The root namespace's init ending its group panics the kernel, as Linux does ("Attempted to kill init!").
          if (t.group === host.init.group && (what[0] === 'exit_group' || (what[0] === 'exit' && t.group.threadCount === 1))) continue;
          if (host.tasks.size > 60 && FORK_TYPES.has(what[0])) continue;
          const before = host.snapshot();
          let r: SyscallResult;
          try {
            r = invoke(host, t, what);
          } catch (e) {
            // A task whose stack pointer is garbage cannot even marshal its arguments: SIGSEGV for a
            // real program, and the kernel was never entered.
            if (!(e instanceof UserFault)) throw e;
            expect(host.snapshot()).toEqual(before);
            continue;
          }
          checkPids(host);
          if (r.errno && !(what[0] === 'wait4' && r.errno === 'EFAULT')) {
            const after = host.snapshot();
            if (FORK_TYPES.has(what[0])) expect(masked(host)).toBe(JSON.stringify({ ...before, pidNamespaces: before.pidNamespaces.map((n) => ({ ...n, lastPid: 0 })) }));
            else expect(after).toEqual(before);
          }
        }
      }),
      { numRuns: 120, seed: 20091113 },
    );
  }, 120_000);
});
