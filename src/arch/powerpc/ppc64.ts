/** ppc64 (big-endian): 48 x 8-byte gregset, TLS in r13; runs ppc tasks as compat (docs/semantics.md §15.2, §15.7). */
import type { Arch } from '../arch.js';
import { makePpcArch, ppcRegs } from './powerpc-family.js';

export const PPC64: Arch = makePpcArch({
  name: 'ppc64',
  wordSize: 8,
  pageSize: 4096,
  elfMachine: 21, // EM_PPC64
  taskSize: 0x400000000000,
  stackTop: 0x3ffffffe0000,
  mmapBase: 0x3fff00000000,
  textBase: 0x10000000,
  regs: ppcRegs(8, 'softe'),
  // SF|EE|PR|ME|IR|DR|RI: a 64-bit user task
  userMsr: 0x800000000000d032n,
  tlsGpr: 'gpr13',
  compat: 'ppc',
});
