/**
 * The real dump's check of the tree: what /proc shows of a container's
 * processes, held against the mirror's dump record by record. Every
 * difference stops the dump with a DumpError naming the task (and its pid on
 * this machine); what agrees comes back with the machine's own pids as
 * `outer`.
 */
import { refuseDump } from '../image/dump.js';
import type { ContainerImage, ImageTask } from '../image/container-image.js';
import { namespacesOf, readProcess, type ProcProcess, type ProcThread } from './proc.js';


/** readProcesses reads every process of the container from /proc (one entry per thread group, by its leader's tid). */
export function readProcesses(image: ContainerImage, tids: readonly number[], name: (i: number) => string): ProcProcess[] {
  const out: ProcProcess[] = [];
  image.tasks.forEach((t, i) => {
    if (t.leader !== i) return;
    const p = readProcess(tids[i]!);
    if (!p) refuseDump(`${name(i)} (pid ${tids[i]} on this machine) is gone: was it killed from outside?`);
    out.push(p);
  });
  return out;
}

/**
 * checkTopology holds /proc's view of each task against the mirror's
 * record and returns the records with the machine's own outer pids.
 * `stateOf` gives the process as read before the freeze when SIGSTOP froze
 * it (its stop hides whether the workload had stopped it).
 */
export function checkTopology(image: ContainerImage, tids: readonly number[], procs: readonly ProcProcess[], name: (i: number) => string, stateOf: (pid: number) => ProcProcess | undefined): ImageTask[] {
  const index = new Map(tids.map((tid, i) => [tid, i]));
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const base = image.base;
  const nsInode = new Map<number, number>();
  const inodeNs = new Map<number, number>();
  /** sameNs checks that image namespace `ns` and real namespace `inode` always go together */
  const sameNs = (i: number, ns: number, inode: number, what: string): void => {
    if (inode === 0) return; // a zombie's links cannot be read
    const known = nsInode.get(ns);
    const other = inodeNs.get(inode);
    if ((known !== undefined && known !== inode) || (other !== undefined && other !== ns)) refuseDump(`${name(i)}: its ${what} is pid namespace ${inode} on this machine, which is not the one the mirror has (its namespace ${ns})`);
    nsInode.set(ns, inode);
    inodeNs.set(inode, ns);
  };
  /** each process's real parent: the task whose thread lists it as a child */
  const parentOf = new Map<number, number>();
  for (const p of procs) {
    for (const th of p.threads) {
      const at = index.get(th.tid);
      if (at === undefined) refuseDump(`thread ${th.tid} of ${name(index.get(p.pid)!)} is not in the mirror: was it made from outside?`);
      for (const child of th.children) {
        if (!index.has(child)) refuseDump(`process ${child} on this machine is a child of ${name(at)} but not in the mirror: was it made from outside?`);
        parentOf.set(child, at);
      }
    }
  }
  const out = image.tasks.map((t, i): ImageTask => {
    const tid = tids[i]!;
    const leaderTid = tids[t.leader]!;
    const p = byPid.get(leaderTid)!;
    const th: ProcThread | undefined = p.threads.find((x) => x.tid === tid);
    const who = `${name(i)} (pid ${tid} on this machine)`;
    const isLeader = t.leader === i;
    if (!th) {
      // a thread that has exited is released at once; a leader stays as a zombie
      if (!(t.exited && !isLeader)) refuseDump(`${who} is gone: was it killed from outside?`);
      return t;
    }
    if (th.state === 't' || th.state === 'X') refuseDump(`${who} is in state ${th.state} (${th.state === 't' ? 'traced by a debugger' : 'dead'}), not as the mirror has it`);
    if ((th.state === 'Z') !== t.exited) refuseDump(`${who} is ${th.state === 'Z' ? 'a zombie' : 'alive'} on this machine but ${t.exited ? 'has exited' : 'alive'} in the mirror: was it killed from outside?`);
    const levels = th.nspid.slice(base);
    if (th.nspid.length !== base + t.numbers.length || levels.join('/') !== t.numbers.join('/')) refuseDump(`${who} has pids ${th.nspid.join('/')} on this machine, not ${t.numbers.join('/')} at the container's levels as the mirror has it`);
    const leaderIndex = index.get(p.pid);
    if (leaderIndex !== t.leader) refuseDump(`${who} belongs to process ${p.pid} on this machine, not to ${name(t.leader)} as the mirror has it`);
    // a thread's parent is its process's (CLONE_THREAD shares real_parent)
    const parent = parentOf.get(p.pid) ?? -1;
    if (isLeader && parent !== t.parent) refuseDump(`${who} has ${parent < 0 ? 'a parent outside the container' : name(parent)} as its parent on this machine, not ${t.parent < 0 ? 'one outside the container' : name(t.parent)} as the mirror has it`);
    const children = th.children.map((c) => index.get(c)!);
    if (children.join(',') !== t.children.join(',')) refuseDump(`${who} has children ${children.map(name).join(', ') || '(none)'} on this machine, not ${t.children.map(name).join(', ') || '(none)'} as the mirror has it`);
    sameNs(i, t.ns, p.pidNs, 'pid namespace');
    sameNs(i, t.nsForChildren, th.pidNsForChildren, 'pid namespace for children');
    if (isLeader) {
      for (const [what, real, mine] of [['process group', p.nspgid, t.pgid], ['session', p.nssid, t.sid]] as const) {
        const shown = real.slice(base);
        const expected = shown.map((_, k) => mine?.[k] ?? 0);
        if (shown.join('/') !== expected.join('/')) refuseDump(`${who} is in ${what} ${shown.join('/')} at the container's levels on this machine, not ${mine?.join('/') ?? '(outside the container)'} as the mirror has it`);
      }
      const status = t.group.groupExitStatus ?? t.exitStatus;
      if (p.state === 'Z' && p.threads.every((x) => x.state === 'Z') && p.exitCode !== status) refuseDump(`${who} is a zombie with wait status ${p.exitCode} on this machine, not ${status} as the mirror has it`);
      const seen = stateOf(p.pid) ?? p;
      const live = seen.threads.filter((x) => x.state !== 'Z');
      const stopped = live.length > 0 && live.every((x) => x.state === 'T');
      if (live.length > 0 && stopped !== t.group.stopped) refuseDump(`${who} is ${stopped ? 'stopped' : 'not stopped'} on this machine but ${t.group.stopped ? 'stopped' : 'not stopped'} in the mirror`);
    }
    return { ...t, outer: th.nspid.slice(0, base) };
  });
  checkNesting(image, procs, nsInode);
  return out;
}

/**
 * checkNesting: each of the image's pid namespaces sits, on this machine, in
 * the namespace the mirror says is its parent (as far as /proc tells which
 * namespace holds which: namespacesOf).
 */
function checkNesting(image: ContainerImage, procs: readonly ProcProcess[], nsInode: ReadonlyMap<number, number>): void {
  const chains = namespacesOf(procs);
  const level = (ns: number): number | undefined => {
    const inode = nsInode.get(ns);
    return inode === undefined ? undefined : chains.get(inode)?.level;
  };
  image.pidNs.forEach(([parent], ns) => {
    const inode = nsInode.get(ns);
    const parentInode = nsInode.get(parent);
    const parentLevel = level(parent);
    if (parent < 0 || inode === undefined || parentInode === undefined || parentLevel === undefined) return;
    const above = chains.get(inode)?.chain[parentLevel];
    if (above !== null && above !== undefined && above !== parentInode) refuseDump(`pid namespace ${inode} on this machine (the image's namespace ${ns}) sits in namespace ${above}, not in ${parentInode} (the image's namespace ${parent}) as the mirror has it`);
  });
}
