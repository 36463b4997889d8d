/**
 * FileTable: a thread group's open files. The model has four kinds of open
 * file: /proc/sys/kernel/ns_last_pid, /proc/sys/kernel/pid_max (mainline), a
 * pidfd (clone3 CLONE_PIDFD) and the container console. Tables are shared with CLONE_FILES and copied by fork.
 */
import type { Console } from './console.js';
import type { Pid } from './pid.js';

export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;

export type OpenFile =
  | { kind: 'ns_last_pid'; flags: number; pos: number }
  | { kind: 'pid_max'; flags: number; pos: number }
  | { kind: 'pidfd'; flags: number; pid: Pid }
  | { kind: 'console'; flags: number; console: Console };

/** NS_LAST_PID_PATH: the sysctl file restorers write pid - 1 into (proc(5)). */
export const NS_LAST_PID_PATH = '/proc/sys/kernel/ns_last_pid';
/** PID_MAX_PATH: the caller's pid namespace's pid_max (a file of mainline hosts only: personality.ts perNsPidMax). */
export const PID_MAX_PATH = '/proc/sys/kernel/pid_max';

/** MAX_FDS: RLIMIT_NOFILE's usual soft limit. */
const MAX_FDS = 1024;

export class FileTable {
  /** allocated with the first open file: most processes of a model host open none */
  private fds: Map<number, OpenFile> | null = null;
  users = 1;

  /** isEmpty: no descriptor is open */
  get isEmpty(): boolean {
    return !this.fds || this.fds.size === 0;
  }

  get(fd: number): OpenFile | undefined {
    return this.fds?.get(fd);
  }

  delete(fd: number): void {
    this.fds?.delete(fd);
  }

  clear(): void {
    this.fds = null;
  }

  /** entries lists the open descriptors, lowest first. */
  entries(): Array<[number, OpenFile]> {
    return this.fds ? [...this.fds.entries()].sort((a, b) => a[0] - b[0]) : [];
  }

  /** set puts `file` at descriptor `fd` (restoring a table). */
  set(fd: number, file: OpenFile): void {
    (this.fds ??= new Map()).set(fd, file);
  }

  /** install puts `file` at the lowest free descriptor; -1 when the table is full. */
  install(file: OpenFile): number {
    const fds = (this.fds ??= new Map());
    for (let fd = 0; fd < MAX_FDS; fd++) {
      if (!fds.has(fd)) {
        fds.set(fd, file);
        return fd;
      }
    }
    return -1;
  }

  /** copy duplicates the table for a fork without CLONE_FILES (open files are shared objects, as in dup_fd). */
  copy(): FileTable {
    const t = new FileTable();
    if (this.fds && this.fds.size > 0) t.fds = new Map(this.fds);
    return t;
  }
}
