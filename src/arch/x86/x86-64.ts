/**
 * x86_64: struct user_regs_struct (216 bytes, little-endian), `syscall` with
 * the number in rax and arguments in rdi rsi rdx r10 r8 r9 (rcx and r11
 * clobbered), clone in the default order, eclone v13 = 299; runs i386 tasks
 * as compat (arch/x86/include/asm/user_64.h; docs/semantics.md §15).
 */
import type { Arch } from '../arch.js';
import { named } from '../register-file.js';
import { FXSAVE64_LAYOUT, fxsaveInit } from './fpu.js';
import { makeX86Arch } from './x86-family.js';
import { accessor } from '../reg-access.js';

const EPERM = 1;
const TASK_SIZE = 0x7ffffffff000;

const REGS = {
  mirrors: 'struct user_regs_struct (x86_64, 216 bytes)',
  size: 216,
  fields: named(8, [
    ['r15', 0],
    ['r14', 8],
    ['r13', 16],
    ['r12', 24],
    ['bp', 32],
    ['bx', 40],
    ['r11', 48],
    ['r10', 56],
    ['r9', 64],
    ['r8', 72],
    ['ax', 80],
    ['cx', 88],
    ['dx', 96],
    ['si', 104],
    ['di', 112],
    ['orig_ax', 120],
    ['ip', 128],
    ['cs', 136],
    ['flags', 144],
    ['sp', 152],
    ['ss', 160],
    ['fs_base', 168],
    ['gs_base', 176],
    ['ds', 184],
    ['es', 192],
    ['fs', 200],
    ['gs', 208],
  ]),
  zero: [],
} as const;

const fsBase = accessor(REGS, true, 'fs_base');

export const X86_64: Arch = makeX86Arch({
  name: 'x86_64',
  wordSize: 8,
  pageSize: 4096,
  elfMachine: 62, // EM_X86_64
  taskSize: TASK_SIZE,
  stackTop: 0x7ffffffde000,
  mmapBase: 0x7f0000000000,
  textBase: 0x400000,
  regs: REGS,
  fpu: FXSAVE64_LAYOUT,
  initialFpu: fxsaveInit,
  extraState: {},
  pcRegister: 'ip',
  spRegister: 'sp',
  tlsRegisters: ['fs_base'],
  // __USER_CS = 0x33, __USER_DS = 0x2b
  userSelectors: { cs: 0x33, ss: 0x2b },
  clobbersOnEntry: true,
  syscall: {
    instruction: 'syscall',
    insnSize: 2,
    nr: 'ax',
    args: ['di', 'si', 'dx', 'r10', 'r8', 'r9'],
    ret: 'ax',
    error: 'negative',
    cloneOrder: 'default',
    ecloneArgs: [0, 1, 2, 3],
    cloneTlsArg: 4, // r8
    mmap: 'regs',
  },
  // CLONE_SETTLS: do_arch_prctl(ARCH_SET_FS) refuses an address at or above TASK_SIZE with EPERM.
  setTls(regs, _extra, tls) {
    if (tls >= TASK_SIZE) return EPERM;
    fsBase.set(regs, tls);
    return 0;
  },
  compat: 'i386',
  // v13 added no ia32 entry for eclone (the ia32 stub came with v14): docs/semantics.md §15.3.
  compatMissing: ['eclone'],
  syscalls: {
    read: 0,
    write: 1,
    open: 2,
    close: 3,
    getpid: 39,
    getppid: 110,
    gettid: 186,
    getpgid: 121,
    getpgrp: 111,
    getsid: 124,
    setsid: 112,
    setpgid: 109,
    getuid: 102,
    setuid: 105,
    capget: 125,
    capset: 126,
    fork: 57,
    clone: 56,
    eclone: 299,
    clone3: 435,
    unshare: 272,
    setns: 308,
    pidfd_open: 434,
    exit: 60,
    exit_group: 231,
    wait4: 61,
    kill: 62,
    mmap: 9,
    munmap: 11,
    sched_yield: 24,
    nanosleep: 35,
  },
});
