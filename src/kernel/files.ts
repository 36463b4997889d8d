/**
 * FileTable: a thread group's open files. The model has three kinds of open
 * file: /proc/sys/kernel/ns_last_pid, a pidfd (clone3 CLONE_PIDFD) and the
 * container console. Tables are shared with CLONE_FILES and copied by fork.
 */
import type { Pid } from './pid.js';

export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;

export type OpenFile =
  | { kind: 'ns_last_pid'; flags: number; pos: number }
  | { kind: 'pidfd'; flags: number; pid: Pid }
  | { kind: 'console'; flags: number };

/** NS_LAST_PID_PATH: the sysctl file restorers write pid - 1 into (proc(5)). */
export const NS_LAST_PID_PATH = '/proc/sys/kernel/ns_last_pid';

/** MAX_FDS: RLIMIT_NOFILE's usual soft limit. */
const MAX_FDS = 1024;

export class FileTable {
  readonly fds = new Map<number, OpenFile>();
  users = 1;

  /** install puts `file` at the lowest free descriptor; -1 when the table is full. */
  install(file: OpenFile): number {
    for (let fd = 0; fd < MAX_FDS; fd++) {
      if (!this.fds.has(fd)) {
        this.fds.set(fd, file);
        return fd;
      }
    }
    return -1;
  }

  /** copy duplicates the table for a fork without CLONE_FILES (open files are shared objects, as in dup_fd). */
  copy(): FileTable {
    const t = new FileTable();
    for (const [fd, f] of this.fds) t.fds.set(fd, f);
    return t;
  }
}
