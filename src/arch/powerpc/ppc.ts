/** ppc (32-bit, big-endian): 48 x 4-byte gregset, TLS in r2 (docs/semantics.md §15.2). */
import type { Arch } from '../arch.js';
import { makePpcArch, ppcRegs } from './powerpc-family.js';

export const PPC: Arch = makePpcArch({
  name: 'ppc',
  wordSize: 4,
  pageSize: 4096,
  elfMachine: 20, // EM_PPC
  taskSize: 0xc0000000,
  stackTop: 0xbfff0000,
  mmapBase: 0x40000000,
  textBase: 0x10000000,
  regs: ppcRegs(4, 'mq'),
  // EE|PR|ME|IR|DR|RI: a 32-bit user task
  userMsr: 0xd032n,
  tlsGpr: 'gpr2',
});
