/**
 * SyscallArgs reads a syscall's arguments out of the caller's registers
 * through its ABI, with the kernel's type conversions: `word` is the full
 * unsigned long, `int` its low 32 bits signed, `u32` unsigned.
 */
import type { Arch } from '../arch/arch.js';
import { accessor, type RegAccessor } from '../arch/reg-access.js';

export interface SyscallArgs {
  word(i: number): number;
  int(i: number): number;
  u32(i: number): number;
}

const argAccessors = new WeakMap<Arch, RegAccessor[]>();

/** argRegisters returns the compiled accessors of an ABI's six argument registers. */
export function argRegisters(abi: Arch): RegAccessor[] {
  let acc = argAccessors.get(abi);
  if (!acc) {
    acc = abi.syscall.args.map((name) => accessor(abi.regs, abi.littleEndian, name));
    argAccessors.set(abi, acc);
  }
  return acc;
}

/** ArgReader reads one syscall's arguments; handlers use it during the call and never keep it. */
class ArgReader implements SyscallArgs {
  regs: RegAccessor[] = [];
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
  reader.regs = argRegisters(abi);
  reader.dv = dv;
  return reader;
}
