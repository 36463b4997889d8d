/**
 * What i386 and x86_64 share: negative-errno returns in ax, orig_ax holding
 * the syscall number for restart, a 2-byte trap instruction, and the FXSAVE
 * FPU image (docs/semantics.md §15).
 */
import type { Arch, RegLayout, SyscallAbi } from '../arch.js';
import { MAX_ERRNO } from '../../abi/errno.js';
import { accessor, copyReg } from '../reg-access.js';

/** X86Spec is what differs between the two x86 ABIs; the family supplies the behaviour. */
export interface X86Spec extends Omit<Arch, 'family' | 'littleEndian' | 'getPc' | 'setPc' | 'enterSyscall' | 'syscallNumber' | 'setReturn' | 'readReturn' | 'restartSyscall' | 'childReturn' | 'initialRegs' | 'setTls'> {
  readonly userSelectors: Readonly<Record<string, number>>;
  /** the `syscall` instruction saves the return address in cx and flags in r11 */
  readonly clobbersOnEntry: boolean;
  readonly setTls: Arch['setTls'];
}

/** X86_USER_FLAGS: IF set plus the always-one bit 1, the flags a user task runs with. */
const X86_USER_FLAGS = 0x202;

/** makeX86Arch builds an Arch for one x86 ABI from its layout facts. */
export function makeX86Arch(spec: X86Spec): Arch {
  const le = true;
  const layout: RegLayout = spec.regs;
  const abi: SyscallAbi = spec.syscall;
  const ax = accessor(layout, le, 'ax');
  const origAx = accessor(layout, le, 'orig_ax');
  const ip = accessor(layout, le, 'ip');
  const sp = accessor(layout, le, 'sp');
  const flags = accessor(layout, le, 'flags');
  const cx = spec.clobbersOnEntry ? accessor(layout, le, 'cx') : undefined;
  const r11 = spec.clobbersOnEntry ? accessor(layout, le, 'r11') : undefined;
  const selectors = Object.entries(spec.userSelectors).map(([name, v]) => [accessor(layout, le, name), v] as const);
  const insn = abi.insnSize;
  return {
    ...spec,
    family: 'x86',
    littleEndian: le,
    initialRegs(pc, stackPointer) {
      const bytes = new Uint8Array(layout.size);
      const dv = new DataView(bytes.buffer);
      for (const [acc, v] of selectors) acc.set(dv, v);
      flags.set(dv, X86_USER_FLAGS);
      origAx.set(dv, -1); // not in a syscall
      ip.set(dv, pc);
      sp.set(dv, stackPointer);
      return bytes;
    },
    getPc: (dv) => ip.get(dv),
    setPc: (dv, pc) => ip.set(dv, pc),
    enterSyscall(dv) {
      copyReg(dv, ax, origAx);
      ip.set(dv, ip.get(dv) + insn);
      if (cx && r11) {
        copyReg(dv, ip, cx);
        copyReg(dv, flags, r11);
      }
    },
    // orig_ax keeps the number; only its low 32 bits select the table entry.
    syscallNumber: (dv) => origAx.low32(dv),
    setReturn: (dv, value) => ax.set(dv, value),
    readReturn(dv) {
      const v = ax.signed(dv);
      if (v < 0 && v >= -MAX_ERRNO) return { ret: -1, errno: -v };
      return { ret: v, errno: 0 };
    },
    restartSyscall(dv) {
      copyReg(dv, origAx, ax);
      ip.set(dv, ip.get(dv) - insn);
    },
    childReturn: (dv) => ax.set(dv, 0),
    setTls: spec.setTls,
  };
}
