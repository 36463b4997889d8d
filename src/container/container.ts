/**
 * A container: a new pid namespace and user namespace under the host's root,
 * whose init runs the workload's main program with the container console on
 * fds 0, 1 and 2. Nested containers are programs that clone with CLONE_NEWPID.
 */
import { CLONE_NEWPID, CLONE_NEWUSER } from '../abi/clone-flags.js';
import { SIGCHLD } from '../abi/signals.js';
import { Console } from '../kernel/console.js';
import { O_RDWR } from '../kernel/files.js';
import type { Host } from '../kernel/host.js';
import type { Task } from '../kernel/task.js';
import type { Compiled } from '../program/compile.js';
import { loadProgram } from '../program/interpreter.js';
import { libcOf } from '../program/libc.js';

export interface Container {
  name: string;
  init: Task;
  console: Console;
}

/** ContainerError says why a container could not start, with the kernel's errno. */
export class ContainerError extends Error {
  override readonly name = 'ContainerError';
  constructor(
    message: string,
    readonly code: 'CKPT_CONTAINER_FAILED' | 'CKPT_BAD_NAME' | 'CKPT_CONTAINER_EXISTS' = 'CKPT_CONTAINER_FAILED',
  ) {
    super(message);
  }
}

export function startContainer(host: Host, name: string, program: Compiled): Container {
  const r = libcOf(host, host.init).clone(SIGCHLD | CLONE_NEWPID | CLONE_NEWUSER, 0, 0, 0, 0);
  if (!r.child) throw new ContainerError(`cannot start container ${name}: clone failed with ${r.errno}`);
  const init = r.child;
  const console = new Console(name);
  for (let fd = 0; fd < 3; fd++) init.group.files.install({ kind: 'console', flags: O_RDWR, console });
  loadProgram(init, program, 'main');
  return { name, init, console };
}
