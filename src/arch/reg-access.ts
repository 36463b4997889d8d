/**
 * Precompiled accessors for one register field: the syscall path reads and
 * writes a handful of registers per call, so each arch resolves their offsets
 * once, at definition time.
 */
import type { RegLayout } from './arch.js';
import { readLow32, readSigned, readUnsigned, writeWord } from './byte-order.js';
import { perAbi } from './per-abi.js';
import { fieldOf } from './register-file.js';

/** RegAccessor reads and writes one register field of a DataView over the register set. */
export interface RegAccessor {
  readonly offset: number;
  readonly size: number;
  get(dv: DataView): number;
  low32(dv: DataView): number;
  /** signed reads the field as a C `long` of its width (exact for values within ±2^53) */
  signed(dv: DataView): number;
  set(dv: DataView, value: number): void;
}

/** copyReg copies one register's bytes into another of the same size: exact for any value, unlike a get/set through a number. */
export function copyReg(dv: DataView, from: RegAccessor, to: RegAccessor): void {
  // A word at a time: every syscall entry copies two or three registers, and byte
  // by byte measured about 300 more instructions per eclone. Bytes keep their order either way.
  let i = 0;
  for (; i + 4 <= to.size; i += 4) dv.setUint32(to.offset + i, dv.getUint32(from.offset + i));
  for (; i < to.size; i++) dv.setUint8(to.offset + i, dv.getUint8(from.offset + i));
}

/** AbiRegisters are the compiled accessors of the registers the syscall path touches. */
export interface AbiRegisters {
  readonly nr: RegAccessor;
  readonly args: readonly RegAccessor[];
  readonly sp: RegAccessor;
}

/** abiRegisters returns an ABI's syscall-number, argument and stack-pointer accessors, compiled once per ABI. */
export const abiRegisters = perAbi((abi): AbiRegisters => {
  const le = abi.littleEndian;
  return {
    nr: accessor(abi.regs, le, abi.syscall.nr),
    args: abi.syscall.args.map((name) => accessor(abi.regs, le, name)),
    sp: accessor(abi.regs, le, abi.spRegister),
  };
});

/**
 * accessor compiles a RegAccessor for the named field of `layout`: closures
 * over the offset, size and byte order, which the JIT folds into each one
 * (measured: a class reading them from fields costs 350 more instructions
 * per eclone).
 */
export function accessor(layout: RegLayout, le: boolean, name: string): RegAccessor {
  const { offset, size } = fieldOf(layout, name);
  return {
    offset,
    size,
    get: (dv) => readUnsigned(dv, offset, size, le),
    low32: (dv) => readLow32(dv, offset, size, le),
    signed: (dv) => readSigned(dv, offset, size, le),
    set: (dv, value) => writeWord(dv, offset, size, le, value),
  };
}
