/**
 * `--host linux`: the machine ckpt runs on, as a host (docs/real-backend.md).
 * Its state is a mirror (a model Machine named `linux` in the store, x86_64,
 * mainline, pid_max the machine's) and a table of which helper agent stands
 * for which task (STATE/linux/agents.json; the agents' FIFOs are in
 * STATE/linux/agents/). No daemon: a command that runs workloads starts
 * `ckpt-helper serve`, reaches the agents it needs, and detaches at the end,
 * leaving them blocked on their FIFOs. Everything here happens under the
 * mirror's lock.
 */
import { readFileSync } from 'node:fs';
import type { Container } from '../container/container.js';
import { Machine } from '../container/machine.js';
import type { ContainerImage } from '../image/container-image.js';
import { restoreOntoLinux } from '../linux/restore-onto-linux.js';
import { dumpReal, type RealDump } from '../linux/real-dump.js';
import type { Task } from '../kernel/task.js';
import { problemsOnLinux } from '../linux/linux-check.js';
import { AgentTable, linuxDirs } from '../linux/agents.js';
import { canNameMachinePids, machineArch, ownUserNs } from '../linux/linux-facts.js';
import { disagreement, forgetGone, mapIds, readReal } from '../linux/real-containers.js';
import { SyncHelper } from '../linux/sync-helper.js';
import { Twin, TwinError } from '../linux/twin.js';
import type { HostStore } from '../store/host-store.js';
import { psRows, type PsRow } from './ps-view.js';
import { LINUX_HOST } from './options/spec.js';

/** the mirror's arch: the machine's own ABI (real containers need x86_64, which linuxUnavailable says) */
function mirrorArch(): string {
  return machineArch() ?? 'x86_64';
}

function machinePidMax(): number {
  return Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
}

/** ensureMirror makes the mirror the first time (x86_64, mainline, the machine's pid_max at level 0). */
function ensureMirror(store: HostStore): void {
  if (store.exists(LINUX_HOST)) return;
  try {
    store.add(Machine.create(LINUX_HOST, mirrorArch(), machinePidMax(), 'mainline'));
  } catch (e) {
    if ((e as { code?: string }).code !== 'CKPT_HOST_EXISTS') throw e; // another command made it meanwhile
  }
}

/** readMirror loads the mirror (an empty one when no real container was ever run). */
export function readMirror(store: HostStore): Machine {
  return store.exists(LINUX_HOST) ? store.read(LINUX_HOST) : Machine.create(LINUX_HOST, mirrorArch(), machinePidMax(), 'mainline');
}

/**
 * withTwin runs `work` on the mirror with a helper attached: the mirror is saved when `work` returns
 * (the real processes then hold the mirror's memory), the agent table always (the real processes
 * exist whether or not the mirror could follow them). `quit` ends the helper killing and reaping all
 * it follows (the demo's); else it detaches, leaving the agents for the next command.
 */
export async function withTwin<T>(store: HostStore, work: (twin: Twin, m: Machine) => T | Promise<T>, end: 'detach' | 'quit' = 'detach'): Promise<T> {
  ensureMirror(store);
  let helper: SyncHelper | null = null;
  try {
    return await store.updateAsync(LINUX_HOST, async (m) => {
      const agents = AgentTable.load(store.root);
      const dirs = linuxDirs(store.root);
      const h = (helper = SyncHelper.start(dirs.agents, dirs.base));
      try {
        const twin = new Twin(m, agents, h);
        const out = await work(twin, m);
        twin.syncMemory(withAgents(m, agents));
        return out;
      } finally {
        if (end === 'quit') h.quit();
        else h.detach();
        forgetGone(agents, dirs.agents);
        agents.save();
      }
    });
  } finally {
    await (helper as SyncHelper | null)?.exited();
  }
}

/** withAgents: the mirror's tasks whose real processes are there (one killed from outside is for ps to name) */
function withAgents(m: Machine, agents: AgentTable): Task[] {
  return [...m.host.tasks].filter((t) => agents.isSame(t.nspids[0]!));
}

/** dumpRealContainer checkpoints a container of the machine (real-dump.ts): the mirror's memory is in its processes first. */
export async function dumpRealContainer(twin: Twin, m: Machine, c: Container, leaveRunning: boolean): Promise<RealDump> {
  if (c.init.exited) throw new TwinError('CKPT_DUMP_REFUSED', `container ${c.name} has ended: its init exited and its holder has reaped it, so its processes are gone; remove it with ckpt rm ${c.name} --host linux`);
  const tasks = m.tasksOf(c);
  twin.syncMemory(tasks);
  return dumpReal({ machine: m, container: c, tids: new Map(tasks.map((t) => [t, t.nspids[0]!])), realAddress: twin.realAddress(tasks) }, { leaveRunning });
}

/** restoreReal restores an image onto the machine (restore-onto-linux.ts) and returns the container. */
export async function restoreReal(twin: Twin, m: Machine, image: ContainerImage, opts: { name?: string | undefined; into?: string | undefined; hostPids?: boolean; privileged?: boolean }): Promise<Container> {
  const c = await restoreOntoLinux(m, image, twin.agents, twin.helper, {
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.into === undefined ? {} : { into: opts.into }),
    ...(opts.hostPids ? { hostPids: true } : {}),
    ...(opts.privileged === undefined ? {} : { privileged: opts.privileged }),
    adoptPages: true,
    mapIds,
    ownUserNs,
    agentOf: (t) => twin.agentOf(t),
  });
  twin.followed(m.tasksOf(c).map((t) => twin.agents.byPid.get(t.nspids[0]!)!.id));
  return c;
}

/** realCheck lists every reason an image would not restore on the machine (clone3: the real kernel has no eclone). */
export function realCheck(store: HostStore, image: ContainerImage, opts: { name?: string | undefined; into?: string | undefined; hostPids?: boolean }) {
  const m = readMirror(store);
  const containers = new Map([...m.containers.values()].filter((c) => !c.init.exited).map((c) => [c.name, c.init.nspids[0]!] as const));
  return problemsOnLinux(image, {
    via: 'clone3',
    name: opts.name ?? image.name,
    ...(opts.into === undefined ? {} : { into: opts.into }),
    ...(opts.hostPids ? { hostPids: true, privileged: canNameMachinePids() } : {}),
    machine: { name: LINUX_HOST, hasContainer: (n) => m.containers.has(n), containers },
  });
}

/** startReal starts a container on the machine; returns it. */
export function startReal(twin: Twin, name: string, path: string, text: string): Container {
  return twin.startContainer(name, path, text, mapIds);
}

/** realPs is ps of containers on the machine: rows from /proc (the mirror's for what /proc no longer shows), and every disagreement. */
export function realPs(store: HostStore, m: Machine, containers: readonly Container[]): { rows: PsRow[]; disagree: string[] } {
  const agents = AgentTable.load(store.root);
  const rows: PsRow[] = [];
  const disagree: string[] = [];
  for (const c of containers) {
    const tasks = m.tasksOf(c);
    const real = new Map(tasks.map((t) => [t, readReal(agents, t)]));
    for (const row of psRows(c.name, tasks)) {
      const t = tasks.find((x) => x.nspids[0] === row.nspids[0])!;
      const r = real.get(t)!;
      const why = disagreement(c, r);
      if (why) disagree.push(why);
      const s = r.status;
      if (!s) {
        rows.push(row);
        continue;
      }
      // ps counts live threads; /proc's Threads is signal->nr_threads, which counts a zombie leader until the process is reaped
      const leader = t.group.leader === t ? s : real.get(t.group.leader)?.status;
      const threads = s.threads - (leader?.state === 'Z' ? 1 : 0);
      rows.push({ ...row, nspids: s.nspid, tgid: s.nstgid[0]!, ppid: t === c.init ? row.ppid : s.ppid, pgid: s.nspgid[0]!, sid: s.nssid[0]!, threads });
    }
  }
  return { rows, disagree };
}


export { linuxUnavailable, realKill, realRemove, requireLinux } from '../linux/real-containers.js';
