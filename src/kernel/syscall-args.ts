/**
 * SyscallArgs reads a syscall's arguments out of the caller's registers
 * through its ABI, with the kernel's type conversions: `word` is the full
 * unsigned long, `int` its low 32 bits signed, `u32` unsigned.
 */
import type { Arch } from '../arch/arch.js';
import { abiRegisters, type RegAccessor } from '../arch/reg-access.js';

export interface SyscallArgs {
  word(i: number): number;
  int(i: number): number;
  u32(i: number): number;
}

/** ArgReader reads one syscall's arguments; handlers use it during the call and never keep it. */
class ArgReader implements SyscallArgs {
  regs: readonly RegAccessor[] = [];
  dv: DataView = new DataView(new ArrayBuffer(0));
  word(i: number): number {
    return this.regs[i]!.get(this.dv);
  }
  int(i: number): number {
    return this.regs[i]!.low32(this.dv) | 0;
  }
  u32(i: number): number {
    return this.regs[i]!.low32(this.dv);
  }
}

/** The model kernel runs one syscall at a time, so one reader serves every call. */
const reader = new ArgReader();

/** syscallArgs points the argument reader at a task's registers. */
export function syscallArgs(abi: Arch, dv: DataView): SyscallArgs {
  reader.regs = abiRegisters(abi).args;
  reader.dv = dv;
  return reader;
}
