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
import { AgentTable, linuxDirs } from '../linux/agents.js';
import { machineArch } from '../linux/linux-facts.js';
import { disagreement, forgetGone, mapIds, readReal } from '../linux/real-containers.js';
import { SyncHelper } from '../linux/sync-helper.js';
import { Twin } from '../linux/twin.js';
import type { HostStore } from '../store/host-store.js';
import { psRows, type PsRow } from './ps-view.js';

/** LINUX_HOST: the reserved name of the machine itself. */
export const LINUX_HOST = 'linux';

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
 * withTwin runs `work` on the mirror with a helper attached: the mirror is saved when `work` returns,
 * the agent table always (the real processes exist whether or not the mirror could follow them).
 */
export function withTwin<T>(store: HostStore, work: (twin: Twin, m: Machine) => T): T {
  ensureMirror(store);
  return store.update(LINUX_HOST, (m) => {
    const agents = AgentTable.load(store.root);
    const dirs = linuxDirs(store.root);
    const helper = SyncHelper.start(dirs.agents, dirs.base);
    try {
      return work(new Twin(m, agents, helper), m);
    } finally {
      helper.detach();
      forgetGone(agents, dirs.agents);
      agents.save();
    }
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
      rows.push({ ...row, nspids: s.nspid, tgid: s.nstgid[0]!, ppid: t === c.init ? row.ppid : s.ppid, pgid: s.nspgid[0]!, sid: s.nssid[0]!, threads: s.state === 'Z' ? 0 : s.threads }); // ps counts live threads; /proc counts a zombie leader
    }
  }
  return { rows, disagree };
}


export { linuxUnavailable, realKill, realRemove, requireLinux } from '../linux/real-containers.js';
