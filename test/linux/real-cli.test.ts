/**
 * The command line on `--host linux`, end to end: each command is its own
 * `node bin/ckpt.js` process, as a user runs them, inside a Sandbox (a pid
 * namespace whose init is a shell, which reaps a container's init after it
 * exits, and whose end takes everything left with it). Checked: run, ps,
 * step, logs, kill and rm on real processes; ps --json and the console at
 * every checkpoint identical, at the container's levels, to the same
 * workload on a model host; ps matches /proc; a process killed from outside
 * is named; rm leaves no process and no FIFO behind; an image moves model
 * host → real processes → model host and runs on as the model straight through. Needs root and the
 * compiled helper; skipped with the reason otherwise.
 *
 * Through processes, a few representative workloads (each command here costs a process and a
 * helper): nested (three pid namespaces, sessions, groups, zombies reaped by the sandbox's init) and
 * threads (thread rows and /proc's Threads). Every sample workload, each step by step and across
 * backends both ways, is compared in-process by two-backends.test.ts, through the same functions.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PsRow } from '../../src/cli/ps-view.js';
import { linuxUnavailable } from '../../src/linux/real-containers.js';
import { Sandbox } from './sandbox.js';
import { ckptIn } from '../cli/run-ckpt.js';

const why = Sandbox.unavailable() ?? (await linuxUnavailable());
if (why) console.log(`test/linux: --host linux skipped: ${why}`);

const CKPT = resolve('bin/ckpt.js');
const WORKLOADS = resolve('images/workloads');

/** a row of ps --json: PsRow as JSON carries it (the container's name aside) */
type Row = Omit<PsRow, 'container'>;

/** what must be the same on both backends: everything as the container's own namespaces see it */
const inside = (rows: Row[]) => rows.map((r) => ({ nspids: r.nspids.slice(1), threads: r.threads, thread: r.thread, state: r.state, abi: r.abi, command: r.command, wait: r.wait, comm: r.comm }));

describe.skipIf(why !== null)(`the command line on --host linux${why ? ` (skipped: ${why})` : ''}`, () => {
  let box: Sandbox;
  let root: string;
  const ckpt = (args: string) => box.sh(`node ${CKPT} --root ${root} ${args}`);
  const json = async (args: string) => {
    const r = await box.sh(`node ${CKPT} --root ${root} ${args} --json 2>/dev/null`);
    return { code: r.code, value: JSON.parse(r.out) as unknown };
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ckpt-real-cli-'));
    box = Sandbox.start();
  });
  // a test that fails midway leaves its containers: remove them, so the next test starts with none
  afterEach(async () => {
    const mirror = await json('host show linux');
    for (const c of (mirror.value as { containers: Array<{ name: string }> }).containers) await ckpt(`rm ${c.name} --host linux --force`);
  });
  afterAll(async () => {
    await box.close();
    rmSync(root, { recursive: true, force: true });
  });

  it.each(['nested', 'threads'])(
    'runs %s step by step with the same ps and console as a model host, and rm leaves nothing',
    async (w) => {
      const file = `${WORKLOADS}/${w}.wl`;
      expect((await ckpt(`run ${w} ${file} --host linux`)).code).toBe(0);
      await ckpt('host create model --arch x86_64'); // made by the first workload's test
      expect((await ckpt(`run ${w} ${file} --host model`)).code).toBe(0);
      for (const steps of [4, 20, 60]) {
        for (const host of ['linux', 'model']) expect((await ckpt(`step ${w} --steps ${steps} --host ${host}`)).code).toBe(0);
        const real = await json(`ps ${w} --host linux`);
        const model = await json(`ps ${w} --host model`);
        expect(real.code).toBe(0);
        expect(inside(real.value as Row[])).toEqual(inside(model.value as Row[]));
        // what ps shows is what /proc shows, for every process it lists as there
        const rows = real.value as Row[];
        const statuses = (await box.sh(rows.map((r) => `echo ==; cat /proc/${r.tgid}/task/${r.nspids[0]}/status 2>/dev/null`).join('; '))).out.split(/^==$/m).slice(1);
        for (const [i, row] of rows.entries()) {
          const status = { out: statuses[i]! };
          if (status.out.trim() === '') continue; // gone: an init reaped by the sandbox's shell
          const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status.out)![1]!.split(/\s+/).map(Number);
          expect(field('NSpid')).toEqual(row.nspids);
          expect(field('NSpgid')[0]).toBe(row.pgid);
          expect(field('NSsid')[0]).toBe(row.sid);
          if (!row.thread && row.state !== 'zombie') expect(field('Threads')[0]).toBe(row.threads);
        }
        const logs = await Promise.all(['linux', 'model'].map((h) => json(`logs ${w} --host ${h}`)));
        expect(logs[0]!.value).toEqual(logs[1]!.value);
      }
      expect((await ckpt(`rm ${w} --host linux --force`)).code).toBe(0);
      expect((await ckpt(`rm ${w} --host model --force`)).code).toBe(0);
      expect(await box.processes()).toEqual([]);
      expect(readdirSync(join(root, 'linux', 'agents'))).toEqual([]);
    },
    120_000,
  );

  it.each(['nested'])(
    '%s: model host → real processes → model host, with the pids and console of the model straight through',
    async (w) => {
      const ref = `ref-${w}`;
      const back = `back-${w}`;
      const image = (n: number) => join(root, `${w}-${n}.tar`);
      const same = async (a: string, b: string) => {
        const [x, y] = [await json(`ps ${w} --host ${a}`), await json(`ps ${w} --host ${b}`)];
        expect(x.code).toBe(0);
        expect(inside(x.value as Row[])).toEqual(inside(y.value as Row[]));
        expect((await json(`logs ${w} --host ${a}`)).value).toEqual((await json(`logs ${w} --host ${b}`)).value);
      };
      for (const h of [ref, back]) expect((await ckpt(`host create ${h} --arch x86_64`)).code).toBe(0);
      expect((await ckpt(`run ${w} ${WORKLOADS}/${w}.wl --host ${ref} --steps 15`)).code).toBe(0);
      expect((await ckpt(`dump ${w} --host ${ref} -o ${image(1)} --leave-running`)).code).toBe(0);
      expect((await ckpt(`check ${image(1)} --host linux`)).out).toBe(`${image(1)} would restore on host linux`);
      expect((await ckpt(`restore ${image(1)} --host linux`)).out).toMatch(new RegExp(`^restored ${w} on the machine \\(--host linux\\) with clone3: `));
      await same('linux', ref);
      // (not so far that the init exits: a container whose init its holder has reaped has nothing left to dump)
      for (const h of ['linux', ref]) expect((await ckpt(`step ${w} --steps 5 --host ${h}`)).code).toBe(0);
      await same('linux', ref);
      const dumped = await ckpt(`dump ${w} --host linux -o ${image(2)}`);
      expect(dumped.code).toBe(0);
      // no cgroup of its own here: frozen with SIGSTOP, and the command says so
      expect(dumped.out).toMatch(new RegExp(`^dumped ${w} \\(x86_64, \\d+ tasks?\\) to .*, \\d+ bytes, frozen with SIGSTOP while read; it was removed$`));
      expect(await box.processes()).toEqual([]);
      expect((await ckpt(`restore ${image(2)} --host ${back}`)).code).toBe(0);
      for (const h of [back, ref]) expect((await ckpt(`step ${w} --steps 20 --host ${h}`)).code).toBe(0);
      await same(back, ref);
    },
    120_000,
  );

  it('refuses to dump a container whose init has exited, saying why', async () => {
    const file = join(root, 'brief.wl');
    await box.sh(`printf 'program main\\n  exit_group(3)\\nend\\n' > ${file}`);
    expect((await ckpt(`run brief ${file} --host linux --steps 5`)).code).toBe(0);
    const dump = await ckpt(`dump brief --host linux -o ${join(root, 'brief.tar')}`);
    expect(dump.code).toBe(1);
    expect(dump.out).toBe("ckpt: container brief has ended: its init exited and its holder has reaped it, so its processes are gone; remove it with ckpt rm brief --host linux [CKPT_DUMP_REFUSED]");
    expect((await ckpt('rm brief --host linux')).code).toBe(0);
  }, 60_000);

  it('names a process killed from outside ckpt, and rm --force still removes everything', async () => {
    expect((await ckpt(`run victim ${WORKLOADS}/pidcache.wl --host linux --steps 10`)).code).toBe(0);
    const rows = (await json('ps victim --host linux')).value as Row[];
    const child = rows.find((r) => r.nspids.at(-1) === 2)!;
    expect(child).toBeDefined();
    expect((await box.sh(`kill -9 ${child.nspids[0]}`)).code).toBe(0);
    const ps = await ckpt('ps victim --host linux');
    expect(ps.code).toBe(1);
    expect(ps.out).toContain(`ckpt ps: the kernel and ckpt disagree: process 2 of container victim (pid ${child.nspids[0]} on the machine): ckpt has it`);
    // a step that reaches the dead process only at the end (writing the mirror's memory into it) names it too
    const step = await ckpt('step victim --host linux --steps 1');
    expect(step.code).toBe(1);
    expect(step.out).toContain(`ckpt: the real process of task 2 (pid ${child.nspids[0]} on the machine) has exited or is gone`);
    expect(step.out).toContain('was it killed from outside ckpt? [CKPT_TWIN_DIVERGED]');
    expect((await ckpt('rm victim --host linux --force')).code).toBe(0);
    expect(await box.processes()).toEqual([]);
  }, 60_000);

  it('kill stops, continues and kills a real container, the mirror following', async () => {
    expect((await ckpt(`run k ${WORKLOADS}/pidcache.wl --host linux --steps 10`)).code).toBe(0);
    expect((await ckpt('kill k --host linux --signal STOP')).out).toBe('sent signal 19 to k; its init is stopped');
    // SIGSTOP stops the init's process, not its children
    const stopped = (await json('ps k --host linux')).value as Row[];
    expect(stopped.map((r) => r.state)).toEqual(['stopped', 'runnable', 'runnable']);
    expect((await box.sh(`grep -q '^State:.T' /proc/${stopped[0]!.tgid}/status`)).code).toBe(0);
    expect((await ckpt('kill k --host linux --signal CONT')).code).toBe(0);
    expect((await ckpt('step k --host linux --steps 20')).code).toBe(0);
    expect((await ckpt('kill k --host linux')).out).toBe('sent signal 9 to k; its init is zombie');
    // the init, reaped by the sandbox's shell, is gone; its namespace with it
    expect(await box.processes()).toEqual([]);
    expect((await ckpt('ps k --host linux')).code).toBe(0);
    expect((await ckpt('rm k --host linux')).code).toBe(0);
    expect(readdirSync(join(root, 'linux', 'agents'))).toEqual([]);
  }, 60_000);

  it('refuses eclone on the real kernel, naming it', async () => {
    const file = join(root, 'eclone.wl');
    await box.sh(`printf 'var r\\nprogram main\\n  r = eclone(SIGCHLD, {}, 64, [])\\n  sleep 100\\nend\\n' > ${file}`);
    expect((await ckpt(`run e ${file} --host linux`)).code).toBe(0);
    const step = await ckpt('step e --host linux --steps 5');
    expect(step.code).toBe(1);
    expect(step.out).toContain('called eclone, which Linux never merged: on --host linux use clone3 with set_tid [CKPT_UNSUPPORTED]');
    expect((await ckpt('rm e --host linux --force')).code).toBe(0);
    expect(await box.processes()).toEqual([]);
  }, 60_000);
});

describe.skipIf(why !== null)(`ckpt demo --real${why ? ` (skipped: ${why})` : ''}`, () => {
  /**
   * what the demo could have left: a helper or agent (they run the helper's command line, which names the
   * demo's directory, and have this test worker's environment: not those of a demo another test file runs
   * beside this one), or a helper not reaped (a zombie child of this process)
   */
  const worker = `VITEST_POOL_ID=${process.env.VITEST_POOL_ID ?? ''}\0`;
  const leftovers = (): number[] =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          const ours = readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('ckpt-demo-real-') && readFileSync(`/proc/${d}/environ`, 'utf8').includes(worker);
          return ours || (ppid === process.pid && stat.includes('(ckpt-helper)'));
        } catch {
          return false;
        }
      })
      .map(Number);

  it('root without capabilities (which may not map uid 0 in a user namespace) says in one line what is missing, and exits 1', async () => {
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
    if (!setpriv) return console.log('test/linux: demo --real without privilege skipped: no setpriv (util-linux)');
    const root = mkdtempSync(join(tmpdir(), 'ckpt-demo-real-test-'));
    try {
      const r = await execa(setpriv, ['--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--', process.execPath, CKPT, 'demo', '--real', '--root', root], { reject: false });
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toEqual([expect.stringMatching(/^ckpt: real containers cannot run on this machine: .+ \[CKPT_NO_REAL_KERNEL\]$/)]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('goes model host → real processes → model host with the same pids, /proc agreeing, and leaves nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ckpt-demo-real-test-'));
    try {
      const r = await ckptIn(root, ['demo', '--real', '--json']);
      expect(r.code).toBe(0);
      const d = JSON.parse(r.out) as { identical: boolean; sameConsole: boolean; rows: Array<{ model: number[]; real: number[]; procNSpid: string; back: number[] }> };
      expect(d.identical && d.sameConsole).toBe(true);
      for (const row of d.rows) {
        expect(row.procNSpid).toBe(row.real.join(' '));
        expect(row.real.slice(1)).toEqual(row.model.slice(1));
      }
      expect(d.rows.filter((row) => row.back.length > 0).length).toBeGreaterThan(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect(leftovers()).toEqual([]);
  }, 60_000);
});

