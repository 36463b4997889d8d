/**
 * s390x (z/Architecture): s390_regs, 216 bytes big-endian, 64-bit PSW;
 * runs 31-bit s390 tasks as compat (docs/semantics.md §15.2, §15.7).
 */
import type { Arch } from '../arch.js';
import { fieldRun } from '../register-file.js';
import { accessor } from '../reg-access.js';
import { makeS390Arch, S390_SYSCALLS } from './s390-family.js';

const REGS = {
  mirrors: 's390_regs (64-bit, 216 bytes)',
  size: 216,
  fields: [
    { name: 'psw_mask', offset: 0, size: 8 },
    { name: 'psw_addr', offset: 8, size: 8 },
    ...fieldRun('gpr', 16, 16, 8, 8),
    ...fieldRun('acr', 16, 144, 4, 4),
    { name: 'orig_gpr2', offset: 208, size: 8 },
  ],
  zero: [],
} as const;

const acr0 = accessor(REGS, false, 'acr0');
const acr1 = accessor(REGS, false, 'acr1');

export const S390X: Arch = makeS390Arch({
  name: 's390x',
  wordSize: 8,
  pageSize: 4096,
  elfMachine: 22, // EM_S390
  taskSize: 2 ** 53,
  stackTop: 0x3fffffff000,
  mmapBase: 0x3ff00000000,
  textBase: 0x80000000,
  regs: REGS,
  // DAT|IO|EXT, MCHECK|PSTATE, EA|BA (arch/s390/include/uapi/asm/ptrace.h PSW_MASK_*; docs/semantics.md §15.2)
  userPswMask: 0x0705000180000000n,
  amode31: false,
  tlsRegisters: ['acr0', 'acr1'],
  // CLONE_SETTLS on a 64-bit task: a0 = tls >> 32, a1 = (u32) tls
  setTls(regs, _extra, tls) {
    acr0.set(regs, Math.floor(tls / 2 ** 32));
    acr1.set(regs, tls >>> 0);
    return 0;
  },
  compat: 's390',
  syscalls: S390_SYSCALLS,
});
