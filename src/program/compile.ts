/**
 * compileWorkload lays a parsed workload out as program text: every
 * statement gets a 16-byte slot at textBase + 16·i, so the program counter
 * register names a statement exactly. Inside a syscall's slot, +0 is where
 * arguments are marshalled, +8 is the trap instruction, and +8 plus the
 * ABI's instruction size is where the result is collected: a task blocked
 * in a syscall sits on its trap, as a real one does.
 */
import type { SyscallName } from '../abi/syscall-names.js';
import { CLONE3_ARGS, ECLONE_ARGS } from '../abi/clone-args.js';
import type { Stmt, Workload } from './ast.js';
import { ParseError } from './parse.js';

export const SLOT = 16;
export const TRAP_OFFSET = 8;
/** Program text may use this much address space above textBase; the data mapping follows it. */
export const TEXT_SPAN = 0x100000;
/** Bytes of the data mapping set aside for marshalling arrays, structs and print output. */
export const SCRATCH_SIZE = 4096;

/** How many arguments each syscall takes in the language (C order). */
const ARITY: Record<SyscallName, number> = {
  read: 3,
  write: 3,
  open: 3,
  close: 1,
  getpid: 0,
  getppid: 0,
  gettid: 0,
  getpgid: 1,
  getpgrp: 0,
  getsid: 1,
  setsid: 0,
  setpgid: 2,
  getuid: 0,
  setuid: 1,
  capget: 2,
  capset: 2,
  fork: 0,
  clone: 5,
  eclone: 4,
  clone3: 2,
  unshare: 1,
  setns: 2,
  pidfd_open: 2,
  exit: 1,
  exit_group: 1,
  wait4: 4,
  kill: 2,
  mmap: 6,
  munmap: 2,
  sched_yield: 0,
  nanosleep: 1,
};

/** Which argument of a syscall may be a struct literal, and its fields. */
const STRUCT_ARGS: Partial<Record<SyscallName, { index: number; fields: readonly string[] }>> = {
  eclone: { index: 1, fields: Object.keys(ECLONE_ARGS).filter((k) => k !== 'size') },
  clone3: { index: 0, fields: Object.keys(CLONE3_ARGS) },
};

export interface Compiled {
  path: string;
  workload: Workload;
  stmts: Stmt[];
  /** for goto/if: the target statement; for a syscall with `start`: the program's entry; else -1 */
  jump: number[];
  entries: Map<string, number>;
  slots: Map<string, number>;
  /** statement count, for the size of the text mapping */
  length: number;
}

export function compileWorkload(workload: Workload, path = workload.file): Compiled {
  const stmts: Stmt[] = [];
  const entries = new Map<string, number>();
  const labelsOf: Array<Map<string, number>> = [];
  for (const program of workload.programs) {
    entries.set(program.name, stmts.length);
    const labels = new Map<string, number>();
    for (const s of program.body) {
      if (s.kind === 'label' && s.name !== '') {
        if (labels.has(s.name)) throw new ParseError(workload.file, s.pos.line, s.pos.column, `label ${s.name} is defined twice in program ${program.name}`);
        labels.set(s.name, stmts.length);
      }
      stmts.push(s);
      labelsOf.push(labels);
    }
    // Falling off the end of main ends the process; of any other program, the thread (glibc's clone calls exit).
    const end = { line: program.pos.line, column: 1 };
    stmts.push({ kind: 'syscall', target: null, name: program.name === 'main' ? 'exit_group' : 'exit', args: [{ kind: 'value', expr: { kind: 'num', value: 0, pos: end } }], start: null, pos: end });
    labelsOf.push(labels);
  }
  if (!entries.has('main')) throw new ParseError(workload.file, 1, 1, "expected a program named main: a container's init starts there");
  const jump = stmts.map((s, i) => {
    const at = (what: string): never => {
      throw new ParseError(workload.file, s.pos.line, s.pos.column, what);
    };
    if (s.kind === 'goto' || s.kind === 'if') return labelsOf[i]!.get(s.label) ?? at(`expected a label of this program, found '${s.label}'`);
    if (s.kind === 'print') {
      const n = (s.format.match(/%[dx]/g) ?? []).length;
      if (n !== s.args.length) at(`the format has ${n} value${n === 1 ? '' : 's'} but ${s.args.length} ${s.args.length === 1 ? 'is' : 'are'} given`);
    }
    if (s.kind === 'syscall') {
      const name = s.name as SyscallName;
      const arity = s.name === 'nanosleep' ? 1 : ARITY[name];
      if (s.args.length !== arity) at(`expected ${arity} argument${arity === 1 ? '' : 's'} for ${s.name}, found ${s.args.length}`);
      s.args.forEach((a, k) => {
        if (a.kind !== 'struct') return;
        const spec = STRUCT_ARGS[name];
        if (!spec || spec.index !== k) return at(`argument ${k + 1} of ${s.name} cannot be a struct`);
        for (const f of a.fields) if (!spec.fields.includes(f.name)) at(`expected a field of struct clone_args (${spec.fields.join(', ')}), found '${f.name}'`);
      });
      if (s.start !== null) {
        if (!['clone', 'eclone', 'clone3', 'fork'].includes(s.name)) at(`'start' only follows fork, clone, eclone or clone3`);
        return entries.get(s.start) ?? at(`expected a program name after start, found '${s.start}'`);
      }
    }
    return -1;
  });
  const slots = new Map(workload.variables.map((v, i) => [v, i]));
  return { path, workload, stmts, jump, entries, slots, length: stmts.length };
}
