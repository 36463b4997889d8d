/**
 * linuxFacts: the machine ckpt runs on, as a restore's preflight sees a
 * target: its ABI, its kernel (Linux 6.x: the mainline personality), its
 * pid_max, and who holds each pid at every level from the /proc's pid
 * namespace down to the one containers would go into, read from /proc.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchName } from '../arch/arch.js';
import { archByName } from '../arch/registry.js';
import { pidMaxLimit } from '../kernel/host.js';
import type { TargetFacts } from '../image/restore-preflight.js';
import { parseNsLink, procEnclosing, scanProcesses } from './proc.js';

/** NODE_ARCHES names the ABI of each architecture Node runs on that ckpt models. */
const NODE_ARCHES: Partial<Record<string, ArchName>> = { x64: 'x86_64', ia32: 'i386', s390x: 's390x', s390: 's390', ppc64: 'ppc64', ppc: 'ppc' };

/** machineArch is the ABI of the machine itself, or undefined on one ckpt does not model. */
export function machineArch(nodeArch: string = process.arch): ArchName | undefined {
  return NODE_ARCHES[nodeArch];
}

export interface LinuxFactOptions {
  /** the name the machine goes by in messages (default `linux`) */
  name?: string;
  /** which container names are taken (the state directory knows) */
  hasContainer?: (name: string) => boolean;
  /** the /proc to read (default /proc) */
  proc?: string;
}

/** linuxFacts reads the machine's facts; containers go into the pid namespace of the /proc that is read. */
export function linuxFacts(opts: LinuxFactOptions = {}): TargetFacts {
  const proc = opts.proc ?? '/proc';
  const name = opts.name ?? 'linux';
  const archName = machineArch();
  const arch = archName === undefined ? undefined : archByName(archName);
  if (!arch) throw new RangeError(`ckpt does not model this machine's architecture (${process.arch})`);
  const pidMax = Number(readFileSync(join(proc, 'sys/kernel/pid_max'), 'utf8').trim());
  const ownNs = parseNsLink(readlinkSync(join(proc, 'self/ns/pid')));
  return {
    name,
    arch,
    kernel: 'mainline',
    pidMax,
    perNsPidMax: true,
    pidMaxLimit: pidMaxLimit(arch),
    hasContainer: opts.hasContainer ?? (() => false),
    enclosing: procEnclosing(scanProcesses(proc), ownNs, { host: name }),
  };
}
