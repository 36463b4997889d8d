/**
 * Images the restore tests of both executors start from: sample workloads and a daemon's double
 * fork (its session leader exited, or exited and was reaped), each dumped from a model host after
 * a number of scheduler steps.
 */
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { libcOf } from '../../src/program/libc.js';

export const workload = (name: string): string => readFileSync(`images/workloads/${name}.wl`, 'utf8');

export const DAEMON = ['var a, b', 'program main', '  a = fork() start daemon', '  sleep 100000000', 'end', 'program daemon', '  a = setsid()', '  b = fork() start kid', '  exit(3)', 'end', 'program kid', '  sleep 100000000', 'end'].join('\n');
export const REAPED = DAEMON.replace('  a = fork() start daemon\n', '  a = fork() start daemon\n  a = wait4(-1, 0, 0, 0)\n');

/** imageOf dumps a container running `text` on a fresh x86_64 host after `steps` scheduler steps. */
export function imageOf(text: string, steps: number): ContainerImage {
  const m = Machine.create('s', 'x86_64');
  const c = m.run('box', 'box.wl', text);
  m.scheduler.run(steps);
  return dumpContainer(m, c);
}

/**
 * sleepersImage: a container of `tasks` tasks three levels deep, the innermost init's children
 * the rest (forked through its C library: the scheduler would rescan every sleeper each round).
 */
export function sleepersImage(tasks: number): ContainerImage {
  const text = ['program main', '  clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start level2', '  sleep 100000000', 'end', 'program level2', '  clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start level3', '  sleep 100000000', 'end', 'program level3', '  sleep 100000000', 'end'].join('\n');
  const m = Machine.create('s', 'x86_64');
  const c = m.run('box', 'box.wl', text);
  while (m.tasksOf(c).length < 3) if (!m.scheduler.step()) break;
  const level3 = m.tasksOf(c).find((t) => t.pid.level === 3)!;
  const libc = libcOf(m.host, level3);
  for (let n = m.tasksOf(c).length; n < tasks; n++) if (!libc.fork().child) throw new Error('fork failed');
  return dumpContainer(m, c);
}
