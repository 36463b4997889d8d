/**
 * The demo scenario: the same nested container tree built with eclone on
 * hosts of four architectures, each call entering its own ABI, then rebuilt
 * with clone3 set_tid; and a collision seen through both interfaces.
 */
import { CLONE_NEWPID, Host, SIGCHLD, type ArchName, type Task } from '../index.js';

/** DemoTask is one task of the tree: its role and its pid at every level, host level first. */
export interface DemoTask {
  role: string;
  nspids: number[];
}

/** The tree, as (role, parent role, pids oldest level first, new namespace?). */
const TREE: Array<{ role: string; parent: string | null; pids: number[]; newNs: boolean }> = [
  { role: 'container init', parent: null, pids: [1000], newNs: true },
  { role: 'nested init', parent: 'container init', pids: [1001, 100], newNs: true },
  { role: 'worker a', parent: 'nested init', pids: [2000, 200, 10], newNs: false },
  { role: 'worker b', parent: 'nested init', pids: [2001, 201, 11], newNs: false },
  { role: 'worker c', parent: 'nested init', pids: [2002, 202, 12], newNs: false },
];

/** buildWithEclone replays the tree on a fresh host of `arch`; eclone names every level but a new namespace's own. */
export function buildWithEclone(arch: ArchName): DemoTask[] {
  const host = Host.create({ arch });
  const byRole = new Map<string, Task>();
  return TREE.map((node) => {
    const parent = node.parent ? byRole.get(node.parent)! : host.init;
    const flags = SIGCHLD | (node.newNs ? CLONE_NEWPID : 0);
    const r = host.libc(parent).eclone(flags, { nr_pids: node.pids.length }, 48, node.pids);
    if (!r.child) throw new Error(`eclone for ${node.role} failed on ${arch}: ${r.errno}`);
    byRole.set(node.role, r.child);
    return { role: node.role, nspids: r.child.nspids };
  });
}

/** buildWithClone3 replays the tree with clone3: set_tid is innermost first and must name pid 1 of a new namespace. */
export function buildWithClone3(arch: ArchName): DemoTask[] {
  const host = Host.create({ arch });
  const byRole = new Map<string, Task>();
  return TREE.map((node) => {
    const parent = node.parent ? byRole.get(node.parent)! : host.init;
    const setTid = [...node.pids].reverse();
    if (node.newNs) setTid.unshift(1);
    const r = host.libc(parent).clone3({ flags: node.newNs ? CLONE_NEWPID : 0, exit_signal: SIGCHLD, set_tid: setTid }, 88);
    if (!r.child) throw new Error(`clone3 for ${node.role} failed on ${arch}: ${r.errno}`);
    byRole.set(node.role, r.child);
    return { role: node.role, nspids: r.child.nspids };
  });
}

/** Collision is what each interface reports when a pid the tree needs is taken, and whether the host stayed unchanged. */
export interface Collision {
  eclone: string;
  clone3: string;
  unchanged: boolean;
}

/** collide takes host pid 2001 first, then asks for it at every level through both interfaces. */
export function collide(arch: ArchName): Collision {
  const host = Host.create({ arch });
  const l = host.libc(host.init);
  l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [2001]);
  const before = JSON.stringify(host.snapshot());
  const e = l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [2001]);
  const c = l.clone3({ exit_signal: SIGCHLD, set_tid: [2001] }, 88);
  return { eclone: e.errno ?? `pid ${e.ret}`, clone3: c.errno ?? `pid ${c.ret}`, unchanged: JSON.stringify(host.snapshot()) === before };
}
