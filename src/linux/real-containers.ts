/**
 * The real containers of `--host linux` as the kernel has them: whether
 * they can run here, what /proc says of each task of the mirror and where it
 * disagrees, and the verbs that act on them from outside (kill, rm), each
 * followed by the mirror (docs/real-backend.md).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import type { Task } from '../kernel/task.js';
import { libcOf } from '../program/libc.js';
import { AgentTable, linuxDirs } from './agents.js';
import { probeLinux } from './helper.js';
import { canMapAllIds, machineArch } from './linux-facts.js';
import { waitUntil } from './poll.js';
import { parseStatus, processState, type StatusFields } from './proc.js';
import { TwinError } from './twin.js';

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
  if (why) throw new TwinError('CKPT_NO_REAL_KERNEL', `real containers cannot run on this machine: ${why}`);
}

/**
 * mapIds writes the uid and gid maps of a container's user namespace. Run by root: identity maps,
 * root in it is root outside. Run without CAP_SETUID and CAP_SETGID (another user, or root without
 * capabilities), as the namespace's owner (the helper made it): root in it is this process's own
 * uid and gid outside, the one mapping an unprivileged owner may write, after setgroups is denied
 * (user_namespaces(7): "Defining user and group ID mappings").
 */
export function mapIds(pid: number): void {
  const uid = process.geteuid?.() ?? 0;
  if (canMapAllIds()) {
    writeFileSync(`/proc/${pid}/uid_map`, '0 0 4294967295\n');
    writeFileSync(`/proc/${pid}/gid_map`, '0 0 4294967295\n');
    return;
  }
  writeFileSync(`/proc/${pid}/uid_map`, `0 ${uid} 1\n`);
  writeFileSync(`/proc/${pid}/setgroups`, 'deny');
  writeFileSync(`/proc/${pid}/gid_map`, `0 ${process.getegid?.() ?? 0} 1\n`);
}

/** forgetGone drops the table's entries whose process is gone (reaped, or a later process holds its pid), with their FIFOs. */
export function forgetGone(agents: AgentTable, dir: string): void {
  for (const [pid, e] of agents.byPid) {
    if (agents.isSame(pid)) continue;
    agents.byPid.delete(pid);
    for (const end of ['req', 'rep']) rmSync(join(dir, `${e.id}.${end}`), { force: true });
  }
}

/** RealTask is what /proc says of one task of the mirror: its status, or null when it is gone. */
export interface RealTask {
  task: Task;
  status: StatusFields | null;
}

export function readReal(agents: AgentTable, t: Task): RealTask {
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
export function disagreement(container: Container, r: RealTask): string | null {
  const t = r.task;
  const who = `process ${t.nspids.slice(1).join('/')} of container ${container.name} (pid ${t.nspids[0]} on the machine)`;
  if (!r.status) {
    // a container's init that has exited is reaped by its parent outside the container (its holder)
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

/** realTasksOf: the container's tasks whose real process is still there */
function livingPids(agents: AgentTable, tasks: readonly Task[]): number[] {
  return tasks.map((t) => t.nspids[0]!).filter((p) => agents.isSame(p));
}

/**
 * realKill sends `sig` to a container's init from outside it (the machine's namespace, as the model's
 * host init does), then lets the mirror do the same, and waits until /proc agrees with the mirror.
 */
export function realKill(root: string, m: Machine, c: Container, sig: number): void {
  const agents = AgentTable.load(root);
  const initPid = c.init.nspids[0]!;
  if (c.init.state !== 'zombie') {
    if (!agents.isSame(initPid)) throw new TwinError('CKPT_TWIN_DIVERGED', `the init of container ${c.name} (pid ${initPid} on the machine) is gone from the kernel, though ckpt has it ${c.init.state}: it was killed from outside ckpt; remove the container with ckpt rm ${c.name} --host linux --force`);
    process.kill(initPid, sig);
  }
  const r = libcOf(m.host, m.host.init).kill(c.init.pid.nr, sig);
  if (r.errno) throw new Error(`kill ${c.name}: ${r.errno}`);
  const tasks = m.tasksOf(c);
  const agree = (): boolean => tasks.every((t) => disagreement(c, readReal(agents, t)) === null);
  if (!waitUntil(agree, 10_000)) {
    const why = tasks.map((t) => disagreement(c, readReal(agents, t))).filter((x) => x !== null);
    throw new TwinError('CKPT_TWIN_DIVERGED', `after signal ${sig}, the kernel and the model disagree: ${why.join('; ')}`);
  }
}

/** killIfThere sends SIGKILL; a process gone meanwhile (its namespace's init died first) is what was wanted */
function killIfThere(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** realRemove kills every real process of a container (its init's SIGKILL takes its namespace with it), waits until they are gone, and forgets them. */
export function realRemove(root: string, m: Machine, c: Container, table?: AgentTable): void {
  const agents = table ?? AgentTable.load(root);
  const tasks = m.tasksOf(c);
  const initPid = c.init.nspids[0]!;
  if (agents.isSame(initPid) && processState(initPid) !== 'Z') killIfThere(initPid);
  // anything of the container still there (its init killed from outside): killed one by one
  for (const pid of livingPids(agents, tasks)) if (pid !== initPid && processState(pid) !== 'Z') killIfThere(pid);
  const gone = (): boolean => livingPids(agents, tasks).every((p) => p === initPid && processState(p) === 'Z');
  if (!waitUntil(gone, 10_000)) {
    const left = livingPids(agents, tasks).map((p) => `${p} (${processState(p)})`);
    throw new TwinError('CKPT_TWIN_DIVERGED', `container ${c.name}: processes ${left.join(', ')} are still there 10 s after SIGKILL`);
  }
  m.remove(c);
  const dir = linuxDirs(root).agents;
  // a container restored --into another: its init is now a zombie child of that one's init (as on a model
  // host), for that workload's wait4 to reap; it stays followed until it is gone
  const nested = c.init.parent !== null && c.init.parent !== m.host.init ? c.init : null;
  for (const t of tasks) {
    if (t === nested) continue;
    const e = agents.byPid.get(t.nspids[0]!);
    if (!e) continue;
    agents.byPid.delete(t.nspids[0]!);
    for (const end of ['req', 'rep']) rmSync(join(dir, `${e.id}.${end}`), { force: true });
  }
  // and the agents of processes that ended earlier, reaped without a command of ckpt seeing it (a SIGKILL's namespace)
  forgetGone(agents, dir);
  agents.save();
}
