/**
 * open, read, write and close over the model's few files. The one path that
 * opens is /proc/sys/kernel/ns_last_pid (mode 0666), which acts on the
 * opener's own pid namespace (kernel/pid_namespace.c pid_ns_ctl_handler,
 * Linux 6.x; docs/semantics.md §3.5):
 * reading gives last_pid; writing needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE in the namespace's owning user namespace (EPERM,
 * checked first) and a value in [0, pid_max] (EINVAL), and sets last_pid.
 */
import { CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN } from '../abi/capabilities.js';
import { capableIn } from './credentials.js';
import { PID_MAX_MIN } from '../abi/limits.js';
import { NS_LAST_PID_PATH, O_ACCMODE, O_RDONLY, O_WRONLY, PID_MAX_PATH, type OpenFile } from './files.js';
import { fail } from './kernel-error.js';
import type { Task } from './task.js';
import { copyFromUser } from './uaccess.js';

const PATH_MAX = 4096;

/** readPath reads a NUL-terminated path from user memory (strncpy_from_user). */
function readPath(task: Task, addr: number): string {
  const chars: number[] = [];
  for (let i = 0; i < PATH_MAX; i++) {
    const b = copyFromUser(task, addr + i, 1)[0]!;
    if (b === 0) return String.fromCharCode(...chars);
    chars.push(b);
  }
  fail('ENAMETOOLONG', 'path is longer than PATH_MAX');
}

/**
 * mayWritePidMax is pid_table_root_permissions (kernel/pid.c, v6.14): the
 * file is 0644 to root of the namespace's owning user namespace (CAP_SYS_ADMIN
 * there, or the euid that is uid 0 there) and read-only to everyone else.
 */
function mayWritePidMax(task: Task): boolean {
  const ns = task.activeNs;
  const c = task.creds;
  return capableIn(c, CAP_SYS_ADMIN, ns.userNs) || (c.euid === 0 && ns.userNs.parent === null);
}

export function sysOpen(task: Task, pathAddr: number, flags: number): number {
  const path = readPath(task, pathAddr);
  const pidMax = path === PID_MAX_PATH && task.activeNs.rules.perNsPidMax;
  if (path !== NS_LAST_PID_PATH && !pidMax) fail('ENOENT', `${path}: no such file in the model`);
  if ((flags & O_ACCMODE) === O_ACCMODE) fail('EINVAL', 'invalid access mode');
  if (pidMax && (flags & O_ACCMODE) !== O_RDONLY && !mayWritePidMax(task)) fail('EACCES', `${path} is writable by root of the pid namespace's owning user namespace only`);
  const fd = task.group.files.install({ kind: pidMax ? 'pid_max' : 'ns_last_pid', flags, pos: 0 });
  if (fd < 0) fail('EMFILE', 'too many open files');
  return fd;
}

function fileOf(task: Task, fd: number): OpenFile {
  const f = task.group.files.get(fd);
  if (!f) fail('EBADF', `fd ${fd} is not open`);
  return f;
}

export function sysClose(task: Task, fd: number): number {
  fileOf(task, fd);
  task.group.files.delete(fd);
  return 0;
}

export function sysRead(task: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(task, fd);
  if ((f.flags & O_ACCMODE) === O_WRONLY) fail('EBADF', `fd ${fd} is not open for reading`);
  if (f.kind !== 'ns_last_pid' && f.kind !== 'pid_max') fail('EINVAL', `fd ${fd} cannot be read`);
  const ns = task.activeNs;
  const text = new TextEncoder().encode(`${f.kind === 'pid_max' ? ns.pidMax : ns.lastPid}\n`);
  const chunk = text.subarray(f.pos, f.pos + count);
  if (chunk.length > 0) task.mm.write(buf, chunk);
  f.pos += chunk.length;
  return chunk.length;
}

export function sysWrite(task: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(task, fd);
  if ((f.flags & O_ACCMODE) === O_RDONLY) fail('EBADF', `fd ${fd} is not open for writing`);
  if (f.kind === 'console') {
    f.console.write(copyFromUser(task, buf, count));
    return count;
  }
  if (f.kind === 'pid_max') return writePidMax(task, buf, count);
  if (f.kind !== 'ns_last_pid') fail('EINVAL', `fd ${fd} cannot be written`);
  const ns = task.activeNs;
  const creds = task.creds;
  if (!capableIn(creds, CAP_SYS_ADMIN, ns.userNs) && !capableIn(creds, CAP_CHECKPOINT_RESTORE, ns.userNs)) {
    fail('EPERM', 'writing ns_last_pid needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over the pid namespace');
  }
  const text = new TextDecoder().decode(copyFromUser(task, buf, count));
  const m = /^\s*(-?\d+)\s*$/.exec(text);
  if (!m) fail('EINVAL', `ns_last_pid takes an integer, not ${JSON.stringify(text)}`);
  const value = Number(m[1]);
  if (value < 0 || value > ns.pidMax) fail('EINVAL', `ns_last_pid ${value} is outside [0, ${ns.pidMax}]`);
  ns.lastPid = value;
  return count;
}

/** writePidMax sets the caller's namespace's pid_max: PID_MAX_MIN..PID_MAX_LIMIT (proc_dointvec_minmax), else EINVAL. */
function writePidMax(task: Task, buf: number, count: number): number {
  const ns = task.activeNs;
  const text = new TextDecoder().decode(copyFromUser(task, buf, count));
  const m = /^\s*(-?\d+)\s*$/.exec(text);
  if (!m) fail('EINVAL', `pid_max takes an integer, not ${JSON.stringify(text)}`);
  const value = Number(m[1]);
  if (value < PID_MAX_MIN || value > ns.capacity) fail('EINVAL', `pid_max ${value} is outside [${PID_MAX_MIN}, ${ns.capacity}]`);
  ns.pidMax = value;
  return count;
}
