/**
 * restore --host linux with --host-pids and --into (issue 20 point 1), through the functions the
 * command line uses (restoreReal over a twin, in-process):
 *  - --host-pids: every task comes back with the image's pids at every level, the machine's own
 *    included (/proc's NSpid), and runs on as on the model host it came from; a second restore of
 *    the same image collides at the machine's level with the first one's processes and is refused
 *    up front, naming each holder, making nothing; without the privilege it is refused with the reason;
 *  - --into: the image's container comes back nested in a running real container (its pids one
 *    level deeper, its init a child of that container's init), runs on with the console of a model
 *    host that ran straight through, and the container it went into runs on with the mirror and
 *    the kernel agreeing on every fork (the restore moved no pid cursor of it); undone midway,
 *    it leaves that container's init with the children it had (no zombie of the restore); rm of the
 *    nested container leaves its init a zombie child of that init, as on a model host; --into with
 *    --host-pids into a container in a user namespace of its own is refused up front; into one
 *    restored by root, an image of a nested container comes back with its pids at the machine's
 *    and that container's levels, runs on as on the model host (that container forking on in step
 *    with the mirror), and a second restore collides
 *    at both levels and makes nothing.
 * Needs root and the compiled helper; skipped with the reason otherwise.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realPs, realRemove, restoreReal } from '../../src/cli/linux-host.js';
import type { Container } from '../../src/container/container.js';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { dumpContainer } from '../../src/image/dump.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { AgentTable, linuxDirs } from '../../src/linux/agents.js';
import { parseStatus } from '../../src/linux/proc.js';
import { linuxUnavailable, mapIds } from '../../src/linux/real-containers.js';
import { SyncHelper } from '../../src/linux/sync-helper.js';
import { Twin } from '../../src/linux/twin.js';
import { HostStore } from '../../src/store/host-store.js';
import { throughBytes } from '../image/container-tree.js';
import { workload } from './restore-images.js';

const why = await linuxUnavailable();
if (why) console.log(`test/linux: restore --host-pids and --into on the machine skipped: ${why}`);

const PID_MAX = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));

/** a container that forks, reports and reaps a child every few steps */
const FORKER = ['var pid', 'program main', 'loop:', '  pid = fork()', '  if pid == 0 goto child', '  print "box forked %d\\n", pid', '  pid = wait4(pid, 0, 0, 0)', '  sleep 3', '  goto loop', 'child:', '  exit(0)', 'end'].join('\n');

const inside = (c: Container) => (t: { pid: { ns: unknown } }) => c.init.pid.ns.isAncestorOf(t.pid.ns as never);

/** nspidOf reads a process's NSpid line, outermost first */
function nspidOf(pid: number): number[] {
  return parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8')).nspid;
}

/** freeWindow finds `n` pids in a row that no process on the machine holds (the highest such run below pid_max) */
function freeWindow(n: number): number {
  const taken = new Set(readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number));
  for (let hi = PID_MAX - 1 - Math.floor(Math.random() * 2000); hi > n + 300; hi--) {
    let ok = true;
    for (let p = hi - n + 1; p <= hi && ok; p++) if (taken.has(p)) ok = false;
    if (ok) return hi - n + 1;
  }
  throw new Error(`no ${n} free pids in a row on this machine`);
}

/** source runs `text` on a model host whose own pids start at `first`, `steps` steps: the host, its container, and the image then */
function source(text: string, steps: number, first = 300) {
  const m = Machine.create('src', 'x86_64', PID_MAX, 'mainline');
  m.host.rootPidNs.lastPid = first - 1;
  const c = m.run('w', 'w.wl', text);
  m.scheduler.run(steps, inside(c));
  return { m, c, image: throughBytes(dumpContainer(m, c)) };
}

/** withMirror runs `body` with a twin over a fresh state directory; the helper ends by killing and reaping all it made */
async function withMirror(body: (twin: Twin, mirror: Machine, store: HostStore) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-restore-linux-'));
  const dirs = linuxDirs(root);
  mkdirSync(dirs.agents, { recursive: true, mode: 0o700 });
  const helper = SyncHelper.start(dirs.agents, dirs.base);
  try {
    const mirror = Machine.create('linux', 'x86_64', PID_MAX, 'mainline');
    await body(new Twin(mirror, AgentTable.load(root), helper), mirror, new HostStore(root));
  } finally {
    helper.quit();
    await helper.exited();
    rmSync(root, { recursive: true, force: true });
  }
}

/** agree: /proc and the mirror agree on every task of the containers (ps's check) */
function agree(store: HostStore, twin: Twin, mirror: Machine, cs: Container[]): string[] {
  twin.agents.save();
  return realPs(store, mirror, cs).disagree;
}

describe.skipIf(why !== null)(`restore --host-pids and --into on the machine${why ? ` (skipped: ${why})` : ''}`, () => {
  it('--host-pids: the image pids at every level, the machine\'s too; another restored --into it; a second restore collides there and makes nothing', { timeout: 90_000 }, async () => {
    await withMirror(async (twin, mirror, store) => {
      let image: ContainerImage | undefined;
      let c: Container | undefined;
      let src: ReturnType<typeof source> | undefined;
      // the window is free when looked at; another process may take a pid of it before the restore: then another window
      for (let attempt = 0; attempt < 3 && !c; attempt++) {
        src = source(workload('nested'), 30, freeWindow(64));
        image = src.image;
        try {
          c = await restoreReal(twin, mirror, image, { name: 'hp', hostPids: true });
        } catch (e) {
          if (!(e instanceof RestoreError) || e.code !== 'CKPT_PID_COLLISION') throw e;
        }
      }
      expect(c, 'restored with --host-pids in one of three free windows').toBeDefined();
      const tasks = mirror.tasksOf(c!);
      expect(tasks.length).toBe(image!.tasks.length);
      for (const t of image!.tasks) {
        if (t.exited) continue;
        const mine = tasks.find((x) => x.nspids.slice(1).join('/') === t.numbers.join('/'))!;
        expect(nspidOf(mine.nspids[0]!), `task ${t.numbers.join('/')}`).toEqual([...t.outer, ...t.numbers]);
      }
      expect(agree(store, twin, mirror, [c!])).toEqual([]);
      // it runs on as on the host it came from
      twin.run(20, inside(c!));
      src!.m.scheduler.run(20, inside(src!.c));
      expect(c!.console.text).toBe(src!.c.console.text);
      expect(agree(store, twin, mirror, [c!])).toEqual([]);
      // another image restored into it: made by its init, a fork of a restored process, whose image memory (at the same addresses as the new image's) it leaves behind
      const inner = await restoreReal(twin, mirror, source(workload('pidcache'), 12).image, { name: 'in-hp', into: 'hp' });
      expect(agree(store, twin, mirror, [c!, inner])).toEqual([]);

      // the same image again: its machine pids are the first one's now
      const before = twin.agents.byPid.size;
      const again = await restoreReal(twin, mirror, image!, { name: 'hp2', hostPids: true }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(again).toBeInstanceOf(RestoreError);
      const collisions = (again as RestoreError).problems.filter((p) => p.code === 'CKPT_PID_COLLISION');
      // every task whose machine pid a process of the first restore still holds (some have exited and been reaped since)
      const held = image!.tasks.filter((t) => mirror.tasksOf(c!).some((x) => x.nspids[0] === t.outer[0]));
      expect(held.length).toBeGreaterThan(0);
      expect(collisions.map((p) => Number(/^host pid (\d+)/.exec(p.message)?.[1])).sort()).toEqual(held.map((t) => t.outer[0]).sort());
      expect(collisions[0]!.message).toMatch(/^host pid \d+ \(task [\d/]+ of the image\) is held by .+ on host linux: clone3 would fail with EEXIST$/);
      expect(twin.agents.byPid.size, 'no process made').toBe(before);
      expect(mirror.containers.has('hp2')).toBe(false);

      // without the privilege to name the machine's pids: refused with the reason
      const unprivileged = await restoreReal(twin, mirror, image!, { name: 'hp3', hostPids: true, privileged: false }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((unprivileged as RestoreError).problems.map((p) => p.code)).toContain('CKPT_PRIVILEGE');
    });
  });

  it('--into with --host-pids: an image of a nested container comes back with its pids at the machine\'s level and its enclosing container\'s; again, it collides at both', { timeout: 90_000 }, async () => {
    // on a model host: box runs, an image is restored into it, runs on there and is dumped (its pids above it: the host's and box's)
    const m = Machine.create('src', 'x86_64', PID_MAX, 'mainline');
    m.host.rootPidNs.lastPid = freeWindow(64) - 1;
    const boxOnModel = m.run('box', 'box.wl', FORKER);
    m.scheduler.run(7, inside(boxOnModel));
    const boxImage = throughBytes(dumpContainer(m, boxOnModel));
    const nested = restoreAtomically(m, source(workload('jobs'), 10).image, { into: 'box', via: 'clone3', name: 'pod' });
    const pod = nested.container;
    nested.machine.scheduler.run(8, inside(pod));
    const podImage = throughBytes(dumpContainer(nested.machine, pod));
    expect(podImage.base).toBe(2);
    await withMirror(async (twin, mirror, store) => {
      // box restored on the machine by root: in the machine's user namespace, so a process of it may name the machine's pids
      const box = await restoreReal(twin, mirror, boxImage, { name: 'box' });
      let c: Container | undefined;
      try {
        c = await restoreReal(twin, mirror, podImage, { name: 'pod', into: 'box', hostPids: true });
      } catch (e) {
        // a pid of the window taken by another process since it was found free: nothing else may be wrong
        if (!(e instanceof RestoreError) || !e.problems.every((p) => p.code === 'CKPT_PID_COLLISION' && p.message.startsWith('host pid'))) throw e;
        console.log(`test/linux: --into with --host-pids not tried: the machine took a pid of the image meanwhile (${e.problems[0]!.message})`);
        return;
      }
      for (const t of podImage.tasks) {
        if (t.exited) continue;
        const mine = mirror.tasksOf(c).find((x) => x.nspids.slice(2).join('/') === t.numbers.join('/'))!;
        expect(nspidOf(mine.nspids[0]!), `task ${t.numbers.join('/')}`).toEqual([...t.outer, ...t.numbers]);
      }
      expect(agree(store, twin, mirror, [box, c])).toEqual([]);
      // it runs on as on the model host it came from; box forks on with the kernel and the mirror agreeing
      // (not as there: box's own cursor is box's image's, which the image of the container inside it does not carry)
      twin.run(15, inside(c));
      nested.machine.scheduler.run(15, inside(pod));
      expect(c.console.text).toBe(pod.console.text);
      const forks = box.console.text.split('\n').length;
      twin.run(12, (t) => t.pid.ns === box.init.pid.ns);
      expect(box.console.text.split('\n').length).toBeGreaterThan(forks);
      expect(agree(store, twin, mirror, [box, c])).toEqual([]);
      const before = twin.agents.byPid.size;
      const again = await restoreReal(twin, mirror, podImage, { name: 'pod2', into: 'box', hostPids: true }).then(
        () => null,
        (e: unknown) => e,
      );
      const messages = (again as RestoreError).problems.filter((p) => p.code === 'CKPT_PID_COLLISION').map((p) => p.message);
      const live = podImage.tasks.filter((t) => !t.exited).length;
      expect(messages.filter((x) => x.startsWith('host pid')).length).toBeGreaterThanOrEqual(live);
      expect(messages.filter((x) => /^pid \d+ at level 1 \(container box\) \(task [\d/]+ of the image\) is held by .* in container box: clone3 would fail with EEXIST$/.test(x)).length).toBeGreaterThanOrEqual(live);
      expect(twin.agents.byPid.size, 'no process made').toBe(before);
    });
  });

  it('--into: nested in a running container, run on as straight through; the container it went into forks on in step with the mirror', { timeout: 90_000 }, async () => {
    await withMirror(async (twin, mirror, store) => {
      const box = twin.startContainer('box', 'box.wl', FORKER, mapIds);
      twin.run(10, inside(box));
      const src = source(workload('pidcache'), 12);
      const boxInit = box.init.nspids[0]!;
      const childrenOfBox = (): string => readFileSync(`/proc/${boxInit}/task/${boxInit}/children`, 'utf8').trim();

      // undone midway (the helper made and not yet gone; then all made, the helper gone): box's init reaps what would be left its children
      for (const [at, failing] of [
        ['the clone of the init', /^op \d+ clone3 \d+ 536870912 /],
        ['the check of the groups', /^ids \d+$/],
      ] as const) {
        const before = { children: childrenOfBox(), agents: twin.agents.byPid.size };
        let injected = false;
        const faulty = new Twin(mirror, twin.agents, {
          command: (line) => {
            if (injected || !failing.test(line)) return twin.helper.command(line);
            injected = true;
            return 'err injected';
          },
        });
        faulty.followed([twin.agentOf(box.init)]);
        const undone = await restoreReal(faulty, mirror, src.image, { name: 'nest', into: 'box' }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(injected, at).toBe(true);
        expect((undone as Error).message, at).toMatch(/injected/);
        expect(mirror.containers.has('nest'), at).toBe(false);
        expect(twin.agents.byPid.size, at).toBe(before.agents);
        expect(childrenOfBox(), `${at}: box's init has the children it had`).toBe(before.children);
      }

      const c = await restoreReal(twin, mirror, src.image, { name: 'nest', into: 'box' });
      for (const t of src.image.tasks) {
        if (t.exited) continue;
        const mine = mirror.tasksOf(c).find((x) => x.nspids.slice(2).join('/') === t.numbers.join('/'))!;
        const real = nspidOf(mine.nspids[0]!);
        expect(real.length, `task ${t.numbers.join('/')}: the machine, box, and its own levels`).toBe(2 + t.numbers.length);
        expect(real.slice(2)).toEqual(t.numbers);
        expect(real).toEqual(mine.nspids);
      }
      // the init's parent is box's init (the helper that made it has left)
      expect(parseStatus(readFileSync(`/proc/${c.init.nspids[0]}/status`, 'utf8')).ppid).toBe(boxInit);
      expect(agree(store, twin, mirror, [box, c])).toEqual([]);
      // both run on: the restored one as on its source, box forking in step with the mirror (the twin compares every fork's pids)
      twin.run(25, inside(c));
      src.m.scheduler.run(25, inside(src.c));
      expect(c.console.text).toBe(src.c.console.text);
      const forked = box.console.text.split('\n').length;
      twin.run(20, (t) => t.pid.ns === box.init.pid.ns);
      expect(box.console.text.split('\n').length).toBeGreaterThan(forked);
      expect(agree(store, twin, mirror, [box, c])).toEqual([]);

      // rm of the nested container: its init is left a zombie child of box's init, on the machine as on a model host, for box's workload to reap
      const nestInit = c.init.nspids[0]!;
      realRemove(store.root, mirror, c, twin.agents);
      expect(childrenOfBox().split(/\s+/)).toContain(String(nestInit));
      expect(c.init.state).toBe('zombie');
      expect(agree(store, twin, mirror, [box])).toEqual([]);
      twin.run(20, (t) => t.pid.ns === box.init.pid.ns);
      expect(agree(store, twin, mirror, [box])).toEqual([]);

      // --host-pids into box, whose pid namespace its own user namespace owns: refused up front
      const refused = await restoreReal(twin, mirror, src.image, { name: 'nest2', into: 'box', hostPids: true }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((refused as RestoreError).problems.map((p) => p.message).join('\n')).toMatch(/--host-pids: on a mainline host a pid namespace inside container box must be made by a process in its user namespace/);
      expect(mirror.containers.has('nest2')).toBe(false);
    });
  });
});
