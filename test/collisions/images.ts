/**
 * The images the pid-collision suite restores (see cases.ts): the nested
 * sample checkpointed after 50 steps directly under a host, and the same
 * container restored inside a running container `box` (after ten other host
 * processes) and checkpointed there. Each for either kernel personality: the
 * model suite uses both, the real-kernel suite the mainline ones.
 */
import { readFileSync } from 'node:fs';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';
import type { KernelName } from '../../src/kernel/personality.js';
import { libcOf } from '../../src/program/libc.js';
import { IDLE } from './cases.js';

/** nestedImage: the nested sample after 50 steps, its container directly under the host. */
export function nestedImage(kernel: KernelName = 'mainline', pidMaxSource?: number): ContainerImage {
  const m = Machine.create('s', 'x86_64', pidMaxSource, kernel);
  const c = m.run('web', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
  m.scheduler.run(50);
  return dumpContainer(m, c);
}

/**
 * insideImage: the same container restored inside `box` (host pid 12, after ten other host processes) and
 * checkpointed there. On mainline box has a user namespace of its own, so that restore goes through clone3.
 */
export function insideImage(kernel: KernelName = 'mainline'): ContainerImage {
  const m = Machine.create('s', 'x86_64', undefined, kernel);
  for (let i = 0; i < 10; i++) libcOf(m.host, m.host.init).fork();
  m.run('box', 'idle.wl', IDLE);
  const { machine, container } = restoreAtomically(m, nestedImage(kernel), { into: 'box', ...(kernel === 'mainline' ? { via: 'clone3' as const } : {}) });
  return dumpContainer(machine, container);
}
