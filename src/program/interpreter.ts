/**
 * The interpreter runs one statement of a task's program per step, entirely
 * through the task's architecture: the program counter is the PC register,
 * variables are words in the data mapping in the task's byte order, and
 * every syscall is marshalled into the ABI's registers and entered through
 * the kernel's syscall path. A blocked syscall leaves the PC on its trap, so
 * the task can be checkpointed there and resumes by re-executing the trap.
 */
import type { Arch } from '../arch/arch.js';
import type { SyscallName } from '../abi/syscall-names.js';
import { MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { readSigned, writeBig, writeWord } from '../arch/byte-order.js';
import { abiRegisters } from '../arch/reg-access.js';
import { isKernelError } from '../kernel/kernel-error.js';
import type { HostState } from '../kernel/host-state.js';
import { deliver, FORCED } from '../kernel/signals.js';
import { TICK_NS } from '../kernel/time-syscalls.js';
import type { Task } from '../kernel/task.js';
import type { Arg, Expr, Stmt } from './ast.js';
import { SCRATCH_SIZE, SLOT, TEXT_SPAN, TRAP_OFFSET, type Compiled } from './compile.js';
import { cloneRegisterOrder, encodeClone3Args, encodeEcloneArgs, int32s } from './libc.js';

const SIGFPE = 8;
const SIGSEGV = 11;

export interface InterpreterHost extends HostState {
  syscall(task: Task): void;
}

/** StepResult says what one step did to the task. */
export type StepResult = 'ran' | 'blocked' | 'exited' | 'faulted';

/** dataBase is where a program's variables live: right above its text span. */
export function dataBase(abi: Arch): number {
  return abi.textBase + TEXT_SPAN;
}

function pageAlign(n: number, page: number): number {
  return Math.ceil(n / page) * page;
}

/** scratchBase is the marshalling area, after the variables. */
function scratchBase(abi: Arch, c: Compiled): number {
  return dataBase(abi) + pageAlign(c.slots.size * abi.wordSize, 64);
}

/** loadProgram is the model's execve: map the program text and a fresh data mapping, and start at `program`'s entry. */
export function loadProgram(task: Task, c: Compiled, program = 'main'): void {
  const abi = task.abi;
  const entry = c.entries.get(program);
  if (entry === undefined) throw new RangeError(`${c.path} has no program ${program}`);
  const page = abi.pageSize;
  task.mm.map(abi.textBase, pageAlign(c.length * SLOT, page), PROT_READ | PROT_EXEC, MAP_FIXED | MAP_PRIVATE, c.path);
  const dataSize = pageAlign(c.slots.size * abi.wordSize, 64) + SCRATCH_SIZE;
  task.mm.map(dataBase(abi), pageAlign(dataSize, page), PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE, '[data]');
  task.exePath = c.path;
  task.comm = program;
  abi.setPc(task.dv, abi.textBase + entry * SLOT);
}

/** A user-mode fault: the task gets SIGSEGV (or SIGFPE). */
class UserTrap extends Error {
  constructor(readonly signal: number) {
    super(`signal ${signal}`);
  }
}

function readWord(task: Task, addr: number): number {
  const abi = task.abi;
  let bytes: Uint8Array;
  try {
    bytes = task.mm.read(addr, abi.wordSize);
  } catch (e) {
    if (isKernelError(e)) throw new UserTrap(SIGSEGV);
    throw e;
  }
  return readSigned(new DataView(bytes.buffer), 0, abi.wordSize, abi.littleEndian);
}

function writeBytes(task: Task, addr: number, bytes: Uint8Array): void {
  try {
    task.mm.write(addr, bytes);
  } catch (e) {
    if (isKernelError(e)) throw new UserTrap(SIGSEGV);
    throw e;
  }
}

function wordBytes(abi: Arch, value: number): Uint8Array {
  const b = new Uint8Array(abi.wordSize);
  writeWord(new DataView(b.buffer), 0, abi.wordSize, abi.littleEndian, value);
  return b;
}

function varAddr(task: Task, c: Compiled, name: string): number {
  return dataBase(task.abi) + c.slots.get(name)! * task.abi.wordSize;
}

/** evaluate computes an expression with C's integer semantics on the task's word size. */
function evaluate(task: Task, c: Compiled, e: Expr): number {
  switch (e.kind) {
    case 'num':
    case 'const':
      return e.value;
    case 'var':
      return readWord(task, varAddr(task, c, e.name));
    case 'unary': {
      const v = evaluate(task, c, e.arg);
      return e.op === '-' ? -v : v === 0 ? 1 : 0;
    }
    case 'binary': {
      const a = evaluate(task, c, e.left);
      const b = evaluate(task, c, e.right);
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
        case '%':
          if (b === 0) throw new UserTrap(SIGFPE);
          return e.op === '/' ? Math.trunc(a / b) : a % b;
        case '|':
          return Number(BigInt.asIntN(64, BigInt(a) | BigInt(b)));
        case '&':
          return Number(BigInt.asIntN(64, BigInt(a) & BigInt(b)));
        case '==':
          return a === b ? 1 : 0;
        case '!=':
          return a !== b ? 1 : 0;
        case '<':
          return a < b ? 1 : 0;
        case '<=':
          return a <= b ? 1 : 0;
        case '>':
          return a > b ? 1 : 0;
        case '>=':
          return a >= b ? 1 : 0;
      }
    }
  }
}

/** hex renders %x: a value as unsigned hexadecimal, all its bits (an address above 4 GiB keeps its high bits); a negative one in two's complement of 32 bits, or 64 when it does not fit in 32. */
export function hex(v: number): string {
  if (v >= 0) return Number.isSafeInteger(v) ? v.toString(16) : BigInt(Math.trunc(v)).toString(16);
  return v >= -0x8000_0000 ? (v >>> 0).toString(16) : BigInt.asUintN(64, BigInt(Math.trunc(v))).toString(16);
}

/** format renders print's format with %d, %x and %%. */
export function format(fmt: string, values: number[]): string {
  let i = 0;
  return fmt.replace(/%([dx%])/g, (_, k: string) => (k === '%' ? '%' : k === 'd' ? String(values[i++]) : hex(values[i++]!)));
}

/** Scratch places marshalled bytes in the data mapping's scratch area, one statement at a time. */
class Scratch {
  private at: number;
  constructor(
    private readonly task: Task,
    base: number,
  ) {
    this.at = base;
  }
  put(bytes: Uint8Array): number {
    const addr = Math.ceil(this.at / 8) * 8;
    writeBytes(this.task, addr, bytes);
    this.at = addr + bytes.length;
    return addr;
  }
}

/** marshal turns a syscall statement's arguments into the ABI's argument registers, writing arrays and structs to scratch. */
function marshal(task: Task, c: Compiled, s: Extract<Stmt, { kind: 'syscall' }>): number[] {
  const abi = task.abi;
  const scratch = new Scratch(task, scratchBase(abi, c));
  const value = (a: Arg | undefined, sizeHint = 0): number => {
    if (!a) return 0;
    if (a.kind === 'value') return evaluate(task, c, a.expr);
    if (a.kind === 'array') return scratch.put(int32s(abi, a.items.map((x) => evaluate(task, c, x))));
    const fields = Object.fromEntries(a.fields.map((f) => [f.name, evaluate(task, c, f.expr)]));
    return scratch.put(s.name === 'eclone' ? encodeEcloneArgs(fields, abi.littleEndian) : encodeClone3Args(fields, sizeHint, abi.littleEndian));
  };
  const name = s.name as SyscallName;
  switch (name) {
    case 'clone':
      return cloneRegisterOrder(abi, s.args.map((a) => value(a)));
    case 'eclone': {
      const [f, cargs, size, pids] = abi.syscall.ecloneArgs;
      const regs = [0, 0, 0, 0, 0, 0];
      regs[f] = value(s.args[0]);
      regs[cargs] = value(s.args[1]);
      regs[size] = value(s.args[2]);
      regs[pids] = value(s.args[3]);
      return regs;
    }
    case 'clone3': {
      const size = value(s.args[1]);
      return [value(s.args[0], size), size];
    }
    case 'nanosleep': {
      const ns = value(s.args[0]) * TICK_NS;
      const ts = new Uint8Array(2 * abi.wordSize);
      writeBig(ts, 0, abi.wordSize, abi.littleEndian, BigInt(Math.floor(ns / 1e9)));
      writeBig(ts, abi.wordSize, abi.wordSize, abi.littleEndian, BigInt(ns % 1e9));
      return [scratch.put(ts), 0];
    }
    case 'mmap': {
      const vals = s.args.map((a) => value(a));
      if (abi.syscall.mmap === 'struct') return [scratch.put(Uint8Array.from(vals.flatMap((v) => [...wordBytes(abi, v)])))];
      if (abi.syscall.mmap === 'regs-pgoff') vals[5] = Math.floor(vals[5]! / abi.pageSize);
      return vals;
    }
    default:
      return s.args.map((a) => value(a));
  }
}

/** step runs the statement at the task's program counter; the PC names the statement and the phase within it. */
export function step(host: InterpreterHost, task: Task, c: Compiled): StepResult {
  try {
    return execute(host, task, c);
  } catch (e) {
    if (!(e instanceof UserTrap)) throw e;
    deliver(host, FORCED, task.group, e.signal);
    return 'faulted';
  }
}

function execute(host: InterpreterHost, task: Task, c: Compiled): StepResult {
  const abi = task.abi;
  const dv = task.dv;
  const offset = abi.getPc(dv) - abi.textBase;
  const index = Math.floor(offset / SLOT);
  const phase = offset - index * SLOT;
  const s = c.stmts[index];
  if (!s || offset < 0) throw new UserTrap(SIGSEGV);
  const base = abi.textBase + index * SLOT;
  const next = (): StepResult => {
    abi.setPc(dv, base + SLOT);
    return 'ran';
  };
  const jumpTo = (i: number): StepResult => {
    abi.setPc(dv, abi.textBase + i * SLOT);
    return 'ran';
  };
  if (s.kind === 'syscall' || s.kind === 'print') {
    if (phase === 0) {
      const name: SyscallName = s.kind === 'print' ? 'write' : (s.name as SyscallName);
      let regs: number[];
      if (s.kind === 'print') {
        const text = new TextEncoder().encode(format(s.format, s.args.map((a) => evaluate(task, c, a))));
        regs = [1, new Scratch(task, scratchBase(abi, c)).put(text), text.length];
      } else {
        regs = marshal(task, c, s);
      }
      const { nr, args } = abiRegisters(abi);
      nr.set(dv, abi.syscalls[name]);
      regs.forEach((v, i) => args[i]!.set(dv, v));
      abi.setPc(dv, base + TRAP_OFFSET);
    } else if (phase !== TRAP_OFFSET && phase !== TRAP_OFFSET + abi.syscall.insnSize) {
      throw new UserTrap(SIGSEGV);
    }
    if (abi.getPc(dv) === base + TRAP_OFFSET) {
      host.syscall(task);
      if (task.exited || !host.tasks.has(task)) return 'exited';
      if (task.blockedIn) return 'blocked';
    }
    // After the trap: collect the raw result (-errno on failure, as syscall(2) returns it).
    const { ret, errno } = abi.readReturn(dv);
    const result = errno !== 0 ? -errno : ret;
    if (s.kind === 'syscall') {
      if (s.target !== null) writeBytes(task, varAddr(task, c, s.target), wordBytes(abi, result));
      const start = c.jump[index]!;
      if (start >= 0 && result === 0) return jumpTo(start);
    }
    return next();
  }
  if (phase !== 0) throw new UserTrap(SIGSEGV);
  switch (s.kind) {
    case 'label':
      return next();
    case 'assign':
      writeBytes(task, varAddr(task, c, s.target), wordBytes(abi, evaluate(task, c, s.expr)));
      return next();
    case 'goto':
      return jumpTo(c.jump[index]!);
    case 'if':
      return evaluate(task, c, s.cond) !== 0 ? jumpTo(c.jump[index]!) : next();
    case 'load':
      writeBytes(task, varAddr(task, c, s.target), wordBytes(abi, readWord(task, evaluate(task, c, s.addr))));
      return next();
    case 'store':
      writeBytes(task, evaluate(task, c, s.addr), wordBytes(abi, evaluate(task, c, s.value)));
      return next();
  }
}
