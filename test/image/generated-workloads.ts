/**
 * Generated workloads (fast-check): an init that forks, makes namespaces and threads, waits,
 * sleeps, stops and continues jobs and makes sessions and groups, and children that do the same,
 * for the properties that hold for any workload (transparency; the real executor's tree).
 */
import fc from 'fast-check';

const MAIN_STATEMENTS = [
  ['  a = fork() start child'],
  ['  a = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start ns'],
  ['  a = wait4(-1, 0, WNOHANG, 0)', '  print "nohang %d\\n", a'],
  ['  a = wait4(-1, 0, 0, 0)', '  print "waited %d\\n", a'],
  ['  sleep 2'],
  ['  sleep 7'],
  ['  a = setpgid(0, 0)', '  print "setpgid %d\\n", a'],
  ['  a = getpid()', '  b = getppid()', '  print "main %d of %d\\n", a, b'],
  ['  clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0) start thread'],
  ['  c = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)', '  store c, 77', '  load b, c', '  print "mem %d\\n", b'],
  // job control: stop and continue the newest child (or, with none, the init's own group)
  ['  b = kill(a, SIGSTOP)', '  print "stop %d\\n", b'],
  ['  b = kill(a, SIGCONT)', '  print "cont %d\\n", b'],
  ['  b = kill(a, SIGKILL)'],
  ['  b = kill(0 - a, SIGCONT)', '  print "cont group %d\\n", b'],
  ['  a = setsid()', '  print "init session %d\\n", a'],
  ['  a = fork() start child', '  b = setpgid(a, a)'],
  ['  b = kill(0 - 1, SIGSTOP)'],
  ['  b = kill(0 - 1, SIGCONT)'],
  ['  a = wait4(-1, 0, WUNTRACED | WCONTINUED | WNOHANG, 0)', '  print "untraced %d\\n", a'],
] as const;

const CHILD_STATEMENTS = [
  ['  sleep 3'],
  ['  a = setsid()', '  print "child session %d\\n", a'],
  ['  a = getpid()', '  print "child %d\\n", a'],
  ['  a = fork() start leaf'],
  ['  a = wait4(-1, 0, 0, 0)', '  print "child reaped %d\\n", a'],
  // job control: a group of its own, and a stopped job, which this child's exit orphans when it made a session of its own first
  ['  b = setpgid(0, 0)', '  print "child group %d\\n", b'],
  ['  a = fork() start leaf', '  b = kill(a, SIGSTOP)'],
  ['  clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0) start thread'],
  ['  a = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start ns'],
  ['  b = kill(0, SIGSTOP)'],
  ['  b = unshare(CLONE_NEWPID)', '  a = fork() start ns'],
] as const;

export const workload = fc
  .record({
    main: fc.array(fc.nat(MAIN_STATEMENTS.length - 1), { minLength: 2, maxLength: 9 }),
    child: fc.array(fc.nat(CHILD_STATEMENTS.length - 1), { minLength: 1, maxLength: 5 }),
    code: fc.nat(255),
  })
  .map(({ main, child, code }) =>
    [
      'var a, b, c',
      'program main',
      ...main.flatMap((i) => MAIN_STATEMENTS[i]!),
      '  sleep 1000',
      'end',
      'program child',
      ...child.flatMap((i) => CHILD_STATEMENTS[i]!),
      `  exit(${code})`,
      'end',
      'program ns',
      '  a = getpid()',
      '  print "ns init %d\\n", a',
      '  a = fork() start leaf',
      '  sleep 4',
      '  a = wait4(-1, 0, 0, 0)',
      '  print "ns reaped %d\\n", a',
      'end',
      'program leaf',
      '  sleep 3', // alive a while, so that its parent may exit first and leave it to the init
      '  a = getpid()',
      '  print "leaf %d\\n", a',
      '  exit(3)',
      'end',
      'program thread',
      '  sleep 2',
      '  exit(0)',
      'end',
    ].join('\n'),
  );
