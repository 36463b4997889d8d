/**
 * getuid, setuid, capget, capset (kernel/sys.c, kernel/capability.c,
 * security/commoncap.c): enough to drop privilege, which is what the pid
 * permission rules need to be exercised.
 */
import { capsFromWords, capsToWords, CAP_SETUID, isSubset, LINUX_CAPABILITY_VERSION_3 } from '../abi/capabilities.js';
import { capableIn } from './credentials.js';
import { fail } from './kernel-error.js';
import type { Task } from './task.js';
import { copyFromUser, putUserInt, viewOf } from './uaccess.js';

const HEADER_SIZE = 8;
/** Two struct __user_cap_data_struct {effective, permitted, inheritable} for version 3. */
const DATA_SIZE = 24;

/** OVERFLOW_UID: what a uid without a mapping in the reader's user namespace reads as (/proc/sys/kernel/overflowuid) */
const OVERFLOW_UID = 65534;

/** unmapped: on mainline the model's user namespaces below the initial one have no uid map (personality.ts unmappedUserNs). */
function unmapped(task: Task): boolean {
  return task.activeNs.rules.unmappedUserNs && task.creds.userNs.parent !== null;
}

export function sysGetuid(task: Task): number {
  return unmapped(task) ? OVERFLOW_UID : task.creds.uid;
}

/**
 * sysSetuid: privileged, sets every uid; otherwise only the effective uid, to the real or saved one.
 * It changes the calling thread's credentials only (kernel/sys.c __sys_setuid: commit_creds on
 * current; glibc's wrapper, not the kernel, repeats it in every thread).
 */
export function sysSetuid(task: Task, uid: number): number {
  const u = uid >>> 0;
  if (u === 0xffffffff) fail('EINVAL', 'uid -1 is not a valid uid');
  // make_kuid finds no mapping: kernel/sys.c __sys_setuid checks this before any capability
  if (unmapped(task)) fail('EINVAL', `uid ${u} has no mapping in the caller's user namespace, whose uid_map was never written`);
  const c = task.creds;
  if (capableIn(c, CAP_SETUID, c.userNs)) {
    // cap_emulate_setxuid: leaving uid 0 for good drops every capability.
    const drop = u !== 0 && (c.uid === 0 || c.euid === 0 || c.suid === 0);
    task.creds = { ...c, uid: u, euid: u, suid: u, ...(drop ? { effective: 0, permitted: 0 } : {}) };
  } else {
    if (u !== c.uid && u !== c.suid) fail('EPERM', `an unprivileged process cannot take uid ${u}`);
    task.creds = { ...c, euid: u };
  }
  // commit_creds: a changed euid makes the address space not dumpable (set_dumpable(mm, suid_dumpable), 0)
  if (u !== c.euid) task.mm.nondumpable = true;
  return 0;
}

function checkHeader(task: Task, hdrp: number): void {
  const hdr = viewOf(copyFromUser(task, hdrp, HEADER_SIZE));
  const le = task.abi.littleEndian;
  const version = hdr.getUint32(0, le);
  if (version !== LINUX_CAPABILITY_VERSION_3) {
    // The kernel tells the caller which version it prefers.
    putUserInt(task, hdrp, LINUX_CAPABILITY_VERSION_3);
    fail('EINVAL', `capability version 0x${version.toString(16)} is not _LINUX_CAPABILITY_VERSION_3`);
  }
  const pid = hdr.getInt32(4, le);
  if (pid !== 0 && pid !== task.pid.nrIn(task.activeNs)) fail('EPERM', 'capset can only change the calling thread');
}

export function sysCapget(task: Task, hdrp: number, datap: number): number {
  checkHeader(task, hdrp);
  if (datap === 0) return 0;
  const out = new Uint8Array(DATA_SIZE);
  const dv = viewOf(out);
  const le = task.abi.littleEndian;
  const [eLo, eHi] = capsToWords(task.creds.effective);
  const [pLo, pHi] = capsToWords(task.creds.permitted);
  dv.setUint32(0, eLo, le);
  dv.setUint32(4, pLo, le);
  dv.setUint32(12, eHi, le);
  dv.setUint32(16, pHi, le);
  task.mm.write(datap, out);
  return 0;
}

/** sysCapset may only shrink: new permitted within old permitted, new effective within new permitted. */
export function sysCapset(task: Task, hdrp: number, datap: number): number {
  checkHeader(task, hdrp);
  const dv = viewOf(copyFromUser(task, datap, DATA_SIZE));
  const le = task.abi.littleEndian;
  const effective = capsFromWords(dv.getUint32(0, le), dv.getUint32(12, le));
  const permitted = capsFromWords(dv.getUint32(4, le), dv.getUint32(16, le));
  const c = task.creds;
  if (!isSubset(permitted, c.permitted)) fail('EPERM', 'capset cannot add capabilities to the permitted set');
  if (!isSubset(effective, permitted)) fail('EPERM', 'the effective set must lie within the permitted set');
  task.creds = { ...c, effective, permitted };
  return 0;
}
