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
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../container/container.js';
import { Machine } from '../container/machine.js';
import type { Task } from '../kernel/task.js';
import { AgentTable, linuxDirs } from '../linux/agents.js';
import { probeLinux } from '../linux/helper.js';
import { machineArch } from '../linux/linux-facts.js';
import { parseStatus, type StatusFields } from '../linux/proc.js';
import { SyncHelper } from '../linux/sync-helper.js';
import { Twin } from '../linux/twin.js';
import { libcOf } from '../program/libc.js';
import type { HostStore } from '../store/host-store.js';
import { psRows, type PsRow } from './ps-view.js';
import { CliError } from './usage-error.js';

/** LINUX_HOST: the reserved name of the machine itself. */
export const LINUX_HOST = 'linux';

/** linuxUnavailable says in one line what keeps real containers from running here, or null when they can. */
export async function linuxUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `real containers need Linux, not ${process.platform}`;
  if (machineArch() !== 'x86_64') return `real containers need an x86_64 machine (the helper's system calls are x86_64), not ${process.arch}`;
  const probe = await probeLinux();
  return probe.ok ? null : probe.reason;
}

/** requireLinux refuses a command on --host linux when real containers cannot run here. */
export async function requireLinux(): Promise<void> {
  const why = await linuxUnavailable();
  if (why) throw new CliError('CKPT_NO_REAL_KERNEL', `--host linux cannot run real containers here: ${why}`);
}

function machinePidMax(): number {
  return Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
}

/** ensureMirror makes the mirror the first time (x86_64, mainline, the machine's pid_max at level 0). */
function ensureMirror(store: HostStore): void {
  if (store.exists(LINUX_HOST)) return;
  try {
    store.add(Machine.create(LINUX_HOST, 'x86_64', machinePidMax(), 'mainline'));
  } catch (e) {
    if ((e as { code?: string }).code !== 'CKPT_HOST_EXISTS') throw e; // another command made it meanwhile
  }
}

/** readMirror loads the mirror (an empty one when no real container was ever run). */
export function readMirror(store: HostStore): Machine {
  return store.exists(LINUX_HOST) ? store.read(LINUX_HOST) : Machine.create(LINUX_HOST, 'x86_64', machinePidMax(), 'mainline');
}

/** identity uid and gid maps for a container's user namespace: root in it is root outside (the helper runs as root) */
function mapIds(pid: number): void {
  writeFileSync(`/proc/${pid}/uid_map`, '0 0 4294967295\n');
  writeFileSync(`/proc/${pid}/gid_map`, '0 0 4294967295\n');
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

/** forgetGone drops the table's entries whose process is gone (reaped, or a later process holds its pid), with their FIFOs. */
function forgetGone(agents: AgentTable, dir: string): void {
  for (const [pid, e] of agents.byPid) {
    if (agents.isSame(pid)) continue;
    agents.byPid.delete(pid);
    for (const end of ['req', 'rep']) rmSync(join(dir, `${e.id}.${end}`), { force: true });
  }
}

/** startReal starts a container on the machine; returns it. */
export function startReal(twin: Twin, name: string, path: string, text: string): Container {
  return twin.startContainer(name, path, text, mapIds);
}

/** RealTask is what /proc says of one task of the mirror: its status, or null when it is gone. */
interface RealTask {
  task: Task;
  status: StatusFields | null;
}

function readReal(agents: AgentTable, t: Task): RealTask {
  const pid = t.nspids[0]!;
  if (!agents.isSame(pid)) return { task: t, status: null };
  const tgid = t.group.tgid.nr;
  try {
    return { task: t, status: parseStatus(readFileSync(tgid === pid ? `/proc/${pid}/status` : `/proc/${tgid}/task/${pid}/status`, 'utf8')) };
  } catch {
    return { task: t, status: null };
  }
}

const EXPECTED: Record<string, string> = { runnable: 'RS', blocked: 'RSD', stopped: 'Tt', zombie: 'Z' };

/** disagreement says how /proc and the mirror differ about one task, or null when they agree. */
function disagreement(container: Container, r: RealTask): string | null {
  const t = r.task;
  const who = `process ${t.nspids.slice(1).join('/')} of container ${container.name} (pid ${t.nspids[0]} on the machine)`;
  if (!r.status) {
    // a container's init that has exited is reaped by its parent outside the container (the machine's init)
    if (t.state === 'zombie' && t === container.init) return null;
    return `${who}: ckpt has it ${t.state}, the kernel has no such process (killed from outside ckpt?)`;
  }
  const s = r.status;
  if (!EXPECTED[t.state]!.includes(s.state)) return `${who}: ckpt has it ${t.state}, the kernel shows state ${s.state}`;
  if (s.nspid.join('/') !== t.nspids.join('/')) return `${who}: the kernel has its pids as ${s.nspid.join('/')}`;
  // groups and sessions as the container's namespaces number them (0: outside); the machine's level has sessions the mirror does not model
  const chain = t.pid.ns.chain;
  const pgids = chain.map((ns) => t.group.pgrp.nrIn(ns)).slice(1).join('/');
  const sids = chain.map((ns) => t.group.session.nrIn(ns)).slice(1).join('/');
  const realPgids = s.nspgid.slice(1).join('/');
  const realSids = s.nssid.slice(1).join('/');
  if (t.state !== 'zombie' && (realPgids !== pgids || realSids !== sids)) return `${who}: the kernel has it in process group ${realPgids}, session ${realSids} (container levels), ckpt in ${pgids}, ${sids}`;
  return null;
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
      rows.push({ ...row, nspids: s.nspid, tgid: s.nstgid[0]!, ppid: t === c.init ? row.ppid : s.ppid, pgid: s.nspgid[0]!, sid: s.nssid[0]!, threads: s.threads });
    }
  }
  return { rows, disagree };
}

/** realTasksOf: the container's tasks whose real process is still there */
function livingPids(agents: AgentTable, tasks: readonly Task[]): number[] {
  return tasks.map((t) => t.nspids[0]!).filter((p) => agents.isSame(p));
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** waitUntil polls `done` for up to 10 s. */
function waitUntil(done: () => boolean): boolean {
  const end = Date.now() + 10_000;
  for (;;) {
    if (done()) return true;
    if (Date.now() > end) return false;
    Atomics.wait(pause, 0, 0, 5);
  }
}

function stateOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * realKill sends `sig` to a container's init from outside it (the machine's namespace, as the model's
 * host init does), then lets the mirror do the same, and waits until /proc agrees with the mirror.
 */
export function realKill(store: HostStore, m: Machine, c: Container, sig: number): void {
  const agents = AgentTable.load(store.root);
  const initPid = c.init.nspids[0]!;
  if (c.init.state !== 'zombie') {
    if (!agents.isSame(initPid)) throw new CliError('CKPT_TWIN_DIVERGED', `the init of container ${c.name} (pid ${initPid} on the machine) is gone from the kernel, though ckpt has it ${c.init.state}: it was killed from outside ckpt; remove the container with ckpt rm ${c.name} --host linux --force`);
    process.kill(initPid, sig);
  }
  const r = libcOf(m.host, m.host.init).kill(c.init.pid.nr, sig);
  if (r.errno) throw new Error(`kill ${c.name}: ${r.errno}`);
  const tasks = m.tasksOf(c);
  const agree = (): boolean => tasks.every((t) => disagreement(c, readReal(agents, t)) === null);
  if (!waitUntil(agree)) {
    const why = tasks.map((t) => disagreement(c, readReal(agents, t))).filter((x) => x !== null);
    throw new CliError('CKPT_TWIN_DIVERGED', `after signal ${sig}, the kernel and the model disagree: ${why.join('; ')}`);
  }
}

/** realRemove kills every real process of a container (its init's SIGKILL takes its namespace with it), waits until they are gone, and forgets them. */
export function realRemove(store: HostStore, m: Machine, c: Container): void {
  const agents = AgentTable.load(store.root);
  const tasks = m.tasksOf(c);
  const initPid = c.init.nspids[0]!;
  if (agents.isSame(initPid) && stateOf(initPid) !== 'Z') process.kill(initPid, 'SIGKILL');
  // anything of the container still there (its init killed from outside): killed one by one
  for (const pid of livingPids(agents, tasks)) if (pid !== initPid && stateOf(pid) !== 'Z') process.kill(pid, 'SIGKILL');
  const gone = (): boolean => livingPids(agents, tasks).every((p) => p === initPid && stateOf(p) === 'Z');
  if (!waitUntil(gone)) {
    const left = livingPids(agents, tasks).map((p) => `${p} (${stateOf(p)})`);
    throw new CliError('CKPT_TWIN_DIVERGED', `container ${c.name}: processes ${left.join(', ')} are still there 10 s after SIGKILL`);
  }
  m.remove(c);
  const dir = linuxDirs(store.root).agents;
  for (const t of tasks) {
    const e = agents.byPid.get(t.nspids[0]!);
    if (!e) continue;
    agents.byPid.delete(t.nspids[0]!);
    for (const end of ['req', 'rep']) rmSync(join(dir, `${e.id}.${end}`), { force: true });
  }
  agents.save();
}
