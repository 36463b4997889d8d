/**
 * linuxFacts: the machine ckpt runs on, as a restore's preflight sees a
 * target: its ABI, its kernel (Linux 6.x: the mainline personality), its
 * pid_max, and who holds each pid at every level from the host's pid
 * namespace down to the one the container would go into, read from /proc.
 * The host is the namespace of the /proc that is read, or one inside it
 * (`hostPid`): a namespace seen through asSeenFrom is what a /proc mounted
 * there shows.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchName } from '../arch/arch.js';
import { CAP_CHECKPOINT_RESTORE, CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN } from '../abi/capabilities.js';
import { archByName } from '../arch/registry.js';
import { pidMaxLimit } from '../kernel/host.js';
import type { Enclosing, TargetFacts } from '../image/restore-preflight.js';
import { asSeenFrom, namespacesOf, parseNsLink, procEnclosing, readProcess, scanProcesses, type SeenProcess } from './proc.js';

/** NODE_ARCHES names the ABI of each architecture Node runs on that ckpt models. */
const NODE_ARCHES: Partial<Record<string, ArchName>> = { x64: 'x86_64', ia32: 'i386', s390x: 's390x', s390: 's390', ppc64: 'ppc64', ppc: 'ppc' };

/** machineArch is the ABI of the machine itself, or undefined on one ckpt does not model. */
export function machineArch(nodeArch: string = process.arch): ArchName | undefined {
  return NODE_ARCHES[nodeArch];
}

/** effectiveCaps: this process's effective capabilities (CapEff), none where /proc cannot say */
function effectiveCaps(proc: string): bigint {
  try {
    const eff = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync(join(proc, 'self/status'), 'utf8'));
    return BigInt(`0x${eff?.[1] ?? '0'}`);
  } catch {
    return 0n;
  }
}

const hasCap = (caps: bigint, cap: number): boolean => ((caps >> BigInt(cap)) & 1n) === 1n;

/**
 * canNameMachinePids: whether this process may name pids in the machine's root pid namespace, as
 * clone3's set_tid there needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the initial user
 * namespace (kernel/pid.c alloc_pid, checkpoint_restore_ns_capable): its effective set holds one of
 * them, and it lives in the initial user namespace (its uid_map is the whole identity map).
 */
export function canNameMachinePids(proc = '/proc'): boolean {
  const caps = effectiveCaps(proc);
  return inInitialUserNs(proc) && (hasCap(caps, CAP_CHECKPOINT_RESTORE) || hasCap(caps, CAP_SYS_ADMIN));
}

/** inInitialUserNs: this process lives in the initial user namespace (its uid_map is the whole identity map) */
function inInitialUserNs(proc: string): boolean {
  try {
    return readFileSync(join(proc, 'self/uid_map'), 'utf8').trim().split(/\s+/).join(' ') === '0 0 4294967295';
  } catch {
    return false;
  }
}

/**
 * canMapAllIds: whether this process may give a user namespace it made the whole identity map
 * (uid and gid): CAP_SETUID and CAP_SETGID in the initial user namespace, whose ids those are
 * (kernel/user_namespace.c new_idmap_permitted). Otherwise only its own ids can be mapped.
 */
export function canMapAllIds(proc = '/proc'): boolean {
  const caps = effectiveCaps(proc);
  return inInitialUserNs(proc) && hasCap(caps, CAP_SETUID) && hasCap(caps, CAP_SETGID);
}

/**
 * needsOwnUserNs: whether a container this process restores must get a user namespace of its own:
 * without CAP_SYS_ADMIN it cannot make a pid namespace otherwise (kernel/nsproxy.c
 * copy_namespaces), nor name pids in it; in a user namespace it makes, it holds every capability.
 */
export function needsOwnUserNs(proc = '/proc'): boolean {
  return !hasCap(effectiveCaps(proc), CAP_SYS_ADMIN);
}

export interface LinuxFactOptions {
  /** the name the machine goes by in messages (default `linux`) */
  name?: string;
  /** the containers on the host, each name with its init's pid as the host numbers it (the state directory knows them) */
  containers?: ReadonlyMap<string, number>;
  /** which container names are taken (default: those of `containers`) */
  hasContainer?: (name: string) => boolean;
  /** the container the image would be restored inside (restore --into); default: directly under the host */
  into?: string;
  /** the /proc to read (default /proc) */
  proc?: string;
  /** the host is the pid namespace process `hostPid` (as the /proc numbers it) lives in; default the /proc's own */
  hostPid?: number;
  /** the host's pid_max, when the host is not the reader's namespace (since Linux 6.14 each pid namespace has its own, and /proc/sys shows the reader's) */
  pidMax?: number;
}

/** linuxFacts reads the machine's facts: where a container would go, and who holds each pid on the way there. */
export function linuxFacts(opts: LinuxFactOptions = {}): TargetFacts {
  const proc = opts.proc ?? '/proc';
  const name = opts.name ?? 'linux';
  const archName = machineArch();
  const arch = archName === undefined ? undefined : archByName(archName);
  if (!arch) throw new RangeError(`ckpt does not model this machine's architecture (${process.arch})`);
  const pidMax = opts.pidMax ?? Number(readFileSync(join(proc, 'sys/kernel/pid_max'), 'utf8').trim());
  const all = scanProcesses(proc);
  const hostNs = opts.hostPid === undefined ? parseNsLink(readlinkSync(join(proc, 'self/ns/pid'))) : nsOf(opts.hostPid, proc);
  const seen: SeenProcess[] = opts.hostPid === undefined ? all.map((p) => ({ ...p, procPid: p.pid })) : asSeenFrom(all, hostNs);
  const containers = opts.containers ?? new Map<string, number>();
  return {
    name,
    arch,
    kernel: 'mainline',
    pidMax,
    perNsPidMax: true,
    pidMaxLimit: pidMaxLimit(arch),
    hasContainer: opts.hasContainer ?? ((n) => containers.has(n)),
    enclosing: enclosingOn(seen, hostNs, name, containers, opts.into, proc, opts.hostPid === undefined ? 'self' : String(opts.hostPid)),
  };
}

function nsOf(pid: number, proc: string): number {
  const p = readProcess(pid, proc);
  if (!p || p.pidNs === 0) throw new RangeError(`no process ${pid} whose pid namespace can be read, to play the host`);
  return p.pidNs;
}

/**
 * enclosingOn finds where the container goes: the host's namespace, or the namespace of container `into`'s
 * init (refused when there is no such container or its init has exited, as on a model host), and names
 * each level by the container whose init lives there.
 */
function enclosingOn(seen: readonly SeenProcess[], hostNs: number, host: string, containers: ReadonlyMap<string, number>, into: string | undefined, proc: string, hostProc: string): Enclosing | { missing: string } {
  const byPid = new Map(seen.map((p) => [p.pid, p]));
  const levels = new Map<number, string>();
  const namespaces = namespacesOf(seen);
  for (const [cname, pid] of containers) {
    const ns = namespaces.get(byPid.get(pid)?.pidNs ?? 0);
    if (ns) levels.set(ns.level, `container ${cname}`);
  }
  if (into === undefined) return procEnclosing(seen, hostNs, { host, levels });
  const initPid = containers.get(into);
  if (initPid === undefined) return { missing: `--into ${into}: no container of that name on host ${host}` };
  const init = byPid.get(initPid);
  if (!init || init.state === 'Z' || init.state === 'X' || init.pidNs === 0) return { missing: `--into ${into}: that container's init has exited, so its pid namespace takes no new processes` };
  return procEnclosing(seen, init.pidNs, { host, levels, needsItsUserNs: ownUserNs(init.procPid, hostProc, proc) });
}

/**
 * ownUserNs: whether process `pid` lives in another user namespace than process `than` (default ckpt
 * itself), both as the /proc at `proc` numbers them; false when either cannot be read. A container's
 * init in a user namespace of its own has its pid namespace owned by it (as ckpt makes containers), so
 * a pid namespace made inside it must be made from there (kernel/pid_namespace.c create_pid_namespace),
 * and its ids need mapping. /proc does not show a pid namespace's owner (that takes the NS_GET_USERNS
 * ioctl): the init's user namespace stands for it.
 */
export function ownUserNs(pid: number, than = 'self', proc = '/proc'): boolean {
  const userNs = (who: string): string | null => {
    try {
      return readlinkSync(join(proc, who, 'ns/user'));
    } catch {
      return null;
    }
  };
  const mine = userNs(than);
  const its = userNs(String(pid));
  return mine !== null && its !== null && mine !== its;
}
