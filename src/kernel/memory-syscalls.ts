/**
 * mmap and munmap for anonymous memory. Each ABI passes mmap's arguments its
 * own way (registers, registers with a page offset for mmap2, or a struct in
 * memory for s390's old_mmap); all reduce to the same six values here.
 */
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { readUnsigned } from '../arch/byte-order.js';
import { fail } from './kernel-error.js';
import type { SyscallArgs } from './syscall-args.js';
import type { Task } from './task.js';
import { copyFromUser, viewOf } from './uaccess.js';

interface MmapArgs {
  addr: number;
  length: number;
  prot: number;
  flags: number;
  fd: number;
  offset: number;
}

/** mmapArgs reads mmap's arguments in the caller ABI's convention. */
function mmapArgs(task: Task, a: SyscallArgs): MmapArgs {
  const abi = task.abi;
  if (abi.syscall.mmap === 'struct') {
    const w = abi.wordSize;
    const dv = viewOf(copyFromUser(task, a.word(0), 6 * w));
    const at = (i: number): number => readUnsigned(dv, i * w, w, abi.littleEndian);
    return { addr: at(0), length: at(1), prot: at(2), flags: at(3), fd: at(4) | 0, offset: at(5) };
  }
  const offset = abi.syscall.mmap === 'regs-pgoff' ? a.word(5) * abi.pageSize : a.word(5);
  return { addr: a.word(0), length: a.word(1), prot: a.u32(2), flags: a.u32(3), fd: a.int(4), offset };
}

export function sysMmap(task: Task, a: SyscallArgs): number {
  const m = mmapArgs(task, a);
  if ((m.flags & MAP_ANONYMOUS) === 0) fail('EBADF', 'only anonymous mappings are modelled: no file descriptor can be mapped');
  if ((m.flags & (MAP_SHARED | MAP_PRIVATE)) === 0) fail('EINVAL', 'mmap needs MAP_SHARED or MAP_PRIVATE');
  if ((m.prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) fail('EINVAL', `unknown protection bits 0x${m.prot.toString(16)}`);
  if (m.offset % task.abi.pageSize !== 0) fail('EINVAL', 'mmap offset is not page aligned');
  if (m.length === 0) fail('EINVAL', 'mmap of zero length');
  return task.mm.map(m.addr, m.length, m.prot, m.flags);
}

export function sysMunmap(task: Task, addr: number, length: number): number {
  task.mm.unmap(addr, length);
  return 0;
}
