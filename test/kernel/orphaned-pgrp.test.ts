/**
 * Orphaned process groups and the signals around them. Sources: POSIX.1
 * §3.2.2.2 (an exit that orphans a process group with a stopped member sends
 * every member SIGHUP and then SIGCONT); kernel/exit.c kill_orphaned_pgrp,
 * will_become_orphaned_pgrp, has_stopped_jobs, reparent_leader and
 * exit_notify (the same in 2.6.32 and mainline); kernel/signal.c
 * prepare_signal (SIGCONT resumes before anything can ignore it),
 * sig_task_ignored (an init ignores SEND_SIG_PRIV signals but SIGKILL and
 * SIGSTOP), check_kill_permission (SIGCONT within a session, kill(2)) and
 * get_signal (SIGTSTP, SIGTTIN and SIGTTOU are discarded for a member of an
 * orphaned group: is_current_pgrp_orphaned).
 */
import { describe, expect, it } from 'vitest';
import { CLONE_NEWPID, Host, SIGCHLD, SIGCONT, SIGSTOP, WCONTINUED, WNOHANG, type Task } from '../../src/index.js';
import { SIGHUP } from '../../src/abi/signals.js';
import { ALL_ARCHES, nestedInit, unprivileged } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

/** reapStatus reaps `t` from its parent and returns the wait status. */
function reapStatus(h: Host, t: Task): number {
  const status = [0];
  expect(libcOf(h, t.parent!).wait4(t.pid.nr, status, 0, 0).ret).toBe(t.pid.nr);
  return status[0]!;
}

/** jobOf forks from `parent` a child that moves into a process group of its own (a shell's job). */
function jobOf(h: Host, parent: Task): Task {
  const job = libcOf(h, parent).fork().child!;
  expect(libcOf(h, job).setpgid(0, 0).ret).toBe(0);
  return job;
}

describe.each(ALL_ARCHES)('orphaned process groups on %s', (arch) => {
  it('a parent exiting orphans its child\'s group with a stopped job: SIGHUP ends it (reparent_leader)', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!; // group 1, session 1: the job's link
    const job = jobOf(h, shell);
    expect(libcOf(h, shell).kill(job.pid.nr, SIGSTOP).ret).toBe(0);
    libcOf(h, shell).exit(0);
    expect(job.parent).toBe(h.init);
    expect(job.state).toBe('zombie');
    expect(reapStatus(h, job)).toBe(SIGHUP);
  });

  it('SIGTSTP, SIGTTIN and SIGTTOU stop a job whose group has a link in its session, and are dropped for an orphaned one; SIGSTOP stops both', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!;
    const linked = jobOf(h, shell); // parent `shell` is in another group of the same session
    const alone = libcOf(h, shell).fork().child!;
    expect(libcOf(h, alone).setsid().ret).toBe(alone.pid.nr); // a session of its own: no link, orphaned
    for (const sig of [20, 21, 22]) {
      expect(libcOf(h, shell).kill(alone.pid.nr, sig).ret).toBe(0);
      expect(alone.state, `signal ${sig}`).toBe('runnable');
      expect(libcOf(h, shell).kill(linked.pid.nr, sig).ret).toBe(0);
      expect(linked.state, `signal ${sig}`).toBe('stopped');
      libcOf(h, shell).kill(linked.pid.nr, SIGCONT);
    }
    expect(libcOf(h, shell).kill(alone.pid.nr, SIGSTOP).ret).toBe(0);
    expect(alone.state).toBe('stopped');
  });

  it('a group that still has a member whose parent is in another group of the session is not orphaned', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!;
    const other = libcOf(h, h.init).fork().child!;
    const job = jobOf(h, shell);
    const member = libcOf(h, other).fork().child!;
    expect(libcOf(h, member).setpgid(0, job.pid.nr).ret).toBe(0); // joins the job's group, linked through `other`
    libcOf(h, shell).kill(job.pid.nr, SIGSTOP);
    libcOf(h, shell).exit(0);
    expect([job.state, member.state]).toEqual(['stopped', 'runnable']);
    // The last link goes: now every member gets SIGHUP.
    libcOf(h, other).exit(0);
    expect([job.state, member.state]).toEqual(['zombie', 'zombie']);
    expect([reapStatus(h, job), reapStatus(h, member)]).toEqual([SIGHUP, SIGHUP]);
  });

  it('an orphaned group with no stopped member is left alone', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!;
    const job = jobOf(h, shell);
    libcOf(h, shell).kill(job.pid.nr, SIGSTOP);
    libcOf(h, shell).kill(job.pid.nr, SIGCONT); // continued: no longer a stopped job
    libcOf(h, shell).exit(0);
    expect(job.state).toBe('runnable');
  });

  it('the group\'s own death can orphan it: its other members get SIGHUP (exit_notify)', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!;
    const job = jobOf(h, shell); // the link: its parent is in group 1
    const worker = libcOf(h, job).fork().child!; // same group as its parent: no link
    libcOf(h, job).kill(worker.pid.nr, SIGSTOP);
    libcOf(h, job).exit(0);
    expect(worker.state).toBe('zombie');
    expect(reapStatus(h, worker)).toBe(SIGHUP);
    expect(shell.state).toBe('runnable');
  });

  it('a stopped process moved into another group by its parent counts as that group\'s stopped job', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!;
    const child = libcOf(h, shell).fork().child!;
    libcOf(h, shell).kill(child.pid.nr, SIGSTOP);
    expect(libcOf(h, shell).setpgid(child.pid.nr, child.pid.nr).ret).toBe(0);
    libcOf(h, shell).exit(0);
    expect(reapStatus(h, child)).toBe(SIGHUP);
  });

  it('a namespace\'s init in an orphaned group ignores the SIGHUP and is continued', () => {
    const h = Host.create({ arch });
    const shell = libcOf(h, h.init).fork().child!;
    const container = libcOf(h, shell).clone(SIGCHLD | CLONE_NEWPID, 0, 0, 0, 0).child!;
    expect(libcOf(h, container).setpgid(0, 0).ret).toBe(0);
    libcOf(h, shell).kill(container.pid.nr, SIGSTOP); // from an ancestor namespace: it stops
    expect(container.state).toBe('stopped');
    libcOf(h, shell).exit(0);
    expect(container.state).toBe('runnable');
    const status = [0];
    expect(libcOf(h, h.init).wait4(container.pid.nr, status, WCONTINUED | WNOHANG, 0).ret).toBe(container.pid.nr);
    expect(status[0]).toBe(0xffff);
  });
});

describe.each(ALL_ARCHES)('SIGCONT on %s', (arch) => {
  it('continues an init stopped from an ancestor even when sent from inside its namespace (prepare_signal)', () => {
    const h = Host.create({ arch });
    const init1 = nestedInit(h, 1);
    const inner = libcOf(h, init1).fork().child!;
    libcOf(h, h.init).kill(init1.pid.nr, SIGSTOP);
    expect(init1.state).toBe('stopped');
    expect(libcOf(h, inner).kill(1, SIGSTOP).ret).toBe(0); // ignored, as every signal from inside but SIGCONT's resuming
    expect(libcOf(h, inner).kill(1, SIGCONT).ret).toBe(0);
    expect(init1.state).toBe('runnable');
    expect(libcOf(h, inner).kill(1, SIGSTOP).ret).toBe(0);
    expect(init1.state).toBe('runnable');
  });

  it('may be sent to any process of the sender\'s own session, where other signals are EPERM (kill(2))', () => {
    const h = Host.create({ arch });
    const l = libcOf(h, h.init);
    const u = unprivileged(h); // uid 1000, session 1
    const target = l.fork().child!; // uid 0, session 1
    l.kill(target.pid.nr, SIGSTOP);
    expect(libcOf(h, u).kill(target.pid.nr, SIGSTOP).errno).toBe('EPERM');
    expect(libcOf(h, u).kill(target.pid.nr, SIGCONT).ret).toBe(0);
    expect(target.state).toBe('runnable');
    const elsewhere = l.fork().child!;
    expect(libcOf(h, elsewhere).setsid().ret).toBe(elsewhere.pid.nr);
    l.kill(elsewhere.pid.nr, SIGSTOP);
    expect(libcOf(h, u).kill(elsewhere.pid.nr, SIGCONT).errno).toBe('EPERM');
    expect(elsewhere.state).toBe('stopped');
  });
});
