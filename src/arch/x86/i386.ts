/**
 * i386: struct user_regs_struct (68 bytes, little-endian), int $0x80 with the
 * number in eax and arguments in ebx ecx edx esi edi ebp, clone in
 * CLONE_BACKWARDS order, eclone v13 = 337 with pids in edi
 * (arch/x86/include/asm/user_32.h; docs/semantics.md §15.2, §15.3).
 */
import type { Arch } from '../arch.js';
import { named } from '../register-file.js';
import { FXSAVE32_LAYOUT, fxsaveInit } from './fpu.js';
import { makeX86Arch } from './x86-family.js';

/** I386_TLS_ENTRY_MIN..MAX: the three GDT TLS slots (selectors 0x33, 0x3b, 0x43). */
const I386_TLS_ENTRY_MIN = 6;
const I386_TLS_ENTRY_COUNT = 3;
const USER_DESC_SIZE = 16;
const EINVAL = 22;

/**
 * setI386Tls installs a struct user_desc read from the task's memory into a
 * GDT TLS slot, as copy_thread's do_set_thread_area(p, -1, esi, 0) does:
 * with allocation not allowed, the entry must name one of the TLS slots.
 */
function setI386Tls(_regs: DataView, extra: Record<string, Uint8Array>, tls: number, readUser: (addr: number, len: number) => Uint8Array): number {
  const desc = readUser(tls, USER_DESC_SIZE);
  const entry = new DataView(desc.buffer, desc.byteOffset, USER_DESC_SIZE).getUint32(0, true);
  const slot = entry - I386_TLS_ENTRY_MIN;
  if (slot < 0 || slot >= I386_TLS_ENTRY_COUNT) return EINVAL;
  const table = extra['tls'];
  if (!table) return EINVAL;
  table.set(desc, slot * USER_DESC_SIZE);
  return 0;
}


/**
 * i386CompatFixup remaps an i386 task's selectors for ia32 emulation on
 * x86_64 (arch/x86/include/asm/segment.h; docs/semantics.md §15.7): __USER32_CS 0x23, __USER32_DS 0x2b, and the
 * TLS entries 6..8 (selectors 0x33/0x3b/0x43) to 12..14 (0x63/0x6b/0x73).
 * Each field is remapped by what it is, never by value alone: 0x73 is the
 * i386 code selector in cs but a TLS selector on x86_64.
 */
function i386CompatFixup(regs: DataView, extra: Record<string, Uint8Array>): void {
  const le = true;
  const remap = (offset: number, map: Record<number, number>): void => {
    const v = regs.getUint32(offset, le);
    const to = map[v];
    if (to !== undefined) regs.setUint32(offset, to, le);
  };
  const data = { 0x7b: 0x2b };
  const tls = { 0x33: 0x63, 0x3b: 0x6b, 0x43: 0x73 };
  remap(52, { 0x73: 0x23 }); // cs
  for (const off of [64, 28, 32]) remap(off, data); // ss, ds, es
  for (const off of [36, 40]) remap(off, tls); // fs, gs
  const table = extra['tls'];
  if (table) {
    const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
    for (let i = 0; i < I386_TLS_ENTRY_COUNT; i++) {
      const e = dv.getUint32(i * USER_DESC_SIZE, le);
      if (e >= I386_TLS_ENTRY_MIN && e < I386_TLS_ENTRY_MIN + I386_TLS_ENTRY_COUNT) dv.setUint32(i * USER_DESC_SIZE, e + 6, le);
    }
  }
}

export const I386: Arch = makeX86Arch({
  name: 'i386',
  wordSize: 4,
  pageSize: 4096,
  elfMachine: 3, // EM_386
  taskSize: 0xc0000000,
  stackTop: 0xbf800000,
  mmapBase: 0x40000000,
  textBase: 0x08048000,
  regs: {
    mirrors: 'struct user_regs_struct (i386, 68 bytes)',
    size: 68,
    fields: named(4, [
      ['bx', 0],
      ['cx', 4],
      ['dx', 8],
      ['si', 12],
      ['di', 16],
      ['bp', 20],
      ['ax', 24],
      ['ds', 28],
      ['es', 32],
      ['fs', 36],
      ['gs', 40],
      ['orig_ax', 44],
      ['ip', 48],
      ['cs', 52],
      ['flags', 56],
      ['sp', 60],
      ['ss', 64],
    ]),
    zero: [],
  },
  fpu: FXSAVE32_LAYOUT,
  initialFpu: fxsaveInit,
  extraState: { tls: I386_TLS_ENTRY_COUNT * USER_DESC_SIZE }, // NT_386_TLS: 3 x struct user_desc
  pcRegister: 'ip',
  spRegister: 'sp',
  tlsRegisters: ['gs'],
  // __USER_CS = 0x73, __USER_DS = 0x7b (asm/segment.h)
  userSelectors: { cs: 0x73, ss: 0x7b, ds: 0x7b, es: 0x7b },
  clobbersOnEntry: false,
  syscall: {
    instruction: 'int $0x80',
    insnSize: 2,
    nr: 'ax',
    args: ['bx', 'cx', 'dx', 'si', 'di', 'bp'],
    ret: 'ax',
    error: 'negative',
    cloneOrder: 'backwards',
    ecloneArgs: [0, 1, 2, 4], // v13: pids in edi (user-cr 7300cd9); esi only from Jan 2010
    cloneTlsArg: 3, // esi: struct user_desc *
    mmap: 'regs-pgoff', // mmap2
  },
  setTls: setI386Tls,
  compatFixup: i386CompatFixup,
  syscalls: {
    read: 3,
    write: 4,
    open: 5,
    close: 6,
    getpid: 20,
    getppid: 64,
    gettid: 224,
    getpgid: 132,
    getpgrp: 65,
    getsid: 147,
    setsid: 66,
    setpgid: 57,
    getuid: 199, // getuid32
    setuid: 213, // setuid32
    capget: 184,
    capset: 185,
    fork: 2,
    clone: 120,
    eclone: 337,
    clone3: 435,
    unshare: 310,
    setns: 346,
    pidfd_open: 434,
    exit: 1,
    exit_group: 252,
    wait4: 114,
    kill: 37,
    mmap: 192, // mmap2
    munmap: 91,
    sched_yield: 158,
    nanosleep: 162,
  },
});
