/**
 * Images the restore tests of both executors start from: sample workloads and a daemon's double
 * fork (its session leader exited, or exited and was reaped), each dumped from a model host after
 * a number of scheduler steps.
 */
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import type { ContainerImage } from '../../src/image/container-image.js';

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
