/**
 * A restore plan carried out on the real kernel: each image's process tree is rebuilt as real
 * processes in real nested pid namespaces through the helper's agents (clone3 with set_tid at every
 * container level), and /proc shows the image's pids at every level, zombies, sessions, process
 * groups, parents and children's order; a failure midway and the end of the session leave nothing
 * behind. Needs root (pid namespaces) and the compiled helper; skipped with the reason otherwise.
 */
import { tryRestoreOnLinux, withCheckedSession } from './with-helper.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { planFor } from '../../src/image/restore.js';
import type { CloneStep } from '../../src/image/restore-plan.js';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { readProcess, scanProcesses, type ProcProcess } from '../../src/linux/proc.js';
import { executeOnLinux, type RealRestore } from '../../src/linux/real-executor.js';
import { workload as generated } from '../image/generated-workloads.js';
import { DAEMON, imageOf, REAPED, sleepersImage, workload } from './restore-images.js';

/** descendants scans /proc for every process below `root` (by PPid), as pid:NSpid lines. */
function descendants(root: number): string[] {
  const all = scanProcesses();
  const parent = new Map(all.map((p) => [p.pid, p.ppid]));
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) if (p === root) return true;
    return false;
  };
  return all.filter((p) => below(p.pid)).map((p) => `${p.pid}:${p.nspid.join(',')}`);
}

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: real restores skipped: ${support.reason}`);

const withHelper = <T>(body: (h: HelperSession) => Promise<T>): Promise<T> => withCheckedSession('real-restore', body);

/** checkTree holds what /proc shows of the made tree against the image, at the container's levels. */
function checkTree(image: ContainerImage, made: RealRestore, outerLevels: number): void {
  const proc = new Map<number, ProcProcess>();
  const byGlobal = new Map<number, number>();
  image.tasks.forEach((_, i) => byGlobal.set(made.nspids.get(i)![0]!, i));
  image.tasks.forEach((t, i) => {
    const pids = made.nspids.get(i)!;
    expect(pids.slice(outerLevels)).toEqual(t.numbers);
    if (t.leader !== i) return;
    const p = readProcess(pids[0]!);
    expect(p, `task ${t.numbers.join('/')} is in /proc`).not.toBeNull();
    proc.set(i, p!);
    expect(p!.nspid.slice(outerLevels)).toEqual(t.numbers);
    // where its next children go: its own pid namespace, or a child of it, as in the image
    if (p!.state !== 'Z') expect(p!.pidNsForChildren === p!.pidNs, `task ${t.numbers.join('/')}: pid_for_children`).toBe(t.nsForChildren === t.ns);
    expect(p!.state === 'Z').toBe(t.exited && image.tasks.every((u, k) => u.leader !== i || u.exited || k === i));
    // a zombie leaves the wait status the image recorded (exit_code in /proc/PID/stat)
    if (p!.state === 'Z') expect(p!.exitCode).toBe(t.group.groupExitStatus ?? t.exitStatus);
    // the session and group at each container level, 0 where the id is not seen from there (the image names those levels it sees)
    const seen = (id: number[] | null, nsfield: number[]): number[] => nsfield.slice(outerLevels, outerLevels + (id?.length ?? 0));
    expect(seen(t.sid, p!.nssid)).toEqual(t.sid ?? []);
    expect(seen(t.pgid, p!.nspgid)).toEqual(t.pgid ?? []);
  });
  image.tasks.forEach((t, i) => {
    const leader = proc.get(t.leader);
    if (!leader || leader.state === 'Z') return; // a zombie's threads and children files are gone
    const thread = leader.threads.find((th) => th.tid === made.nspids.get(i)![0]);
    if (!thread) return; // a thread that has exited
    expect(thread.children.map((c) => byGlobal.get(c))).toEqual(t.children);
  });
}

function restoreOnLinux(image: ContainerImage): Promise<'built' | 'refused' | 'undone'> {
  return tryRestoreOnLinux('real-restore', image, (made, plan) => {
    checkTree(image, made, plan.outerLevels);
    return 'built' as const;
  });
}

/** UNSHARED: a process that unshared its children's pid namespace, then made that namespace's init */
const UNSHARED = ['var a, b', 'program main', '  a = unshare(CLONE_NEWPID)', '  b = fork() start kid', '  sleep 100000000', 'end', 'program kid', '  sleep 100000000', 'end'].join('\n');

describe.skipIf(!support.ok)(`restore on the real kernel${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const CASES: Array<[string, string, number]> = [
    ['a session leader that exited, a zombie that forked its member with CLONE_PARENT', DAEMON, 8],
    ['a session whose leader was reaped: a placeholder with its pid', REAPED, 12],
    ['namespaces three levels deep', workload('nested'), 30],
    ['pidcache', workload('pidcache'), 25],
    ['threads', workload('threads'), 20],
    ['jobs, a stopped job', workload('jobs'), 13],
    ['unshare(CLONE_NEWPID), then the new namespace\'s init: the parent\'s next children go there', UNSHARED, 6],
    ['unshare(CLONE_NEWPID) and no child yet: the next children go to a namespace of their own', UNSHARED.replace('  b = fork() start kid\n', ''), 2],
  ];
  for (const [title, text, steps] of CASES) {
    it(`${title}: /proc shows the image's tree`, { timeout: 30_000 }, async () => {
      expect(await restoreOnLinux(imageOf(text, steps))).toBe('built');
    });
  }

  it('stopped processes are stopped again, each stop report pending or collected as the image has it', { timeout: 30_000 }, async () => {
    const text = [
      'var a, b, c, d',
      'program main',
      '  a = fork() start kid',
      '  c = fork() start kid',
      '  d = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start kid',
      '  b = kill(a, SIGSTOP)',
      '  b = kill(c, SIGSTOP)',
      '  b = kill(d, SIGSTOP)',
      '  b = wait4(a, 0, WUNTRACED, 0)',
      '  sleep 100000000',
      'end',
      'program kid',
      '  sleep 100000000',
      'end',
    ].join('\n');
    const image = imageOf(text, 14); // the init has collected the first report (its sleep would end the container once all else is stopped)
    const task = (nr: number): number => image.tasks.findIndex((t) => t.numbers[0] === nr);
    const [a, c, d] = [2, 3, 4].map(task);
    // the image: three stopped children, a nested namespace's init among them; the first one's report collected
    expect([a, c, d].map((i) => [image.tasks[i!]!.group.stopped, image.tasks[i!]!.group.stopReportPending])).toEqual([[true, false], [true, true], [true, true]]);
    await withHelper(async (h) => {
      const made = await executeOnLinux(h, image, planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' }));
      for (const i of [a, c, d]) expect(readProcess(made.nspids.get(i!)![0]!)!.state).toBe('T');
      const untraced = (0x2 | 0x1 | 0x40000000) >>> 0; // WUNTRACED | WNOHANG | __WALL
      // the init finds the reports the image has pending, and not the one it had collected
      expect(await h.command(`op 0 wait4 2 ${untraced}`)).toBe('r 0 - status=0');
      expect(await h.command(`op 0 wait4 3 ${untraced}`)).toBe(`r 3 - status=${(19 << 8) | 0x7f}`);
      expect(await h.command(`op 0 wait4 4 ${untraced}`)).toBe(`r 4 - status=${(19 << 8) | 0x7f}`);
    });
  });

  it('generated workloads: each is built as the image has it, refused up front, or undone', { timeout: 240_000 }, async () => {
    const counts = { built: 0, refused: 0, undone: 0 };
    await fc.assert(
      fc.asyncProperty(generated, fc.nat(80), async (text, n) => {
        counts[await restoreOnLinux(imageOf(text, n))]++;
      }),
      { numRuns: 100, seed: 2026 },
    );
    console.log(`real restores of 100 generated workloads: ${JSON.stringify(counts)}`);
    expect(counts.built).toBeGreaterThan(counts.refused + counts.undone);
  });

  /** failsLate runs `plan` through a port that records every pid the helper reports made; it must fail with `error` and leave nothing */
  async function failsLate(image: ContainerImage, plan: ReturnType<typeof planFor>, error: RegExp): Promise<number[]> {
    return withHelper(async (h) => {
      const made: number[] = [];
      const note = (reply: string): string => {
        const m = / nspid=(\d+)/.exec(reply);
        if (m) made.push(Number(m[1]));
        return reply;
      };
      const port = {
        command: async (line: string): Promise<string> => note(await h.command(line)),
        batch: async (lines: readonly string[]): Promise<string[]> => (await h.batch(lines)).map(note),
      };
      const before = descendants(h.pid!);
      await expect(executeOnLinux(port, image, plan)).rejects.toThrow(error);
      for (let i = 0; i < 100 && made.some((pid) => readProcess(pid) !== null); i++) await new Promise((r) => setTimeout(r, 20));
      expect(made.filter((pid) => readProcess(pid) !== null)).toEqual([]);
      expect(h.leftovers()).toEqual([]);
      // a /proc scan: nothing is left below the helper, as before the restore
      expect(before).toEqual([]);
      expect(descendants(h.pid!)).toEqual([]);
      return made;
    });
  }

  it('a clone3 that fails midway (a pid already taken) kills and reaps everything made so far', { timeout: 30_000 }, async () => {
    const image = imageOf(workload('nested'), 30);
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
    const last = plan.create.filter((s): s is CloneStep => s.do === 'clone').at(-1)!;
    last.pids = [1, ...last.pids.slice(1)]; // its namespace's pid 1, which that namespace's init holds
    expect((await failsLate(image, plan, /failed with EEXIST/)).length).toBeGreaterThan(1);
  });

  it('a failure late in a 600-task plan (in one batch) kills and reaps all 600 made before it', { timeout: 60_000 }, async () => {
    const image = sleepersImage(601);
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
    const last = plan.create.filter((s): s is CloneStep => s.do === 'clone').at(-1)!;
    last.pids = [1, ...last.pids.slice(1)];
    expect(await failsLate(image, plan, /failed with EEXIST/)).toHaveLength(600);
  });

  it('a failure after the tree is built (a wrong session found by the check) undoes the whole tree', { timeout: 60_000 }, async () => {
    const image = sleepersImage(300);
    // the image says the last task leads a session; the plan (as given) never makes it
    const t = image.tasks.at(-1)!;
    const changed = { ...image, tasks: image.tasks.map((u) => (u === t ? { ...u, sid: u.numbers } : u)) };
    const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
    expect(await failsLate(changed, plan, /ended up in session/)).toHaveLength(300);
  });

});
