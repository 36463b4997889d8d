/**
 * The sixteen disagreement classes of issue 18, one hand-written scenario
 * each, and (issueClass 0) cases of the suite's own rules. Pids are literal: t0 is pid 1 of the scenario's namespace, and its
 * children get 2, 3, ... in order unless a step says otherwise.
 */
import type { HandCase, Op, Scenario, Step } from './scenario.js';

const NEWPID = 0x20000000;
const NEWUSER = 0x10000000;
const PARENT = 0x00008000;
const THREAD = 0x00010000 | 0x00000800 | 0x00000100; // CLONE_THREAD | CLONE_SIGHAND | CLONE_VM
const SIGHAND_VM = 0x00000800 | 0x00000100;
const WNOHANG = 1;
const WUNTRACED = 2;

const clone3 = (task: number, flags = 0, setTid: number[] = []): Step => ({ task, call: { op: 'clone3', flags, setTid } });
const on = (task: number, call: Op): Step => ({ task, call });
const wait = (task: number, pid = -1, options = WNOHANG): Step => on(task, { op: 'wait4', pid, options });
const scenario = (steps: Step[], rootSetTid = false): Scenario => ({ steps, ...(rootSetTid ? { rootSetTid } : {}) });

export const HAND_CASES: HandCase[] = [
  {
    name: 'clone3(CLONE_NEWPID | CLONE_PARENT) from a process that is not an init',
    issueClass: 1,
    scenario: scenario([clone3(0), clone3(1, NEWPID | PARENT), wait(0)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'automatic pids at the wrap of pid_max 302: the last free pid at 300, then back to the low pids',
    issueClass: 2,
    scenario: scenario([
      on(0, { op: 'write_sysctl', name: 'pid_max', value: 302 }),
      on(0, { op: 'read_sysctl', name: 'pid_max' }),
      clone3(0, 0, [301]),
      on(0, { op: 'write_sysctl', name: 'ns_last_pid', value: 300 }),
      clone3(0),
      on(0, { op: 'write_sysctl', name: 'ns_last_pid', value: 299 }),
      clone3(0),
      on(0, { op: 'read_sysctl', name: 'ns_last_pid' }),
    ]),
    expect: { kind: 'agree' },
  },
  {
    name: 'ns_last_pid in a namespace whose init was made with set_tid {1}',
    issueClass: 3,
    scenario: scenario([on(0, { op: 'read_sysctl', name: 'ns_last_pid' }), clone3(0), on(0, { op: 'read_sysctl', name: 'ns_last_pid' })], true),
    expect: { kind: 'agree' },
  },
  {
    name: 'a thread of a reparented process forks with CLONE_PARENT: the child belongs to the new parent',
    issueClass: 4,
    scenario: scenario([clone3(0), clone3(1), clone3(2, THREAD), on(1, { op: 'exit', code: 0 }), wait(0), clone3(3, PARENT), on(6, { op: 'exit', code: 7 }), wait(0), wait(0)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'an init dies while a process of its namespace has its parent outside: pid 1 stays taken until that one is reaped',
    issueClass: 5,
    scenario: scenario([
      clone3(0, NEWPID),
      on(0, { op: 'setns', pid: 2, nstype: NEWPID }),
      clone3(0),
      on(1, { op: 'exit', code: 0 }),
      wait(0, 2),
      clone3(0, 0, [1]),
      wait(0),
      wait(0),
      wait(0),
    ]),
    expect: { kind: 'agree' },
  },
  {
    name: 'CLONE_NEWPID | CLONE_THREAD after setuid(1000): the flags are checked before the privilege',
    issueClass: 6,
    scenario: scenario([clone3(0), on(1, { op: 'setuid', uid: 1000 }), clone3(1, NEWPID | THREAD)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'a pid namespace below one owned by a user namespace the caller is not in',
    issueClass: 7,
    scenario: scenario([clone3(0, NEWUSER | NEWPID), on(0, { op: 'setns', pid: 2, nstype: NEWPID }), clone3(0, NEWPID)]),
    expect: { kind: 'agree' },
  },
  {
    name: "wait4(-1) from a non-leader thread reaps the thread's own children first",
    issueClass: 8,
    scenario: scenario([clone3(0), clone3(1), clone3(1, THREAD), clone3(3), on(2, { op: 'exit', code: 1 }), on(4, { op: 'exit', code: 2 }), wait(3), wait(3), wait(3)]),
    expect: { kind: 'agree' },
  },
  {
    name: "the leader exits with 2, then the last thread with 5: the group's status is the last thread's",
    issueClass: 9,
    scenario: scenario([clone3(0), clone3(1, THREAD), on(1, { op: 'exit', code: 2 }), wait(0), on(2, { op: 'exit', code: 5 }), wait(0)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'CLONE_NEWUSER without capabilities',
    issueClass: 10,
    scenario: scenario([clone3(0), on(1, { op: 'setuid', uid: 1000 }), clone3(1, NEWUSER)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'setns with the pidfd of a zombie',
    issueClass: 11,
    scenario: scenario([clone3(0), on(1, { op: 'exit', code: 0 }), on(0, { op: 'setns', pid: 2, nstype: NEWPID }), wait(0)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'setns from a child user namespace to a process of the same uid in the parent user namespace',
    issueClass: 12,
    scenario: scenario([clone3(0), on(1, { op: 'setuid', uid: 1000 }), clone3(0), on(3, { op: 'setuid', uid: 1000 }), clone3(3, NEWUSER), on(5, { op: 'setns', pid: 2, nstype: NEWPID })]),
    expect: { kind: 'agree' },
  },
  {
    name: 'setns with CLONE_NEWUSER | CLONE_NEWPID',
    issueClass: 13,
    scenario: scenario([clone3(0, NEWUSER | NEWPID), on(0, { op: 'setns', pid: 2, nstype: NEWUSER | NEWPID }), clone3(0)]),
    expect: { kind: 'agree' },
  },
  {
    name: 'unshare(CLONE_NEWUSER) from a thread whose leader is a zombie',
    issueClass: 14,
    scenario: scenario([clone3(0), clone3(1, THREAD), on(1, { op: 'exit', code: 0 }), on(2, { op: 'unshare', flags: NEWUSER })]),
    expect: { kind: 'agree' },
  },
  {
    name: 'pidfd_open of a non-leader thread',
    issueClass: 15,
    scenario: scenario([clone3(0), clone3(1, THREAD), on(0, { op: 'pidfd_open', pid: 3 }), on(0, { op: 'pidfd_open', pid: 2 })]),
    expect: { kind: 'agree' },
  },
  {
    name: 'an init made with CLONE_SIGHAND dies: its parent, sharing the handlers, then reaps automatically',
    issueClass: 16,
    scenario: scenario([clone3(0, NEWPID | SIGHAND_VM), on(1, { op: 'exit', code: 0 }), wait(0), clone3(0), on(4, { op: 'exit', code: 0 }), wait(0)]),
    // The model has no signal handlers: it must refuse to share them (step 0) and say so.
    expect: { kind: 'modelRefuses', step: 0 },
  },
  {
    name: 'oracle D4: setns on a zombie that setuid made not dumpable, by a caller of the same uid: EPERM before ESRCH (task_still_dumpable)',
    issueClass: 0,
    scenario: scenario([on(0, { op: 'setuid', uid: 1000 }), clone3(0), clone3(2), on(3, { op: 'exit', code: 0 }), on(2, { op: 'setns', pid: 3, nstype: NEWPID })]),
    expect: { kind: 'agree' },
  },
  {
    name: 'oracle D7: a non-leader thread\'s raw setuid changes its credentials only; kill(tid) asks that thread\'s, kill(pid) the leader\'s',
    issueClass: 0,
    scenario: scenario([
      clone3(0),
      clone3(1, THREAD),
      on(2, { op: 'setuid', uid: 1000 }),
      clone3(2),
      on(4, { op: 'ids' }),
      on(4, { op: 'kill', pid: 2, sig: 0 }),
      on(4, { op: 'kill', pid: 3, sig: 0 }),
      on(4, { op: 'kill', pid: 3, sig: 9 }),
      wait(0, 2, 0),
    ]),
    expect: { kind: 'agree' },
  },
  {
    name: 'threads dying together hand their children to the init in an order Linux does not fix: the waits are compared as a set',
    issueClass: 0,
    scenario: scenario([
      clone3(0),
      clone3(1, THREAD),
      clone3(1),
      clone3(2),
      on(3, { op: 'exit', code: 1 }),
      on(4, { op: 'exit', code: 2 }),
      on(1, { op: 'exit_group', code: 0 }),
      wait(0),
      wait(0),
      wait(0),
      wait(0),
    ]),
    expect: { kind: 'agree' },
  },
  {
    name: 'SIGTSTP stops a child in a group of its own linked to its parent\'s session, and is dropped for a child in a session of its own (an orphaned group)',
    issueClass: 0,
    scenario: scenario([
      clone3(0),
      clone3(0),
      on(1, { op: 'setsid' }),
      on(2, { op: 'setpgid', pid: 0, pgid: 0 }),
      on(0, { op: 'kill', pid: 2, sig: 20 }),
      on(0, { op: 'kill', pid: 3, sig: 20 }),
      wait(0, -1, WNOHANG | WUNTRACED),
      wait(0, -1, WNOHANG | WUNTRACED),
      on(0, { op: 'kill', pid: 2, sig: 9 }),
      on(0, { op: 'kill', pid: 3, sig: 9 }),
      wait(0, 2, 0),
      wait(0, 3, 0),
    ]),
    expect: { kind: 'agree' },
  },
  {
    name: 'SIGPIPE keeps its default action in a container (the helper itself ignores it): sent by its parent or by itself, it ends a process, whose status says signal 13',
    issueClass: 0,
    scenario: scenario([clone3(0), clone3(0), on(0, { op: 'kill', pid: 2, sig: 13 }), on(2, { op: 'kill', pid: 3, sig: 13 }), wait(0, 2, 0), wait(0, 3, 0)]),
    expect: { kind: 'agree' },
  },
];
