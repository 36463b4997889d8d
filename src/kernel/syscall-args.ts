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

/** syscallArgs builds the argument reader for a task's registers. */
export function syscallArgs(abi: Arch, dv: DataView): SyscallArgs {
  const regs = argRegisters(abi);
  return {
    word: (i) => regs[i]!.get(dv),
    int: (i) => regs[i]!.low32(dv) | 0,
    u32: (i) => regs[i]!.low32(dv),
  };
}
