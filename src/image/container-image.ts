/**
 * ContainerImage is a checkpoint of one container as plain data: its pid
 * and user namespaces, every task with its number at every level from the
 * container's namespace down (the levels above are kept for information
 * only), process groups and sessions, credentials, registers as
 * native-layout bytes, address spaces with each shared page stored once,
 * consoles, the programs it runs and the scheduler's place.
 */
import type { ArchName } from '../arch/arch.js';
import type { KernelName } from '../kernel/personality.js';
import type { AddressSpaceRecord } from '../codec/address-space-record.js';
import type { ImagePages } from '../codec/image-pages.js';

export interface ImageTask {
  /** index into pidNs of the task's own namespace */
  ns: number;
  /** pid numbers from the container's level down to the task's own */
  numbers: number[];
  /** numbers at the levels above the container, as the source host saw them */
  outer: number[];
  leader: number;
  parent: number;
  children: number[];
  /** the process group and session as numbers from the container level down; null when they come from outside the container */
  pgid: number[] | null;
  sid: number[] | null;
  abi: ArchName;
  regs: Uint8Array;
  fpu: number;
  extra: Array<[string, Uint8Array]>;
  mm: number;
  files: number;
  /** nondumpable: present (true) only for a process a credential change made not dumpable */
  cred: [uid: number, euid: number, suid: number, userNs: number, effective: number, permitted: number, nondumpable?: true];
  comm: string;
  exitSignal: number;
  exited: boolean;
  exitStatus: number;
  blockedIn: string | null;
  /** ticks left of a nanosleep, relative to the dump */
  sleepLeft: number | null;
  exePath: string | null;
  clearChildTid: number;
  nsForChildren: number;
  group: { unkillable: boolean; sessionLeader: boolean; stopped: boolean; stopSignal: number; stopReportPending: boolean; continueReportPending: boolean; groupExitStatus: number | null };
}

/**
 * FileRecord is one open descriptor: the container console; /proc/sys/kernel/ns_last_pid with its
 * file position; or a pidfd naming the task (an index into tasks) whose pid it holds, -1 when that
 * task has been reaped (the pidfd then refers to no live pid, as in the kernel).
 */
export type FileRecord = [fd: number, kind: 'console', flags: number] | [fd: number, kind: 'ns_last_pid' | 'pid_max', flags: number, pos: number] | [fd: number, kind: 'pidfd', flags: number, task: number];

export interface ContainerImage {
  name: string;
  arch: ArchName;
  /** the source host's kernel personality; absent for a 2.6.32 host (and every image written before personalities) */
  kernel?: KernelName;
  pidMax: number;
  /** the level of the container's pid namespace on the source host */
  base: number;
  /** user namespaces below the host's; parent -1 is the host's root */
  userNs: Array<[parent: number, owner: number]>;
  /**
   * pid namespaces from the container's down; [0] is the container's; parent -1 is outside.
   * pidMax is there only for a namespace whose pid_max is not the one a new namespace starts with
   * (mainline: PID_MAX_LIMIT of the source's arch), i.e. one /proc/sys/kernel/pid_max changed
   */
  pidNs: Array<[parent: number, userNs: number, lastPid: number, accepting: boolean, pidMax?: number]>;
  tasks: ImageTask[];
  /** index of the container's init in tasks */
  init: number;
  pages: ImagePages;
  mms: AddressSpaceRecord[];
  fpus: Uint8Array[];
  files: Array<[users: number, fds: FileRecord[]]>;
  console: string;
  programs: Array<[path: string, text: string]>;
  /** container tasks still due in the scheduler's current round, in order */
  round: number[];
}
