/** Parse errors name the file, line and column and say what was expected there. */
import { describe, expect, it } from 'vitest';
import { compileWorkload } from '../../src/program/compile.js';
import { ParseError, parseWorkload } from '../../src/program/parse.js';

function errorOf(text: string): string {
  try {
    compileWorkload(parseWorkload('w.wl', text));
  } catch (e) {
    if (e instanceof ParseError) return e.message;
    throw e;
  }
  return 'parsed';
}

describe('parse errors', () => {
  const cases: Array<[string, string, string]> = [
    ['a statement outside any program', 'x = 1\n', "w.wl:1:1: expected 'program NAME', found 'x'"],
    ['an unclosed program', 'program main\n  sched_yield()\n', "w.wl:3:1: expected 'end' to close program main (opened at line 1)"],
    ['an undeclared variable', 'program main\n  x = 1\nend\n', "w.wl:2:3: expected a declared variable before '=', found 'x' (declare it with 'var')"],
    ['an unknown name in an expression', 'var x\nprogram main\n  x = y + 1\nend\n', "w.wl:3:7: expected a number, a variable or a constant, found 'y' (declare variables with 'var')"],
    ['a missing operand', 'var x\nprogram main\n  x = 1 +\nend\n', 'w.wl:3:10: expected a number, a variable, a constant or (, found end of line'],
    ['a stray character', 'var x\nprogram main\n  x = 1 $ 2\nend\n', "w.wl:3:9: unexpected character '$'"],
    ['an unterminated string', 'program main\n  print "oops\nend\n', 'w.wl:2:9: expected a closing " for this string'],
    ['a syscall with the wrong number of arguments', 'program main\n  kill(1)\nend\n', 'w.wl:2:3: expected 2 arguments for kill, found 1'],
    ['a goto to an unknown label', 'program main\n  goto nowhere\nend\n', "w.wl:2:3: expected a label of this program, found 'nowhere'"],
    ['start naming an unknown program', 'var c\nprogram main\n  c = fork() start ghost\nend\n', "w.wl:3:7: expected a program name after start, found 'ghost'"],
    ['no main program', 'program other\nend\n', "w.wl:1:1: expected a program named main: a container's init starts there"],
    ['a print whose values do not match its format', 'program main\n  print "%d %d\\n", 1\nend\n', 'w.wl:2:3: the format has 2 values but 1 is given'],
    ['a struct field clone_args does not have', 'var c\nprogram main\n  c = eclone(SIGCHLD, {nr_pid: 1}, 48, [5])\nend\n', "w.wl:3:7: expected a field of struct clone_args (clone_flags_high, child_stack, child_stack_size, parent_tid_ptr, child_tid_ptr, nr_pids, reserved0), found 'nr_pid'"],
    ['if without goto', 'var x\nprogram main\n  if x == 1 x = 2\nend\n', "w.wl:3:13: expected 'goto', found 'x'"],
    ['a variable named like a syscall', 'var fork\nprogram main\nend\n', "w.wl:1:5: expected a variable name, found 'fork', which is a keyword, syscall or constant"],
  ];
  for (const [what, text, message] of cases) {
    it(what, () => expect(errorOf(text)).toBe(message));
  }

  it('accepts the documented forms', () => {
    const text = [
      '# every statement form',
      'var a, b, c',
      'program main',
      '  a = (1 + 2) * 3 - -4 / 2 % 3',
      '  b = CLONE_NEWPID | SIGCHLD',
      '  c = eclone(SIGCHLD, {nr_pids: 1}, 48, [377])',
      '  c = clone3({exit_signal: SIGCHLD, set_tid: 0}, 88)',
      '  c = clone(SIGCHLD, 0, 0, 0, 0) start worker',
      'top:',
      '  if a >= 10 goto done',
      '  a = a + 1',
      '  goto top',
      'done:',
      '  store 4096, a',
      '  load b, 4096',
      '  sleep 3',
      '  print "a=%d b=%x 100%%\\n", a, b',
      'end',
      'program worker',
      '  exit(0)',
      'end',
    ].join('\n');
    expect(errorOf(text)).toBe('parsed');
  });
});
