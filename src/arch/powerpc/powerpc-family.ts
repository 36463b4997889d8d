/**
 * What ppc and ppc64 share: `sc` with the number in r0 and arguments in
 * r3..r8; errors as a positive errno in r3 with CR0.SO set in ccr; restart
 * from orig_gpr3; clone in CLONE_BACKWARDS order; the 264-byte FP set
 * (docs/semantics.md §15).
 */
import type { Arch, RegLayout } from '../arch.js';
import { accessor, copyReg } from '../reg-access.js';
import { fieldRun } from '../register-file.js';
import { writeBig } from '../byte-order.js';

/** PPC_FP_LAYOUT mirrors elf_fpregset_t: 32 FPRs and FPSCR in a 33rd 8-byte slot. */
export const PPC_FP_LAYOUT: RegLayout = {
  mirrors: 'elf_fpregset_t (powerpc, 264 bytes)',
  size: 264,
  fields: [...fieldRun('fpr', 32, 0, 8, 8), { name: 'fpscr', offset: 256, size: 8 }],
  zero: [],
};

/** CR0_SO: the summary-overflow bit of CR field 0 as it sits in the saved ccr (oris rX,rX,0x1000). */
export const CR0_SO = 0x10000000;
/** TRAP_SC: pt_regs.trap for a syscall entered with `sc`. */
const TRAP_SC = 0xc00;
const SC_SIZE = 4;

/** PpcSpec is what differs between ppc and ppc64. */
export interface PpcSpec extends Omit<Arch, 'family' | 'littleEndian' | 'tlsRegisters' | 'fpu' | 'initialFpu' | 'extraState' | 'pcRegister' | 'spRegister' | 'syscall' | 'syscalls' | 'getPc' | 'setPc' | 'enterSyscall' | 'syscallNumber' | 'setReturn' | 'readReturn' | 'restartSyscall' | 'childReturn' | 'initialRegs' | 'setTls'> {
  readonly userMsr: bigint;
  /** the GPR that holds the thread pointer: r2 on ppc, r13 on ppc64 */
  readonly tlsGpr: string;
}

/** makePpcArch builds an Arch for one powerpc ABI. */
export function makePpcArch(spec: PpcSpec): Arch {
  const le = false;
  const layout = spec.regs;
  const msr = layout.fields.find((f) => f.name === 'msr');
  if (!msr) throw new RangeError('powerpc layout without msr');
  const nip = accessor(layout, le, 'nip');
  const r0 = accessor(layout, le, 'gpr0');
  const r1 = accessor(layout, le, 'gpr1');
  const r3 = accessor(layout, le, 'gpr3');
  const orig = accessor(layout, le, 'orig_gpr3');
  const ccr = accessor(layout, le, 'ccr');
  const trap = accessor(layout, le, 'trap');
  const tlsReg = accessor(layout, le, spec.tlsGpr);
  const setSo = (dv: DataView, on: boolean): void => {
    const c = ccr.low32(dv);
    ccr.set(dv, (on ? c | CR0_SO : c & ~CR0_SO) >>> 0);
  };
  return {
    ...spec,
    family: 'powerpc',
    littleEndian: le,
    fpu: PPC_FP_LAYOUT,
    initialFpu: () => new Uint8Array(PPC_FP_LAYOUT.size),
    extraState: {},
    pcRegister: 'nip',
    spRegister: 'gpr1',
    tlsRegisters: [spec.tlsGpr],
    syscall: {
      instruction: 'sc',
      insnSize: SC_SIZE,
      nr: 'gpr0',
      args: ['gpr3', 'gpr4', 'gpr5', 'gpr6', 'gpr7', 'gpr8'],
      ret: 'gpr3',
      error: 'cr0-so',
      cloneOrder: 'backwards',
      ecloneArgs: [0, 1, 2, 3],
      cloneTlsArg: 3, // r6
      mmap: 'regs',
    },
    syscalls: PPC_SYSCALLS,
    initialRegs(pc, sp) {
      const bytes = new Uint8Array(layout.size);
      const dv = new DataView(bytes.buffer);
      writeBig(bytes, msr.offset, msr.size, le, spec.userMsr);
      nip.set(dv, pc);
      r1.set(dv, sp);
      return bytes;
    },
    getPc: (dv) => nip.get(dv),
    setPc: (dv, pc) => nip.set(dv, pc),
    enterSyscall(dv) {
      copyReg(dv, r3, orig);
      trap.set(dv, TRAP_SC);
      nip.set(dv, nip.get(dv) + SC_SIZE);
      setSo(dv, false); // DoSyscall clears SO on entry
    },
    syscallNumber: (dv) => r0.low32(dv),
    setReturn(dv, value) {
      if (value < 0) {
        r3.set(dv, -value);
        setSo(dv, true);
      } else {
        r3.set(dv, value);
        setSo(dv, false);
      }
    },
    readReturn(dv) {
      if ((ccr.low32(dv) & CR0_SO) !== 0) return { ret: -1, errno: r3.low32(dv) };
      return { ret: r3.signed(dv), errno: 0 };
    },
    restartSyscall(dv) {
      copyReg(dv, orig, r3);
      nip.set(dv, nip.get(dv) - SC_SIZE);
    },
    childReturn(dv) {
      r3.set(dv, 0);
      setSo(dv, false);
    },
    // CLONE_SETTLS: gpr[2] (32-bit) or gpr[13] (64-bit) = gpr[6]
    setTls(regs, _extra, tls) {
      tlsReg.set(regs, tls);
      return 0;
    },
  };
}

/** PPC_SYSCALLS: one table for both widths (arch/powerpc/kernel/syscalls/syscall.tbl); eclone v13 = 323. */
export const PPC_SYSCALLS: Arch['syscalls'] = {
  read: 3,
  write: 4,
  open: 5,
  close: 6,
  getpid: 20,
  getppid: 64,
  gettid: 207,
  getpgid: 132,
  getpgrp: 65,
  getsid: 147,
  setsid: 66,
  setpgid: 57,
  getuid: 24,
  setuid: 23,
  capget: 183,
  capset: 184,
  fork: 2,
  clone: 120,
  eclone: 323,
  clone3: 435,
  unshare: 282,
  setns: 350,
  pidfd_open: 434,
  exit: 1,
  exit_group: 234,
  wait4: 114,
  kill: 37,
  mmap: 90,
  munmap: 91,
  sched_yield: 158,
  nanosleep: 162,
};

/** ppcRegs builds the 48-word elf_gregset_t layout for a word size (arch/powerpc/include/uapi/asm/ptrace.h; docs/semantics.md §15.2). */
export function ppcRegs(word: 4 | 8, mqName: 'mq' | 'softe'): RegLayout {
  const spr = ['nip', 'msr', 'orig_gpr3', 'ctr', 'link', 'xer', 'ccr', mqName, 'trap', 'dar', 'dsisr', 'result'];
  return {
    mirrors: `elf_gregset_t (powerpc ${word * 8}-bit, ${48 * word} bytes)`,
    size: 48 * word,
    fields: [
      ...fieldRun('gpr', 32, 0, word, word),
      ...spr.map((name, i) => ({ name, offset: (32 + i) * word, size: word })),
      ...fieldRun('zero', 4, 44 * word, word, word),
    ],
    zero: ['zero0', 'zero1', 'zero2', 'zero3'],
  };
}
