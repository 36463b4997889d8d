/**
 * Libc is the C library of one task: one method per syscall, named as the
 * syscall, arguments in C order. Structs are plain objects with the C field
 * names, arrays are arrays, and a number where a pointer is expected is
 * passed as that address (0 is NULL). Each call marshals its arguments into
 * the task's registers and, for structs and arrays, onto its stack below the
 * stack pointer, in the task's byte order; enters the kernel through the
 * ABI's trap; and reads the result back through the ABI's return
 * convention (-errno, or CR0.SO with a positive errno on powerpc).
 *
 * Like a function call, a call preserves the caller's context: the
 * registers and the stack bytes used for marshalling are put back
 * afterwards, so a call that fails leaves the host exactly as it was.
 * A Libc may instead be given an argument window of its own: a mapping of
 * ARGUMENT_WINDOW bytes the caller made (a restorer's MAP_SHARED mapping,
 * which its forked children write in place rather than copy on write).
 */
import type { SyscallName } from '../abi/syscall-names.js';
import { errnoName, type ErrnoName } from '../abi/errno.js';
import type { Clone3Args, EcloneArgs } from '../abi/clone-args.js';
import { CLONE3_ARGS, CLONE_ARGS_SIZE_KERNEL, ECLONE_ARGS } from '../abi/clone-args.js';
import { abiRegisters } from '../arch/reg-access.js';
import { writeBig } from '../arch/byte-order.js';
import type { Arch } from '../arch/arch.js';
import { isKernelError } from '../kernel/kernel-error.js';
import type { HostState } from '../kernel/host-state.js';
import type { Task } from '../kernel/task.js';

/** SyscallResult is what a call returns: ret (-1 on error) and the errno name; `child` for fork-type calls; `blocked` when the task now sleeps in the call. */
export interface SyscallResult {
  ret: number;
  errno?: ErrnoName;
  child?: Task;
  blocked?: true;
}

/** The host side a C library needs: the kernel state and the trap. */
export interface LibcHost extends HostState {
  syscall(task: Task): void;
}

/** UserFault is a user-mode access to unmapped or protected memory: SIGSEGV for a real program. */
export class UserFault extends Error {
  override readonly name = 'UserFault';
}

/** Where marshalled arguments go by default: a window below the stack pointer, clear of any red zone or ABI frame. */
const SCRATCH_TOP_GAP = 512;
const SCRATCH_SIZE = 8192;

/** The size of an argument window given to a Libc: what the stack window holds. */
export const ARGUMENT_WINDOW = SCRATCH_SIZE;

/** Scratch places argument bytes in a window of SCRATCH_SIZE bytes from `low` and can put the original bytes back. */
class Scratch {
  private next: number;
  private readonly writes: Array<{ addr: number; original: Uint8Array }> = [];

  constructor(
    private readonly task: Task,
    private readonly low: number,
  ) {
    this.next = low;
  }

  /** put copies bytes into the window and returns their address. */
  put(bytes: Uint8Array, align = 8): number {
    const addr = Math.ceil(this.next / align) * align;
    if (addr + bytes.length > this.low + SCRATCH_SIZE) throw new RangeError(`libc: ${bytes.length} bytes of arguments do not fit the marshalling window`);
    this.next = addr + bytes.length;
    try {
      this.writes.push({ addr, original: this.task.mm.read(addr, bytes.length) });
      this.task.mm.write(addr, bytes);
    } catch (e) {
      if (isKernelError(e)) throw new UserFault(`libc: cannot marshal arguments below the stack pointer at ${addr}: ${e.detail}`);
      throw e;
    }
    return addr;
  }

  /** reserve places `len` zero bytes (an output buffer). */
  reserve(len: number, align = 8): number {
    return this.put(new Uint8Array(len), align);
  }

  read(addr: number, len: number): Uint8Array {
    return this.task.mm.read(addr, len);
  }

  restore(): void {
    for (const w of this.writes.reverse()) this.task.mm.write(w.addr, w.original);
  }
}

interface PendingCall {
  name: SyscallName;
  scratch: Scratch;
  savedRegs: Uint8Array;
  savedExtra: Record<string, Uint8Array>;
  after: ((r: SyscallResult) => void) | undefined;
}

type Pointer<T> = T | number;

const FORK_TYPES = new Set<SyscallName>(['fork', 'clone', 'eclone', 'clone3']);

/** cloneRegisterOrder permutes clone's generic (flags, stack, parent_tid, child_tid, tls) into the ABI's argument order (docs/semantics.md §6.4). */
export function cloneRegisterOrder(abi: Arch, [flags, stack, ptid, ctid, tls]: readonly number[]): number[] {
  switch (abi.syscall.cloneOrder) {
    case 'default':
      return [flags!, stack!, ptid!, ctid!, tls!];
    case 'backwards':
      return [flags!, stack!, ptid!, tls!, ctid!];
    case 'backwards2':
      return [stack!, flags!, ptid!, ctid!, tls!];
  }
}

/** int32s lays out C ints in an ABI's byte order. */
export function int32s(abi: Arch, values: readonly number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setInt32(i * 4, v | 0, abi.littleEndian));
  return b;
}

function putU64(b: Uint8Array, offset: number, le: boolean, v: bigint | number | undefined): void {
  if (v !== undefined) writeBig(b, offset, 8, le, BigInt(v));
}

function putU32(b: Uint8Array, offset: number, le: boolean, v: number | undefined): void {
  if (v !== undefined) writeBig(b, offset, 4, le, BigInt(v));
}

/** The C library of each task: one per task, since a call blocked in it is resumed through the same one. */
const libraries = new WeakMap<Task, Libc>();

/** libcOf returns the C library of `task` on `host`: one method per syscall, arguments in C order. */
export function libcOf(host: LibcHost, task: Task): Libc {
  let l = libraries.get(task);
  if (!l || !l.servesHost(host)) {
    l = new Libc(host, task);
    libraries.set(task, l);
  }
  return l;
}

export class Libc {
  private pending: PendingCall | null = null;
  /** the caller's registers while a call runs: one buffer per library, as calls never overlap (a blocked one must be resumed first), since a copy per call costs a malloc and a free */
  private savedRegs: Uint8Array | null = null;

  constructor(
    private readonly host: LibcHost,
    readonly task: Task,
    /** where calls marshal structs and arrays: ARGUMENT_WINDOW bytes from this address, or (undefined) below the stack pointer */
    private readonly window?: number,
  ) {}

  /** servesHost reports whether this library enters `host`'s kernel. */
  servesHost(host: LibcHost): boolean {
    return this.host === host;
  }

  private get abi(): Arch {
    return this.task.abi;
  }


  /** call marshals `args` into registers, traps, and reads the result. */
  private call(name: SyscallName, args: readonly number[], prepare?: (s: Scratch) => readonly number[], after?: (r: SyscallResult) => void): SyscallResult {
    if (this.pending) throw new RangeError(`libc: task ${this.task.pid.nr} is blocked in ${this.pending.name}; call resume() first`);
    const t = this.task;
    const abi = this.abi;
    const regsNow = t.regs;
    let savedRegs = this.savedRegs;
    if (savedRegs === null || savedRegs.length !== regsNow.length) savedRegs = this.savedRegs = new Uint8Array(regsNow.length);
    savedRegs.set(regsNow);
    const savedExtra: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(t.extra)) savedExtra[k] = v.slice();
    const regs = abiRegisters(abi);
    const scratch = new Scratch(t, this.window ?? Math.floor((regs.sp.get(t.dv) - SCRATCH_TOP_GAP - SCRATCH_SIZE) / 16) * 16);
    const values = prepare ? prepare(scratch) : args;
    const dv = t.dv;
    regs.nr.set(dv, abi.syscalls[name]);
    values.forEach((v, i) => regs.args[i]!.set(dv, v));
    this.host.syscall(t);
    return this.finish({ name, scratch, savedRegs, savedExtra, after });
  }

  private finish(p: PendingCall): SyscallResult {
    const t = this.task;
    if (t.blockedIn) {
      this.pending = p;
      return { ret: -1, blocked: true };
    }
    this.pending = null;
    if (t.exited) return { ret: 0 };
    const { ret, errno } = this.abi.readReturn(t.dv);
    const result: SyscallResult = { ret };
    if (errno !== 0) result.errno = errnoName(errno) ?? 'EINVAL';
    else if (FORK_TYPES.has(p.name)) {
      // A fork-type call returns the child's pid as its caller's namespace sees it (pid_vnr): that names the child.
      const child = t.activeNs.pids.get(ret)?.task;
      if (child) result.child = child;
    }
    p.after?.(result);
    p.scratch.restore();
    t.regs.set(p.savedRegs);
    for (const [k, v] of Object.entries(p.savedExtra)) t.extra[k]!.set(v);
    return result;
  }

  /** resume re-executes the call this task is blocked in (its registers hold the restart state) and returns its result. */
  resume(): SyscallResult {
    const p = this.pending;
    if (!p) throw new RangeError(`libc: task ${this.task.pid.nr} is not blocked in a call`);
    this.pending = null;
    this.host.syscall(this.task);
    return this.finish(p);
  }

  /** isBlocked reports whether a call of this task is waiting for resume(). */
  get isBlocked(): boolean {
    return this.pending !== null;
  }

  // --- user-mode memory access (a program's loads and stores) ---

  /** store writes bytes at `addr` as the program would; throws UserFault where the program would get SIGSEGV. */
  store(addr: number, bytes: Uint8Array): void {
    try {
      this.task.mm.write(addr, bytes);
    } catch (e) {
      if (isKernelError(e)) throw new UserFault(`store at ${addr}: ${e.detail}`);
      throw e;
    }
  }

  /** load reads bytes at `addr` as the program would. */
  load(addr: number, len: number): Uint8Array {
    try {
      return this.task.mm.read(addr, len);
    } catch (e) {
      if (isKernelError(e)) throw new UserFault(`load at ${addr}: ${e.detail}`);
      throw e;
    }
  }

  /** storeInt32 / loadInt32 store and load a C int in the task's byte order. */
  storeInt32(addr: number, value: number): void {
    this.store(addr, int32s(this.abi, [value]));
  }

  loadInt32(addr: number): number {
    const b = this.load(addr, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, this.abi.littleEndian);
  }

  // --- syscalls ---

  getpid(): SyscallResult {
    return this.call('getpid', []);
  }
  getppid(): SyscallResult {
    return this.call('getppid', []);
  }
  gettid(): SyscallResult {
    return this.call('gettid', []);
  }
  getpgid(pid: number): SyscallResult {
    return this.call('getpgid', [pid]);
  }
  getpgrp(): SyscallResult {
    return this.call('getpgrp', []);
  }
  getsid(pid: number): SyscallResult {
    return this.call('getsid', [pid]);
  }
  setsid(): SyscallResult {
    return this.call('setsid', []);
  }
  setpgid(pid: number, pgid: number): SyscallResult {
    return this.call('setpgid', [pid, pgid]);
  }
  getuid(): SyscallResult {
    return this.call('getuid', []);
  }
  setuid(uid: number): SyscallResult {
    return this.call('setuid', [uid]);
  }
  sched_yield(): SyscallResult {
    return this.call('sched_yield', []);
  }
  fork(): SyscallResult {
    return this.call('fork', []);
  }
  unshare(flags: number): SyscallResult {
    return this.call('unshare', [flags]);
  }
  setns(fd: number, nstype: number): SyscallResult {
    return this.call('setns', [fd, nstype]);
  }
  pidfd_open(pid: number, flags: number): SyscallResult {
    return this.call('pidfd_open', [pid, flags]);
  }
  exit(status: number): SyscallResult {
    return this.call('exit', [status]);
  }
  exit_group(status: number): SyscallResult {
    return this.call('exit_group', [status]);
  }
  kill(pid: number, sig: number): SyscallResult {
    return this.call('kill', [pid, sig]);
  }
  munmap(addr: number, length: number): SyscallResult {
    return this.call('munmap', [addr, length]);
  }
  close(fd: number): SyscallResult {
    return this.call('close', [fd]);
  }

  /** clone(flags, stack, parent_tid, child_tid, tls) in the generic order; the library permutes it for the ABI (docs/semantics.md §6.4). */
  clone(flags: number, stack: number, parent_tid: number, child_tid: number, tls: number): SyscallResult {
    return this.call('clone', cloneRegisterOrder(this.abi, [flags, stack, parent_tid, child_tid, tls]));
  }

  /** eclone(flags_low, clone_args, args_size, pids): the v13 interface; pids[] oldest level first. */
  eclone(flags_low: number, clone_args: Pointer<EcloneArgs>, args_size: number, pids: Pointer<readonly number[]>): SyscallResult {
    const le = this.abi.littleEndian;
    const [f, c, s, p] = this.abi.syscall.ecloneArgs;
    return this.call('eclone', [], (scratch) => {
      const regs = [0, 0, 0, 0, 0, 0];
      regs[f] = flags_low;
      regs[s] = args_size;
      regs[c] = typeof clone_args === 'number' ? clone_args : scratch.put(encodeEcloneArgs(clone_args, le));
      regs[p] = typeof pids === 'number' ? pids : pids.length === 0 ? 0 : scratch.put(int32s(this.abi, pids), 4);
      return regs;
    });
  }

  /** clone3(clone_args, size); `set_tid` may be an array (innermost level first), its size defaulting to its length. */
  clone3(clone_args: Pointer<Omit<Clone3Args, 'set_tid'> & { set_tid?: readonly number[] | bigint | number }>, size: number): SyscallResult {
    const le = this.abi.littleEndian;
    return this.call('clone3', [], (scratch) => {
      if (typeof clone_args === 'number') return [clone_args, size];
      const { set_tid, ...rest } = clone_args;
      const fields: Clone3Args = { ...rest };
      if (Array.isArray(set_tid)) {
        fields.set_tid = set_tid.length === 0 ? 0 : scratch.put(int32s(this.abi, set_tid), 4);
        if (fields.set_tid_size === undefined) fields.set_tid_size = set_tid.length;
      } else if (set_tid !== undefined) {
        fields.set_tid = set_tid as bigint | number;
      }
      return [scratch.put(encodeClone3Args(fields, size, le)), size];
    });
  }

  /** wait4(pid, status, options, rusage): an array for `status` receives the status at index 0. */
  wait4(pid: number, status: Pointer<number[]>, options: number, rusage: number): SyscallResult {
    let statusAddr = 0;
    return this.call(
      'wait4',
      [],
      (scratch) => {
        statusAddr = typeof status === 'number' ? status : scratch.reserve(4, 4);
        return [pid, statusAddr, options, rusage];
      },
      (r) => {
        if (Array.isArray(status) && r.ret > 0) status[0] = this.readInt(statusAddr);
      },
    );
  }

  /** mmap(addr, length, prot, flags, fd, offset) through the ABI's convention (registers, mmap2 page offset, or s390's struct). */
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): SyscallResult {
    const abi = this.abi;
    return this.call('mmap', [], (scratch) => {
      if (abi.syscall.mmap === 'struct') {
        const b = new Uint8Array(6 * abi.wordSize);
        [addr, length, prot, flags, fd, offset].forEach((v, i) => writeBig(b, i * abi.wordSize, abi.wordSize, abi.littleEndian, BigInt(v)));
        return [scratch.put(b)];
      }
      return [addr, length, prot, flags, fd, abi.syscall.mmap === 'regs-pgoff' ? Math.floor(offset / abi.pageSize) : offset];
    });
  }

  /** open(path, flags, mode): `path` as a string is placed NUL-terminated on the stack. */
  open(path: Pointer<string>, flags: number, mode = 0): SyscallResult {
    return this.call('open', [], (scratch) => [typeof path === 'number' ? path : scratch.put(new TextEncoder().encode(`${path}\0`), 1), flags, mode]);
  }

  /** read(fd, buf, count): a Uint8Array `buf` receives the bytes read. */
  read(fd: number, buf: Pointer<Uint8Array>, count: number): SyscallResult {
    let addr = 0;
    return this.call(
      'read',
      [],
      (scratch) => {
        addr = typeof buf === 'number' ? buf : scratch.reserve(count, 1);
        return [fd, addr, count];
      },
      (r) => {
        if (typeof buf !== 'number' && r.ret > 0) buf.set(this.task.mm.read(addr, r.ret));
      },
    );
  }

  /** write(fd, buf, count): `buf` may be bytes or a string; count defaults to its length. */
  write(fd: number, buf: Pointer<Uint8Array | string>, count?: number): SyscallResult {
    const bytes = typeof buf === 'string' ? new TextEncoder().encode(buf) : buf;
    return this.call('write', [], (scratch) => [fd, typeof bytes === 'number' ? bytes : scratch.put(bytes, 1), count ?? (typeof bytes === 'number' ? 0 : bytes.length)]);
  }

  /** capget(hdr, data): `data` as an array receives two {effective, permitted, inheritable} objects. */
  capget(hdr: Pointer<{ version: number; pid: number }>, data: Pointer<Array<{ effective: number; permitted: number; inheritable: number }>>): SyscallResult {
    let dataAddr = 0;
    return this.call(
      'capget',
      [],
      (scratch) => {
        dataAddr = typeof data === 'number' ? data : scratch.reserve(24, 4);
        return [typeof hdr === 'number' ? hdr : scratch.put(this.capHeader(hdr), 4), dataAddr];
      },
      (r) => {
        if (typeof data === 'number' || r.ret !== 0) return;
        const b = this.task.mm.read(dataAddr, 24);
        const dv = new DataView(b.buffer);
        const le = this.abi.littleEndian;
        data.length = 0;
        for (let i = 0; i < 2; i++) data.push({ effective: dv.getUint32(i * 12, le), permitted: dv.getUint32(i * 12 + 4, le), inheritable: dv.getUint32(i * 12 + 8, le) });
      },
    );
  }

  /** capset(hdr, data): data is two {effective, permitted, inheritable} (low and high capability words). */
  capset(hdr: Pointer<{ version: number; pid: number }>, data: Pointer<ReadonlyArray<{ effective: number; permitted: number; inheritable: number }>>): SyscallResult {
    return this.call('capset', [], (scratch) => {
      let dataAddr: number;
      if (typeof data === 'number') dataAddr = data;
      else {
        const b = new Uint8Array(24);
        const le = this.abi.littleEndian;
        data.slice(0, 2).forEach((d, i) => {
          putU32(b, i * 12, le, d.effective);
          putU32(b, i * 12 + 4, le, d.permitted);
          putU32(b, i * 12 + 8, le, d.inheritable);
        });
        dataAddr = scratch.put(b, 4);
      }
      return [typeof hdr === 'number' ? hdr : scratch.put(this.capHeader(hdr), 4), dataAddr];
    });
  }

  private capHeader(hdr: { version: number; pid: number }): Uint8Array {
    const b = new Uint8Array(8);
    putU32(b, 0, this.abi.littleEndian, hdr.version >>> 0);
    putU32(b, 4, this.abi.littleEndian, hdr.pid >>> 0);
    return b;
  }

  private readInt(addr: number): number {
    const b = this.task.mm.read(addr, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, this.abi.littleEndian);
  }
}

/** encodeEcloneArgs lays out eclone's 48-byte struct clone_args in the task's byte order. */
export function encodeEcloneArgs(a: EcloneArgs, le: boolean): Uint8Array {
  const b = new Uint8Array(ECLONE_ARGS.size);
  putU64(b, ECLONE_ARGS.clone_flags_high, le, a.clone_flags_high);
  putU64(b, ECLONE_ARGS.child_stack, le, a.child_stack);
  putU64(b, ECLONE_ARGS.child_stack_size, le, a.child_stack_size);
  putU64(b, ECLONE_ARGS.parent_tid_ptr, le, a.parent_tid_ptr);
  putU64(b, ECLONE_ARGS.child_tid_ptr, le, a.child_tid_ptr);
  putU32(b, ECLONE_ARGS.nr_pids, le, a.nr_pids);
  putU32(b, ECLONE_ARGS.reserved0, le, a.reserved0);
  return b;
}

/** encodeClone3Args lays out clone3's struct clone_args, `size` bytes long (zero past the kernel's 88). */
export function encodeClone3Args(a: Clone3Args, size: number, le: boolean): Uint8Array {
  const full = new Uint8Array(Math.max(size, CLONE_ARGS_SIZE_KERNEL));
  for (const [name, offset] of Object.entries(CLONE3_ARGS)) putU64(full, offset, le, a[name as keyof Clone3Args]);
  return full.slice(0, size);
}
