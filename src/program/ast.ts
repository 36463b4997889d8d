/**
 * The workload language's syntax tree. A file holds programs; a program is a
 * list of statements; variables are file-wide (like C globals) and live in
 * the task's data mapping.
 */

export interface Pos {
  line: number;
  column: number;
}

export type Expr =
  | { kind: 'num'; value: number; pos: Pos }
  | { kind: 'var'; name: string; pos: Pos }
  | { kind: 'const'; name: string; value: number; pos: Pos }
  | { kind: 'unary'; op: '-' | '!'; arg: Expr; pos: Pos }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; pos: Pos };

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '|' | '&' | '==' | '!=' | '<' | '<=' | '>' | '>=';

/** Arg is a syscall argument: a value, an array placed in memory, or a struct placed in memory. */
export type Arg = { kind: 'value'; expr: Expr } | { kind: 'array'; items: Expr[]; pos: Pos } | { kind: 'struct'; fields: Array<{ name: string; expr: Expr }>; pos: Pos };

export type Stmt =
  | { kind: 'assign'; target: string; expr: Expr; pos: Pos }
  | { kind: 'syscall'; target: string | null; name: string; args: Arg[]; start: string | null; pos: Pos }
  | { kind: 'print'; format: string; args: Expr[]; pos: Pos }
  | { kind: 'goto'; label: string; pos: Pos }
  | { kind: 'if'; cond: Expr; label: string; pos: Pos }
  | { kind: 'load'; target: string; addr: Expr; pos: Pos }
  | { kind: 'store'; addr: Expr; value: Expr; pos: Pos }
  | { kind: 'label'; name: string; pos: Pos };

export interface Program {
  name: string;
  body: Stmt[];
  pos: Pos;
}

export interface Workload {
  file: string;
  programs: Program[];
  variables: string[];
}
