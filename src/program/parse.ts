/**
 * parseWorkload reads the workload language (images/workloads/README.md).
 * A syntax error is a ParseError naming the file, line and column and what
 * was expected there.
 */
import { SYSCALL_NAMES } from '../abi/syscall-names.js';
import type { Arg, BinaryOp, Expr, Pos, Program, Stmt, Workload } from './ast.js';
import { CONSTANTS } from './constants.js';

export class ParseError extends Error {
  override readonly name = 'ParseError';
  readonly code = 'CKPT_PARSE_ERROR';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
  }
}

type TokenKind = 'ident' | 'num' | 'str' | 'op' | 'eol';
interface Token {
  kind: TokenKind;
  text: string;
  value?: number;
  pos: Pos;
}

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '|', '&', '!', '=', ',', '(', ')', '[', ']', '{', '}', ':'];
const SYSCALLS = new Set<string>(SYSCALL_NAMES);
const KEYWORDS = new Set(['program', 'end', 'var', 'goto', 'if', 'print', 'load', 'store', 'start', 'sleep']);

function describe(t: Token): string {
  if (t.kind === 'eol') return 'end of line';
  if (t.kind === 'str') return `string ${JSON.stringify(t.text)}`;
  return `'${t.text}'`;
}

/** tokenize splits one line into tokens; columns are 1-based. */
function tokenize(file: string, lineNo: number, line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    const pos = { line: lineNo, column: i + 1 };
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      break;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i))![0];
      tokens.push({ kind: 'ident', text: m, pos });
      i += m.length;
    } else if (/[0-9]/.test(c)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]+)/.exec(line.slice(i))![0];
      tokens.push({ kind: 'num', text: m, value: Number(m), pos });
      i += m.length;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\') {
          const e = line[j + 1];
          if (e === 'n') text += '\n';
          else if (e === 't') text += '\t';
          else if (e === '\\' || e === '"') text += e;
          else throw new ParseError(file, lineNo, j + 1, `unknown escape \\${e ?? ''} in string`);
          j += 2;
        } else {
          text += line[j];
          j++;
        }
      }
      if (j >= line.length) throw new ParseError(file, lineNo, i + 1, 'expected a closing " for this string');
      tokens.push({ kind: 'str', text, pos });
      i = j + 1;
    } else {
      const op = OPERATORS.find((o) => line.startsWith(o, i));
      if (!op) throw new ParseError(file, lineNo, i + 1, `unexpected character '${c}'`);
      tokens.push({ kind: 'op', text: op, pos });
      i += op.length;
    }
  }
  tokens.push({ kind: 'eol', text: '', pos: { line: lineNo, column: line.length + 1 } });
  return tokens;
}

class LineParser {
  private i = 0;
  constructor(
    private readonly file: string,
    private readonly tokens: Token[],
    readonly variables: Set<string>,
  ) {}

  peek(): Token {
    return this.tokens[this.i]!;
  }

  next(): Token {
    return this.tokens[this.i++]!;
  }

  fail(t: Token, expected: string): never {
    throw new ParseError(this.file, t.pos.line, t.pos.column, `expected ${expected}, found ${describe(t)}`);
  }

  isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }

  expectOp(text: string): Token {
    const t = this.next();
    if (t.kind !== 'op' || t.text !== text) this.fail(t, `'${text}'`);
    return t;
  }

  ident(what: string): Token {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(t, what);
    return t;
  }

  end(): void {
    const t = this.peek();
    if (t.kind !== 'eol') this.fail(t, 'end of line');
  }

  /** expr := bitor (cmp bitor)? with comparisons lowest. */
  expr(): Expr {
    const left = this.bitwise();
    const t = this.peek();
    if (t.kind === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      this.next();
      return { kind: 'binary', op: t.text as BinaryOp, left, right: this.bitwise(), pos: t.pos };
    }
    return left;
  }

  /** binaryLevel parses a left-associative chain of `ops` over operands from `operand`. */
  private binaryLevel(ops: readonly string[], operand: () => Expr): Expr {
    let left = operand();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !ops.includes(t.text)) return left;
      this.next();
      left = { kind: 'binary', op: t.text as BinaryOp, left, right: operand(), pos: t.pos };
    }
  }

  private bitwise(): Expr {
    return this.binaryLevel(['|', '&'], () => this.additive());
  }

  private additive(): Expr {
    return this.binaryLevel(['+', '-'], () => this.term());
  }

  private term(): Expr {
    return this.binaryLevel(['*', '/', '%'], () => this.unary());
  }

  private unary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '!')) {
      this.next();
      return { kind: 'unary', op: t.text, arg: this.unary(), pos: t.pos };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.next();
    if (t.kind === 'num') return { kind: 'num', value: t.value!, pos: t.pos };
    if (t.kind === 'op' && t.text === '(') {
      const e = this.expr();
      this.expectOp(')');
      return e;
    }
    if (t.kind === 'ident') {
      if (this.variables.has(t.text)) return { kind: 'var', name: t.text, pos: t.pos };
      const c = CONSTANTS[t.text];
      if (c !== undefined) return { kind: 'const', name: t.text, value: c, pos: t.pos };
      throw new ParseError(this.file, t.pos.line, t.pos.column, `expected a number, a variable or a constant, found '${t.text}' (declare variables with 'var')`);
    }
    return this.fail(t, 'a number, a variable, a constant or (');
  }

  arg(): Arg {
    const t = this.peek();
    if (t.kind === 'op' && t.text === '[') {
      this.next();
      const items: Expr[] = [];
      if (!this.isOp(']')) {
        items.push(this.expr());
        while (this.isOp(',')) {
          this.next();
          items.push(this.expr());
        }
      }
      this.expectOp(']');
      return { kind: 'array', items, pos: t.pos };
    }
    if (t.kind === 'op' && t.text === '{') {
      this.next();
      const fields: Array<{ name: string; expr: Expr }> = [];
      if (!this.isOp('}')) {
        do {
          if (this.isOp(',')) this.next();
          const name = this.ident('a field name').text;
          this.expectOp(':');
          fields.push({ name, expr: this.expr() });
        } while (this.isOp(','));
      }
      this.expectOp('}');
      return { kind: 'struct', fields, pos: t.pos };
    }
    return { kind: 'value', expr: this.expr() };
  }

  /** call parses NAME(args) [start PROGRAM] after NAME has been read. */
  call(target: string | null, name: Token): Stmt {
    this.expectOp('(');
    const args: Arg[] = [];
    if (!this.isOp(')')) {
      args.push(this.arg());
      while (this.isOp(',')) {
        this.next();
        args.push(this.arg());
      }
    }
    this.expectOp(')');
    let start: string | null = null;
    const t = this.peek();
    if (t.kind === 'ident' && t.text === 'start') {
      this.next();
      start = this.ident('a program name after start').text;
    }
    this.end();
    return { kind: 'syscall', target, name: name.text, args, start, pos: name.pos };
  }
}

/** parseWorkload parses a workload file's text; `file` names it in errors. */
export function parseWorkload(file: string, text: string): Workload {
  const lines = text.split('\n');
  const variables = new Set<string>();
  // Variables are file-wide: collect every declaration first so any program may use them.
  lines.forEach((line, n) => {
    const tokens = tokenize(file, n + 1, line);
    if (tokens[0]?.kind === 'ident' && tokens[0].text === 'var') {
      const p = new LineParser(file, tokens, variables);
      p.next();
      for (;;) {
        const v = p.ident('a variable name');
        if (KEYWORDS.has(v.text) || SYSCALLS.has(v.text) || CONSTANTS[v.text] !== undefined) {
          throw new ParseError(file, v.pos.line, v.pos.column, `expected a variable name, found '${v.text}', which is a keyword, syscall or constant`);
        }
        variables.add(v.text);
        if (p.peek().kind === 'eol') break;
        p.expectOp(',');
      }
    }
  });
  const programs: Program[] = [];
  let current: Program | null = null;
  lines.forEach((line, n) => {
    const tokens = tokenize(file, n + 1, line);
    const first = tokens[0]!;
    if (first.kind === 'eol') return;
    const p = new LineParser(file, tokens, variables);
    if (!current) {
      if (first.kind === 'ident' && first.text === 'var') return; // file-level declarations: collected above
      if (first.kind !== 'ident' || first.text !== 'program') p.fail(first, "'program NAME'");
      p.next();
      const name = p.ident('a program name');
      p.end();
      if (programs.some((x) => x.name === name.text)) throw new ParseError(file, name.pos.line, name.pos.column, `program ${name.text} is defined twice`);
      current = { name: name.text, body: [], pos: first.pos };
      return;
    }
    const body: Stmt[] = current.body;
    if (first.kind === 'ident' && first.text === 'end') {
      p.next();
      p.end();
      programs.push(current);
      current = null;
      return;
    }
    body.push(parseStatement(p, file));
  });
  if (current) {
    const prog: Program = current;
    throw new ParseError(file, lines.length, 1, `expected 'end' to close program ${prog.name} (opened at line ${prog.pos.line})`);
  }
  if (programs.length === 0) throw new ParseError(file, 1, 1, "expected at least one 'program NAME ... end'");
  return { file, programs, variables: [...variables] };
}

function parseStatement(p: LineParser, file: string): Stmt {
  const first = p.next();
  if (first.kind !== 'ident') p.fail(first, 'a statement');
  const pos = first.pos;
  switch (first.text) {
    case 'var':
      // declarations were collected in the first pass
      return { kind: 'label', name: '', pos };
    case 'goto': {
      const label = p.ident('a label').text;
      p.end();
      return { kind: 'goto', label, pos };
    }
    case 'if': {
      const cond = p.expr();
      const kw = p.next();
      if (kw.kind !== 'ident' || kw.text !== 'goto') p.fail(kw, "'goto'");
      const label = p.ident('a label').text;
      p.end();
      return { kind: 'if', cond, label, pos };
    }
    case 'print': {
      const f = p.next();
      if (f.kind !== 'str') p.fail(f, 'a format string');
      const args: Expr[] = [];
      while (p.isOp(',')) {
        p.next();
        args.push(p.expr());
      }
      p.end();
      return { kind: 'print', format: f.text, args, pos };
    }
    case 'load': {
      const target = p.ident('a variable').text;
      if (!isVar(p, target)) throw new ParseError(file, pos.line, pos.column, `expected a declared variable, found '${target}'`);
      p.expectOp(',');
      const addr = p.expr();
      p.end();
      return { kind: 'load', target, addr, pos };
    }
    case 'store': {
      const addr = p.expr();
      p.expectOp(',');
      const value = p.expr();
      p.end();
      return { kind: 'store', addr, value, pos };
    }
    case 'sleep': {
      const ticks = p.expr();
      p.end();
      return { kind: 'syscall', target: null, name: 'nanosleep', args: [{ kind: 'value', expr: ticks }], start: null, pos };
    }
  }
  if (SYSCALLS.has(first.text)) return p.call(null, first);
  if (p.isOp(':')) {
    p.next();
    p.end();
    return { kind: 'label', name: first.text, pos };
  }
  if (p.isOp('=')) {
    if (!isVar(p, first.text)) throw new ParseError(file, pos.line, pos.column, `expected a declared variable before '=', found '${first.text}' (declare it with 'var')`);
    p.next();
    const t = p.peek();
    if (t.kind === 'ident' && SYSCALLS.has(t.text)) {
      p.next();
      return p.call(first.text, t);
    }
    const expr = p.expr();
    p.end();
    return { kind: 'assign', target: first.text, expr, pos };
  }
  return p.fail(p.peek(), `':' (a label), '=' (an assignment) or '(' (a syscall) after '${first.text}'`);
}

function isVar(p: LineParser, name: string): boolean {
  return p.variables.has(name);
}
