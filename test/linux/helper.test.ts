/**
 * The helper's lifecycle on the real kernel: agents answer, die as asked,
 * and nothing the helper made outlives it, whether it is closed or killed.
 * Needs what the helper's probe asks (a user and a pid namespace); skipped with the reason otherwise.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { HelperSession, helperEnv, helperPath, probeLinux, startTime } from '../../src/linux/helper.js';

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: real-kernel tests skipped: ${support.reason}`);
const onLinux = support.ok ? describe : describe.skip;

async function gone(h: HelperSession, ms: number, settled: (left: number[]) => boolean = (left) => left.length === 0): Promise<number[]> {
  const until = Date.now() + ms;
  let left = h.leftovers();
  while (!settled(left) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    left = h.leftovers();
  }
  return left;
}

onLinux(`the real-kernel helper${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const session = (): { h: HelperSession; dir: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-helper-test-'));
    dirs.push(dir);
    return { h: HelperSession.start(dir), dir };
  };
  /** inSession runs `body` on a fresh helper session, closes it, and checks that every process it made is gone. */
  const inSession = async (body: (h: HelperSession) => Promise<void>): Promise<void> => {
    const { h } = session();
    try {
      await body(h);
    } finally {
      await h.close();
    }
    expect(await gone(h, 5000)).toEqual([]);
  };

  it('without root: "ok" where unprivileged users may make user namespaces, else one line saying what is missing', async () => {
    const which = await execa('sh', ['-c', 'command -v setpriv'], { reject: false });
    if (which.exitCode !== 0) return console.log('test/linux: setpriv (util-linux) is missing: the unprivileged probe is not tried');
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-helper-probe-'));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    const exe = join(dir, 'ckpt-helper');
    copyFileSync(helperPath(), exe);
    chmodSync(exe, 0o755);
    const asNobody = (...argv: string[]) => execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { reject: false });
    // the machine's answer, asked another way: unshare(1) makes a user and a pid namespace as that user
    const allowed = (await asNobody('unshare', '--user', '--pid', '--fork', 'true')).exitCode === 0;
    const r = await asNobody(exe, 'probe');
    if (allowed) expect([r.exitCode, r.stdout]).toEqual([0, 'ok']);
    else {
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/^not root \(euid 65534\), and this machine does not let an unprivileged user make a user namespace: clone3\(CLONE_NEWUSER\|CLONE_NEWPID\) failed with E[A-Z]+ \(see kernel\.unprivileged_userns_clone and user\.max_user_namespaces\)$/);
    }
  });

  it('follows a child its creator hands over with a pidfd, confirms it started, and reads its ids from /proc without it', { timeout: 30_000 }, async () => {
    const { h } = session();
    try {
      expect(await h.command('init 0 0 0 0')).toMatch(/^r \d+ - child=0 nspid=\d+,1 start=\d+ holder=\d+$/);
      // made by an agent on a socket: followed at once, its hello read before its first reply
      expect(await h.command('op 0 clone3 1 0 17 1 5')).toMatch(/^r 5 - child=1 nspid=\d+,5 start=\d+$/);
      expect(await h.command('confirm 0-1')).toBe('ok');
      expect(await h.command('op 1 setpgid 0 0')).toBe('r 0 -');
      expect(await h.command('ids 1')).toBe('r 0 - pgrp=5 sid=0');
      expect(await h.command('op 1 ids')).toBe('r 0 - pid=5 ppid=1 pgrp=5 sid=0 tid=5 uid=0');
      expect(await h.command('op 0 clone3 2 0 17 1 6')).toMatch(/^r 6 - child=2 /);
      // not confirmed yet: its first reply comes after its hello
      expect(await h.command('op 2 ids')).toBe('r 0 - pid=6 ppid=1 pgrp=0 sid=0 tid=6 uid=0');
      expect(await h.command('op 2 exit 0')).toBe('dead');
      expect(await h.command('ids 2')).toBe('gone');
      expect(await h.command('ids 9')).toBe('err no agent');
    } finally {
      await h.close();
    }
  });

  it('answers ids from a new agent\'s hello while nothing can have moved it, and from /proc once something may have', { timeout: 30_000 }, async () => {
    const { h } = session();
    try {
      await h.command('init 0 0 0 0');
      expect(await h.command('op 0 clone3 1 0 17 1 5')).toMatch(/^r 5 - child=1 /);
      // the init's group and session are outside its namespace: 0 there, inherited
      expect(await h.command('ids 1')).toBe('r 0 - pgrp=0 sid=0');
      expect(await h.command('op 0 setsid')).toBe('r 1 -');
      expect(await h.batch(['op 0 clone3 2 0 17 1 6', 'ids 2', 'ids 0', 'confirm 0-2'])).toEqual([expect.stringMatching(/^r 6 - child=2 /), 'r 0 - pgrp=1 sid=1', 'r 0 - pgrp=1 sid=1', 'ok']);
      // its parent moves it into a group of its own: what its hello said no longer holds
      expect(await h.command('op 0 setpgid 6 6')).toBe('r 0 -');
      expect(await h.command('ids 2')).toBe('r 0 - pgrp=6 sid=1');
      expect(await h.command('op 2 ids')).toBe('r 0 - pid=6 ppid=1 pgrp=6 sid=1 tid=6 uid=0');
      expect(await h.command('ids 1')).toBe('r 0 - pgrp=0 sid=0');
    } finally {
      await h.close();
    }
    expect(await gone(h, 5000)).toEqual([]);
  });

  it('gives every new agent\'s start time as /proc has it, and carries out a run longer than one line, stopping it at a failure', { timeout: 60_000 }, async () => {
    const { h } = session();
    try {
      await h.command('init 0 0 0 0');
      const clones = (from: number, to: number, pid: (i: number) => number): string[] => Array.from({ length: to - from }, (_, k) => `op 0 clone3 ${from + k} 0 17 1 ${pid(from + k)}`);
      const made = await h.batch(clones(1, 301, (i) => 100 + i));
      made.forEach((reply, k) => expect(reply).toMatch(new RegExp(`^r ${101 + k} - child=${1 + k} nspid=\\d+,${101 + k} start=\\d+$`)));
      for (const reply of made) {
        const [, pid, start] = / nspid=(\d+),\d+ start=(\d+)/.exec(reply)!;
        expect(startTime(Number(pid))).toBe(start);
      }
      // pid 550 is taken, and the 100th clone of the next run (in its first line of four, the second sent with it) asks for it: nothing after it is made
      expect(await h.command('op 0 clone3 301 0 17 1 550')).toMatch(/^r 550 - /);
      const replies = await h.batch(clones(302, 902, (i) => (i === 401 ? 550 : 1000 + i)));
      expect(replies.slice(0, 99)).toEqual(replies.slice(0, 99).map((_, k) => expect.stringMatching(new RegExp(`^r ${1302 + k} - child=${302 + k} `))));
      expect(replies.slice(99)).toEqual(['r -1 EEXIST', ...new Array<string>(500).fill('skipped')]);
      // neither the line sent with the failing one nor those after it was carried out, and the agent's channel is in step
      for (const agent of [402, 600, 800]) {
        expect(await h.command(`state ${agent}`)).toBe('err no agent');
        expect(await h.command(`op 0 kill ${1000 + agent} 0`)).toBe('r -1 ESRCH');
      }
      expect(await h.command('op 0 clone3 402 0 17 1 1402')).toMatch(/^r 1402 - child=402 /);
    } finally {
      await h.close();
    }
    expect(await gone(h, 10_000)).toEqual([]);
  });

  it('says each new agent\'s pids at every level as /proc has them: new namespaces, set_tid at some levels, after an unshare', { timeout: 30_000 }, async () => {
    const { h } = session();
    try {
      const NEWPID = 0x20000000;
      const made = await h.batch([
        'init 0 0 0 0',
        'op 0 clone3 1 0 17 1 5',
        `op 0 clone3 2 ${NEWPID} 17 0`,
        `op 2 clone3 3 ${NEWPID} 17 2 1 7`,
        'op 3 clone3 4 0 17 2 9 8',
        'op 3 clone3 5 0 17 0',
        `op 3 unshare ${NEWPID}`,
        'op 3 clone3 6 0 17 0',
        'op 6 clone3 7 0 17 1 4',
      ]);
      expect(made[6]).toBe('r 0 -');
      for (const reply of made.filter((r) => r.includes(' child='))) {
        const [, id, pids] = / child=(\d+) nspid=([\d,]+)/.exec(reply)!;
        const state = await h.command(`state ${id}`);
        expect(state).toMatch(/^s alive /);
        expect(state.split(' nspid=')[1]).toBe(pids);
      }
      expect(made[4]).toMatch(/ nspid=\d+,\d+,8,9 /);
      expect(made[8]).toMatch(/ nspid=\d+,\d+,\d+,\d+,4 /);
    } finally {
      await h.close();
    }
    expect(await gone(h, 5000)).toEqual([]);
  });

  it('exits at once, making nothing, when its parent is not the one that started it (that parent died before it asked to die with it)', { timeout: 30_000 }, async () => {
    const { dir } = session();
    // the parent it is told of is not its own: as when it has been handed to a reaper already
    const r = await execa(helperPath(), ['serve', dir], { input: 'init 0 0 0 0\n', env: { ...helperEnv(), CKPT_HELPER_PARENT: String(process.pid + 1) }, extendEnv: false, reject: false, timeout: 10_000 });
    // exit code 1 (not killed by the timeout) and nothing made: it did not serve the init
    expect([r.exitCode, r.stdout]).toEqual([1, '']);
    expect(readdirSync(dir)).toEqual([]);
    // told of its own parent, it serves
    const ok = await execa(helperPath(), ['serve', dir], { input: 'noop\nquit\n', env: helperEnv(), extendEnv: false, reject: false, timeout: 10_000 });
    expect([ok.exitCode, ok.stdout]).toEqual([0, 'err unknown command noop']);
  });

  it('makes an init, a child and a thread, each answering on its own channel', async () => {
    const { h } = session();
    try {
      expect(await h.command('init 0 0 0 0')).toMatch(/^r \d+ - child=0 nspid=\d+,1 start=\d+ holder=\d+$/);
      expect(await h.command('op 0 clone3 1 0 17 0')).toMatch(/^r 2 - child=1 nspid=\d+,2 start=\d+$/);
      expect(await h.command(`op 1 clone3 2 ${0x10000 | 0x800 | 0x100} 0 0`)).toMatch(/^r 3 - child=2 nspid=\d+,3 start=\d+$/);
      expect(await h.command('op 2 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=3 uid=0');
      expect(await h.command('op 0 clone3 3 0 17 1 2')).toBe('r -1 EEXIST');
      expect(await h.command('op 1 exit 4')).toBe('dead');
      expect(await h.command('op 1 ids')).toBe('gone');
      expect(await h.command('state 1')).toMatch(/^s zombie ppid=0 nspid=\d+,2$/);
      // a leader whose thread lives on is not reaped yet; the group's status is its last thread's
      expect(await h.command('op 0 wait4 -1 1')).toBe('r 0 - status=0');
      expect(await h.command('op 2 exit 5')).toBe('dead');
      expect(await h.command('op 0 wait4 -1 1')).toBe('r 2 - status=1280');
      expect(await h.command('nonsense')).toBe('err unknown command nonsense');
      expect(await h.command('op 0 nonsense')).toBe('err unknown request nonsense');
    } finally {
      await h.close();
    }
    expect(h.leftovers()).toEqual([]);
  }, 30_000);

  it('starts an init under a holder: in a session and group of its own, whose other members are the container\'s', async () => {
    const { h } = session();
    const stat = (pid: number): string[] => {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return text.slice(text.lastIndexOf(')') + 2).split(' '); // [0] state, [1] ppid, [2] pgrp, [3] session
    };
    try {
      // no user namespace: the container's processes are root on the machine, and still cannot reach the holder
      const made = await h.command('init 0 0 0 0');
      const init = Number(/ nspid=(\d+)/.exec(made)![1]);
      const holder = Number(/ holder=(\d+)/.exec(made)![1]);
      const [, ppid, pgrp, sid] = stat(init);
      // the init is its holder's child, in a session and group whose leader (the holder's short-lived leader) is gone
      expect(Number(ppid)).toBe(holder);
      expect(pgrp).toBe(sid);
      expect([holder, h.pid, process.pid].map(String)).not.toContain(sid);
      expect(existsSync(`/proc/${sid}`)).toBe(false);
      // the holder in a session of its own, neither the caller's nor the init's
      expect(stat(holder)[3]).toBe(String(holder));
      expect(stat(process.pid)[3]).not.toBe(String(holder));
      // a stop and a kill to the init's group reach a child there, and no process outside the container
      await h.command('op 0 clone3 1 0 17 0');
      expect(await h.command('op 0 kill 0 19')).toBe('r 0 -');
      expect(await h.command('state 1')).toMatch(/^s alive /);
      expect(stat(holder)[0]).toBe('S');
      expect(await h.command('op 0 kill 0 9')).toBe('r 0 -');
      expect(await h.command('state 1')).toMatch(/^s zombie /);
      expect(stat(holder)[0]).toBe('S');
      // an init that exits stays a zombie while the helper follows it, as a child of the helper did
      expect(await h.command('op 0 exit 0')).toBe('dead');
      expect(await h.command('state 0')).toMatch(/^s zombie ppid=out /);
      expect(stat(holder)[0]).toBe('S');
    } finally {
      await h.close();
    }
    // and its holder, let go, reaps it and exits
    expect(await gone(h, 5000)).toEqual([]);
  }, 30_000);

  it('answers "stopped" for a kill that stops its caller, sends nothing to a stopped agent, and skips its answer once it is continued', async () => {
    const { h } = session();
    try {
      await h.command('init 0 0 0 0');
      await h.command('op 0 clone3 1 0 17 0');
      // the child signals its own group (the init ignores it): kill returns 0, and the child stops before it can say so
      expect(await h.command('op 1 kill 0 19')).toBe('stopped');
      expect(await h.command('state 1')).toMatch(/^s alive /);
      expect(await h.command('op 1 ids')).toBe('err the agent is stopped: nothing is sent to it until it is continued');
      expect(await h.batch(['op 1 kill 0 19'])).toEqual(['err the agent is stopped: nothing is sent to it until it is continued']);
      expect(await h.command('op 0 kill 2 18')).toBe('r 0 -');
      // its late answer to the kill is not taken for the answer to what comes next
      expect(await h.command('op 1 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=2 uid=0');
      expect(await h.command('op 1 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=2 uid=0');
    } finally {
      await h.close();
    }
    expect(await gone(h, 5000)).toEqual([]);
  }, 30_000);

  it('reads the hello of an agent stopped before it ran, for ids, without owing it a reply: its first request after it is continued is answered', async () => {
    await inSession(async (h) => {
      await h.command('init 0 0 0 0');
      // made and stopped in one batch (its creator's two calls, back to back): it mostly stops before it says its hello, which ids then reads; tried often, as it is a race
      for (let k = 1; k <= 40; k += 2) {
        const pid = 10 + k;
        expect(await h.batch([`op 0 clone3 ${k} 0 17 1 ${pid}`, `op 0 kill ${pid} 19`, `ids ${k}`])).toEqual([expect.stringMatching(new RegExp(`^r ${pid} - child=${k} `)), 'r 0 -', 'r 0 - pgrp=0 sid=0']);
        expect(await h.command(`op 0 kill ${pid} 18`)).toBe('r 0 -');
        expect(await h.command(`op ${k} ids`)).toBe(`r 0 - pid=${pid} ppid=1 pgrp=0 sid=0 tid=${pid} uid=0`);
        // the same with its first request sent while it is stopped with its hello unread
        expect(await h.batch([`op 0 clone3 ${k + 1} 0 17 1 ${pid + 1}`, `op 0 kill ${pid + 1} 19`])).toEqual([expect.stringMatching(new RegExp(`^r ${pid + 1} - child=${k + 1} `)), 'r 0 -']);
        expect(await h.command(`op ${k + 1} ids`)).toMatch(/^(stopped|err the agent is stopped: .*|r 0 - pid=\d+ .*)$/);
        expect(await h.command(`op 0 kill ${pid + 1} 18`)).toBe('r 0 -');
        expect(await h.command(`op ${k + 1} ids`)).toBe(`r 0 - pid=${pid + 1} ppid=1 pgrp=0 sid=0 tid=${pid + 1} uid=0`);
      }
    });
  }, 30_000);

  it('answers a request line longer than its buffer "err request too long", once, and reads the next line whole', { timeout: 30_000 }, async () => {
    await inSession(async (h) => {
      await h.command('init 0 0 0 0');
      expect(await h.command(`op 0 getpid ${'7'.repeat(9000)}`)).toBe('err request too long');
      expect(await h.command('op 0 ids')).toMatch(/^r 0 - pid=1 /);
      expect(await h.batch(['op 0 ids', `ids ${'0'.repeat(5000)}`, 'ids 0'])).toEqual([expect.stringMatching(/^r 0 - pid=1 /), 'err request too long', 'skipped']);
      expect(await h.command('ids 0')).toMatch(/^r 0 - pgrp=/);
    });
  });

  it('outlives a terminal\'s SIGINT and SIGQUIT (its caller decides), while what it makes keeps their default actions', { timeout: 30_000 }, async () => {
    await inSession(async (h) => {
      await h.command('init 0 0 0 0');
      await h.command('op 0 clone3 1 0 17 1 5');
      await h.command('op 0 clone3 2 0 17 1 6');
      process.kill(h.pid!, 'SIGINT');
      process.kill(h.pid!, 'SIGQUIT');
      expect(await h.command('op 0 ids')).toMatch(/^r 0 - pid=1 /);
      // the container's processes do not ignore them: each ends the process it is sent to
      expect(await h.command('op 0 kill 5 2')).toBe('r 0 -');
      expect(await h.command('op 0 kill 6 3')).toBe('r 0 -');
      expect(await h.command('state 1')).toMatch(/^s (zombie|gone) /);
      expect(await h.command('state 2')).toMatch(/^s (zombie|gone) /);
    });
  });

  it('leaves an agent stopped in its kill to a later helper, which reaches it once it is continued', async () => {
    const { h, dir } = session();
    await h.command('init 0 0 0 1');
    await h.command('op 0 clone3 1 0 17 0');
    expect(await h.command('op 1 kill 0 19')).toBe('stopped');
    await h.command('detach');
    await h.close();
    const later = HelperSession.start(dir);
    try {
      expect(await later.command('attach 0')).toMatch(/^ok child=0 nspid=\d+,1 start=\d+$/);
      expect(await later.command('op 0 kill 2 18')).toBe('r 0 -');
      // continued, it moves to its FIFOs (its helper left while it was stopped) and answers there
      expect(await later.command('attach 1')).toMatch(/^ok child=1 nspid=\d+,2 start=\d+$/);
      expect(await later.command('op 1 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=2 uid=0');
    } finally {
      await later.close();
    }
    expect(await gone(h, 5000)).toEqual([]);
  }, 30_000);

  it('carries out a batch in order: runs to one agent, waves of read-only requests, exits and reaps settled', async () => {
    await inSession(async (h) => {
      const replies = await h.batch([
        'init 0 0 0 0',
        // a run: one agent, three requests in one line
        'op 0 clone3 1 0 17 1 5',
        'op 0 clone3 2 0 17 1 6',
        'op 0 setpgid 0 0',
        // a wave: read-only requests to different agents
        'op 1 ids',
        'op 2 ids',
        'op 0 ids',
        'op 1 setpgid 0 0',
        'op 1 exit 3',
        'op 0 wait4 5 0',
        'state 2',
        'op 2 ids',
      ]);
      expect(replies.slice(1)).toEqual([
        expect.stringMatching(/^r 5 - child=1 nspid=\d+,5 start=\d+$/),
        expect.stringMatching(/^r 6 - child=2 nspid=\d+,6 start=\d+$/),
        'r 0 -',
        // made before their parent's setpgid: they stay in the group outside, which their namespace does not see
        'r 0 - pid=5 ppid=1 pgrp=0 sid=0 tid=5 uid=0',
        'r 0 - pid=6 ppid=1 pgrp=0 sid=0 tid=6 uid=0',
        'r 0 - pid=1 ppid=0 pgrp=1 sid=0 tid=1 uid=0',
        'r 0 -',
        'dead',
        'r 5 - status=768',
        expect.stringMatching(/^s alive ppid=0 nspid=\d+,6$/),
        'r 0 - pid=6 ppid=1 pgrp=0 sid=0 tid=6 uid=0',
      ]);
      // the pid the reap freed is free again at once
      expect(await h.command('op 0 clone3 3 0 17 1 5')).toMatch(/^r 5 - child=3 /);
    });
  }, 30_000);

  it('stops a batch at the first failure, inside a run too, and answers "skipped" for the rest', async () => {
    await inSession(async (h) => {
      await h.command('init 0 0 0 0');
      const replies = await h.batch(['op 0 clone3 1 0 17 1 5', 'op 0 clone3 2 0 17 1 5', 'op 0 clone3 3 0 17 1 7', 'op 1 ids', 'op 0 ids']);
      expect(replies).toEqual([expect.stringMatching(/^r 5 - child=1 /), 'r -1 EEXIST', 'skipped', 'skipped', 'skipped']);
      // nothing after the failure was made, and the channels are in step
      expect(await h.command('state 3')).toBe('err no agent');
      expect(await h.command('op 0 ids')).toBe('r 0 - pid=1 ppid=0 pgrp=0 sid=0 tid=1 uid=0');
      expect(await h.command('op 1 ids')).toBe('r 0 - pid=5 ppid=1 pgrp=0 sid=0 tid=5 uid=0');
      expect(await h.batch(['op 1 setsid', 'op 9 ids', 'op 1 ids'])).toEqual(['r 5 -', 'err no agent', 'skipped']);
      expect(await h.batch(['op 0 nonsense'])).toEqual(['err unknown request nonsense']);
      expect(await h.batch(['reset'])).toEqual(['err not in a batch: reset']);
    });
  }, 30_000);

  it('resets only the agents named (one restore), leaving the others running', async () => {
    await inSession(async (h) => {
      const mine = await h.batch(['init 0 0 0 0', 'op 0 clone3 1 0 17 0', 'init 2 0 0 0', 'op 2 clone3 3 0 17 0']);
      const pid = (reply: string, field = 'nspid'): number => Number(new RegExp(` ${field}=(\\d+)`).exec(reply)![1]);
      expect(await h.command('reset 0-1')).toBe('ok');
      expect(await h.command('op 0 ids')).toBe('err no agent');
      expect(await h.command('op 3 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=2 uid=0');
      // the other init's holder is left too; the first's went with its init
      const kept = [pid(mine[2]!, 'holder'), pid(mine[2]!), pid(mine[3]!)].sort();
      // polled until only the agents not named are left (or 5 s), not until none are
      expect((await gone(h, 5000, (left) => [...left].sort().join() === kept.join())).sort()).toEqual(kept);
    });
  }, 30_000);

  it('moves an init that sits in another process group of its namespace back into its own before killing it', async () => {
    await inSession(async (h) => {
      await h.command('init 0 0 0 0');
      await h.command('op 0 clone3 1 0 17 0');
      expect(await h.command('op 1 setpgid 0 0')).toBe('r 0 -');
      expect(await h.command('op 0 setpgid 0 2')).toBe('r 0 -');
      expect(await h.command('op 1 exit 0')).toBe('dead');
      expect(await h.command('op 0 wait4 2 1')).toBe('r 2 - status=0');
      // pid 2 lives on as the init's process group: killed there, the init would wait for it for good (zap_pid_ns_processes)
      expect(await h.command('reset')).toBe('ok');
    });
  }, 30_000);

  it('frees a stuck init of a nested namespace through its parent', async () => {
    await inSession(async (h) => {
      await h.command('init 0 0 0 0');
      expect(await h.command(`op 0 clone3 1 ${0x20000000} 17 0`)).toMatch(/^r 2 - child=1 nspid=\d+,2,1 start=\d+$/);
      await h.command('op 1 clone3 2 0 17 0');
      expect(await h.command('op 2 setpgid 0 0')).toBe('r 0 -');
      expect(await h.command('op 1 setpgid 0 2')).toBe('r 0 -');
      expect(await h.command('op 2 exit 0')).toBe('dead');
      expect(await h.command('op 1 wait4 2 1')).toBe('r 2 - status=0');
      expect(await h.command('op 1 exit 0')).toBe('stuck');
      expect(await h.command('reset')).toBe('ok');
    });
  }, 30_000);

  it('keeps persistent agents waiting between helpers: detach, then attach from another', async () => {
    const { h, dir } = session();
    expect(await h.command('init 0 0 0 1')).toMatch(/^r \d+ - child=0 nspid=\d+,1 start=\d+ holder=\d+$/);
    expect(await h.command('op 0 clone3 1 0 17 0')).toMatch(/^r 2 - child=1 /);
    await h.command('detach');
    await h.close();
    expect(h.leftovers()).toHaveLength(3); // the init's holder too
    const later = HelperSession.start(dir);
    try {
      expect(await later.command('attach 1')).toMatch(/^ok child=1 nspid=\d+,2 start=\d+$/);
      expect(await later.command('op 1 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=2 uid=0');
      expect(await later.command('attach 0')).toMatch(/^ok child=0 nspid=\d+,1 start=\d+$/);
      expect(await later.command('attach 7')).toBe('err no channel for that agent');
    } finally {
      await later.close();
    }
    expect(await gone(h, 5000)).toEqual([]);
  }, 30_000);

  it('leaves no process and no channel behind when closed', async () => {
    const { h, dir } = session();
    await h.command('init 0 0 0 0');
    await h.command('op 0 clone3 1 0 17 0');
    await h.command(`op 0 clone3 2 ${0x20000000} 17 0`);
    await h.command('op 2 clone3 3 0 17 0');
    expect(h.leftovers()).toHaveLength(5); // and the init's holder
    await h.close();
    expect(await gone(h, 5000)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);

  it('takes every process it made down with it when it is killed', async () => {
    const { h } = session();
    await h.command('init 0 0 0 0');
    await h.command('op 0 clone3 1 0 17 0');
    await h.command('op 1 clone3 2 0 17 0');
    await h.command('op 1 exit 0'); // t2 is now an orphan of the namespace's init
    expect(h.leftovers().length).toBeGreaterThanOrEqual(2);
    await h.kill();
    expect(await gone(h, 5000)).toEqual([]);
  }, 30_000);
});
