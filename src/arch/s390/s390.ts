/**
 * s390 (31-bit ESA/390 user mode): s390_regs as the compat view, 144 bytes
 * big-endian, PSW address with the AMODE31 bit (arch/s390/include/asm/ptrace.h;
 * docs/semantics.md §15.2).
 */
import type { Arch } from '../arch.js';
import { fieldRun } from '../register-file.js';
import { accessor } from '../reg-access.js';
import { makeS390Arch, S390_SYSCALLS } from './s390-family.js';

const REGS = {
  mirrors: 's390_compat_regs (31-bit, 144 bytes)',
  size: 144,
  fields: [
    { name: 'psw_mask', offset: 0, size: 4 },
    { name: 'psw_addr', offset: 4, size: 4 },
    ...fieldRun('gpr', 16, 8, 4, 4),
    ...fieldRun('acr', 16, 72, 4, 4),
    { name: 'orig_gpr2', offset: 136, size: 4 },
    { name: 'pad', offset: 140, size: 4 },
  ],
  zero: ['pad'],
} as const;

const acr0 = accessor(REGS, false, 'acr0');

export const S390: Arch = makeS390Arch({
  name: 's390',
  wordSize: 4,
  pageSize: 4096,
  elfMachine: 22, // EM_S390
  taskSize: 0x80000000,
  stackTop: 0x7fff0000,
  mmapBase: 0x40000000,
  textBase: 0x00400000,
  regs: REGS,
  // PSW32 user bits: DAT|IO|EXT, MCHECK|PSTATE, BASE (arch/s390/include/asm/compat.h PSW32_USER_BITS; docs/semantics.md §15.2), primary ASC
  userPswMask: 0x070d0000n,
  amode31: true,
  tlsRegisters: ['acr0'],
  // CLONE_SETTLS on a 31-bit task: a0 = r6
  setTls(regs, _extra, tls) {
    acr0.set(regs, tls);
    return 0;
  },
  syscalls: S390_SYSCALLS,
});
