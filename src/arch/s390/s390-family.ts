/**
 * What s390 (31-bit) and s390x share: `svc 0` with the number in r1 and
 * arguments in r2..r7, -errno in r2, orig_gpr2 keeping the first argument
 * for restart, the svc number kept apart (NT_S390_SYSTEM_CALL), clone in
 * CLONE_BACKWARDS2 order, and the 136-byte FP register set
 * (docs/semantics.md §15).
 */
import type { Arch, RegLayout } from '../arch.js';
import { MAX_ERRNO } from '../../abi/errno.js';
import { accessor, copyReg } from '../reg-access.js';
import { fieldRun } from '../register-file.js';
import { writeBig } from '../byte-order.js';

/** S390_FP_LAYOUT mirrors s390_fp_regs: fpc, pad, 16 FPRs (both widths). */
export const S390_FP_LAYOUT: RegLayout = {
  mirrors: 's390_fp_regs (136 bytes)',
  size: 136,
  fields: [
    { name: 'fpc', offset: 0, size: 4 },
    { name: 'pad', offset: 4, size: 4 },
    ...fieldRun('fpr', 16, 8, 8, 8),
  ],
  zero: ['pad'],
};

/** S390Spec is what differs between the two s390 ABIs. */
export interface S390Spec extends Omit<Arch, 'family' | 'littleEndian' | 'fpu' | 'initialFpu' | 'extraState' | 'pcRegister' | 'spRegister' | 'syscall' | 'getPc' | 'setPc' | 'enterSyscall' | 'syscallNumber' | 'setReturn' | 'readReturn' | 'restartSyscall' | 'childReturn' | 'initialRegs' | 'setTls'> {
  /** the PSW mask a user task runs with */
  readonly userPswMask: bigint;
  /** 31-bit PSW addresses carry the addressing-mode bit 0x80000000 */
  readonly amode31: boolean;
  readonly setTls: Arch['setTls'];
}

const SVC_SIZE = 2;

/** makeS390Arch builds an Arch for one s390 ABI. */
export function makeS390Arch(spec: S390Spec): Arch {
  const le = false;
  const layout = spec.regs;
  const pswMask = layout.fields.find((f) => f.name === 'psw_mask');
  if (!pswMask) throw new RangeError('s390 layout without psw_mask');
  const addr = accessor(layout, le, 'psw_addr');
  const r1 = accessor(layout, le, 'gpr1');
  const r2 = accessor(layout, le, 'gpr2');
  const r15 = accessor(layout, le, 'gpr15');
  const orig = accessor(layout, le, 'orig_gpr2');
  const amode = spec.amode31 ? 0x80000000 : 0;
  const addrMask = spec.amode31 ? 0x7fffffff : Number.MAX_SAFE_INTEGER;
  const getPc = (dv: DataView): number => (spec.amode31 ? (addr.get(dv) & addrMask) >>> 0 : addr.get(dv));
  const setPc = (dv: DataView, pc: number): void => addr.set(dv, spec.amode31 ? ((pc & addrMask) | amode) >>> 0 : pc);
  const systemCall = (extra: Record<string, Uint8Array>): DataView => {
    const b = extra['system_call'];
    if (!b) throw new RangeError('s390 task without its system_call state');
    return new DataView(b.buffer, b.byteOffset, 4);
  };
  return {
    ...spec,
    family: 's390',
    littleEndian: le,
    fpu: S390_FP_LAYOUT,
    initialFpu: () => new Uint8Array(S390_FP_LAYOUT.size),
    extraState: { system_call: 4 },
    pcRegister: 'psw_addr',
    spRegister: 'gpr15',
    syscall: {
      instruction: 'svc 0',
      insnSize: SVC_SIZE,
      nr: 'gpr1',
      args: ['gpr2', 'gpr3', 'gpr4', 'gpr5', 'gpr6', 'gpr7'],
      ret: 'gpr2',
      error: 'negative',
      cloneOrder: 'backwards2',
      ecloneArgs: [0, 1, 2, 3],
      cloneTlsArg: 4, // r6
      mmap: 'struct', // old_mmap(struct mmap_arg_struct *)
    },
    initialRegs(pc, sp) {
      const bytes = new Uint8Array(layout.size);
      const dv = new DataView(bytes.buffer);
      writeBig(bytes, pswMask.offset, pswMask.size, le, spec.userPswMask);
      setPc(dv, pc);
      r15.set(dv, sp);
      return bytes;
    },
    getPc,
    setPc,
    enterSyscall(dv, extra) {
      // svc 0: the number comes from r1 and is kept as the interruption code.
      systemCall(extra).setUint32(0, r1.low32(dv), false);
      copyReg(dv, r2, orig);
      setPc(dv, getPc(dv) + SVC_SIZE);
    },
    syscallNumber: (_dv, extra) => systemCall(extra).getUint32(0, false),
    setReturn: (dv, value) => r2.set(dv, value),
    readReturn(dv) {
      const v = r2.signed(dv);
      if (v < 0 && v >= -MAX_ERRNO) return { ret: -1, errno: -v };
      return { ret: v, errno: 0 };
    },
    restartSyscall(dv) {
      copyReg(dv, orig, r2);
      setPc(dv, getPc(dv) - SVC_SIZE);
    },
    childReturn: (dv) => r2.set(dv, 0),
    setTls: spec.setTls,
  };
}

/** S390_SYSCALLS: one table for both widths (arch/s390/kernel/syscalls/syscall.tbl); eclone v13 = 332. */
export const S390_SYSCALLS: Arch['syscalls'] = {
  read: 3,
  write: 4,
  open: 5,
  close: 6,
  getpid: 20,
  getppid: 64,
  gettid: 236,
  getpgid: 132,
  getpgrp: 65,
  getsid: 147,
  setsid: 66,
  setpgid: 57,
  getuid: 199, // getuid32 on 31-bit, getuid on 64-bit
  setuid: 213, // setuid32 on 31-bit, setuid on 64-bit
  capget: 184,
  capset: 185,
  fork: 2,
  clone: 120,
  eclone: 332,
  clone3: 435,
  unshare: 303,
  setns: 339,
  pidfd_open: 434,
  exit: 1,
  exit_group: 248,
  wait4: 114,
  kill: 37,
  mmap: 90,
  munmap: 91,
  sched_yield: 158,
  nanosleep: 162,
};
