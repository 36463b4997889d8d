/**
 * The one interface behind which the six ABIs differ: word size and byte
 * order, the general register set and FPU state in their real layouts
 * (docs/semantics.md §15.2), the syscall ABI, syscall numbers and the compat
 * relation. Only src/arch switches on an architecture.
 */
import type { SyscallName } from '../abi/syscall-names.js';

/** ArchName names one of the six modelled ABIs. */
export type ArchName = 'i386' | 'x86_64' | 's390' | 's390x' | 'ppc' | 'ppc64';
export type ArchFamily = 'x86' | 's390' | 'powerpc';

/** RegField is one field of a register set: byte offset and size within the set. */
export interface RegField {
  readonly name: string;
  readonly offset: number;
  readonly size: 1 | 2 | 4 | 8 | 10 | 16;
}

/** RegLayout is a register set as PTRACE_GETREGSET returns it (the ELF note's bytes). */
export interface RegLayout {
  /** the ELF note or C struct this layout mirrors */
  readonly mirrors: string;
  readonly size: number;
  readonly fields: readonly RegField[];
  /** pad and zero slots: written as 0, and must read as 0 */
  readonly zero: readonly string[];
}

/** CloneOrder is clone(2)'s raw argument order (arch/Kconfig CLONE_BACKWARDS*; docs/semantics.md §6.4). */
export type CloneOrder = 'default' | 'backwards' | 'backwards2';

/** How an arch passes mmap's six arguments: in registers, in registers with a page offset, or as a struct in memory. */
export type MmapConvention = 'regs' | 'regs-pgoff' | 'struct';

/** SyscallAbi describes how a task enters the kernel and how results come back. */
export interface SyscallAbi {
  /** the trapping instruction and its length in bytes (the restart distance) */
  readonly instruction: string;
  readonly insnSize: number;
  /** register holding the syscall number */
  readonly nr: string;
  /** registers holding arguments 1..6 */
  readonly args: readonly [string, string, string, string, string, string];
  /** register holding the result */
  readonly ret: string;
  /** 'negative': -errno in ret; 'cr0-so': +errno in ret and CR0.SO set */
  readonly error: 'negative' | 'cr0-so';
  readonly cloneOrder: CloneOrder;
  /** which argument slots carry eclone's (flags_low, cargs, args_size, pids) */
  readonly ecloneArgs: readonly [number, number, number, number];
  /** which argument slot clone's copy_thread reads the TLS value from */
  readonly cloneTlsArg: number;
  readonly mmap: MmapConvention;
}

/** Arch is everything the model needs to know about one ABI. */
export interface Arch {
  readonly name: ArchName;
  readonly family: ArchFamily;
  readonly wordSize: 4 | 8;
  readonly littleEndian: boolean;
  readonly pageSize: number;
  readonly elfMachine: number;
  /** first address user space cannot use (access_ok limit) */
  readonly taskSize: number;
  /** where a new address space puts its stack top and its first mmap */
  readonly stackTop: number;
  readonly mmapBase: number;
  /** where program text is mapped */
  readonly textBase: number;
  readonly regs: RegLayout;
  /** the FPU state as the task keeps it */
  readonly fpu: RegLayout;
  /** extra per-task state that is not in the general registers (name → size) */
  readonly extraState: Readonly<Record<string, number>>;
  readonly pcRegister: string;
  readonly spRegister: string;
  /** the register(s) holding the thread pointer, for documentation and inspection */
  readonly tlsRegisters: readonly string[];
  readonly syscall: SyscallAbi;
  readonly syscalls: Readonly<Record<SyscallName, number>>;
  /** the 32-bit ABI this arch runs as compat tasks, if any (docs/semantics.md §15.7) */
  readonly compat?: ArchName;
  /** compatFixup rewrites kernel-controlled fields of this 32-bit ABI's registers for a compat task on its 64-bit host (docs/semantics.md §15.7) */
  readonly compatFixup?: (regs: DataView, extra: Record<string, Uint8Array>) => void;
  /** syscalls a compat task of this arch's `compat` ABI cannot make here */
  readonly compatMissing?: readonly SyscallName[];

  /** initialRegs returns a user-mode register set with pc and sp set and every kernel-controlled field at its user value. */
  initialRegs(pc: number, sp: number): Uint8Array;
  /** initialFpu returns the FPU state of a task that has not used the FPU yet (its init values). */
  initialFpu(): Uint8Array;
  /** getPc and setPc read and write the instruction address (hiding s390's addressing-mode bit). */
  getPc(regs: DataView): number;
  setPc(regs: DataView, pc: number): void;
  /** enterSyscall applies what the trap and kernel entry do to the registers (pc past the instruction, orig_* saved, clobbers). */
  enterSyscall(regs: DataView, extra: Record<string, Uint8Array>): void;
  /** syscallNumber reads the number the kernel dispatches on, after entry. */
  syscallNumber(regs: DataView, extra: Record<string, Uint8Array>): number;
  /** setReturn writes a syscall result: value >= 0, or -errno. */
  setReturn(regs: DataView, value: number): void;
  /** readReturn is the C library's view of the result: ret, or -1 and errno. */
  readReturn(regs: DataView): { ret: number; errno: number };
  /** restartSyscall puts a task that blocked in a syscall back in front of the trap, arguments restored (docs/semantics.md §15.5). */
  restartSyscall(regs: DataView, extra: Record<string, Uint8Array>): void;
  /** childReturn sets what a new child sees: a zero result (and CR0.SO clear on powerpc). */
  childReturn(regs: DataView): void;
  /** setTls installs a thread pointer for CLONE_SETTLS; returns an errno number or 0. */
  setTls(regs: DataView, extra: Record<string, Uint8Array>, tls: number, readUser: (addr: number, len: number) => Uint8Array): number;
}
