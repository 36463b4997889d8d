/**
 * The only list of architectures. Everything else looks an arch up here by
 * name or alias; nothing outside src/arch switches on an ArchName.
 */
import type { Arch, ArchName } from './arch.js';
import { I386 } from './x86/i386.js';
import { X86_64 } from './x86/x86-64.js';
import { S390 } from './s390/s390.js';
import { S390X } from './s390/s390x.js';
import { PPC } from './powerpc/ppc.js';
import { PPC64 } from './powerpc/ppc64.js';

/** ARCHES: every modelled ABI, in a stable order. */
export const ARCHES: readonly Arch[] = [I386, X86_64, S390, S390X, PPC, PPC64];

/** ARCH_ALIASES: names the CLI accepts besides the canonical ones. */
export const ARCH_ALIASES: Readonly<Record<string, ArchName>> = { x86: 'i386', powerpc: 'ppc' };

const BY_NAME = new Map<string, Arch>(ARCHES.map((a) => [a.name, a]));

/** archByName returns the Arch for a canonical name or alias, or undefined. */
export function archByName(name: string): Arch | undefined {
  return BY_NAME.get(ARCH_ALIASES[name] ?? name);
}

/** archNames lists the canonical names, for messages and --help. */
export function archNames(): ArchName[] {
  return ARCHES.map((a) => a.name);
}
