/**
 * Access to a task's user memory in its own byte order: the kernel's
 * copy_from_user / put_user. Every failure is EFAULT from the memory map.
 */
import type { Task } from './task.js';

/** copyFromUser reads `len` bytes of the task's memory at `addr`. */
export function copyFromUser(task: Task, addr: number, len: number): Uint8Array {
  return task.mm.read(addr, len);
}

/** viewOf wraps bytes in a DataView. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** U64 is a u64 read as its two halves: exact whatever its value. */
export interface U64 {
  hi: number;
  lo: number;
}

/** getU64 reads a u64 field in the task's byte order. */
export function getU64(dv: DataView, offset: number, le: boolean): U64 {
  return le
    ? { lo: dv.getUint32(offset, true), hi: dv.getUint32(offset + 4, true) }
    : { hi: dv.getUint32(offset, false), lo: dv.getUint32(offset + 4, false) };
}

/** u64At reads a u64 field as a number: exact below 2^53, and zero exactly when the field is (the hot paths need no halves). */
export function u64At(dv: DataView, offset: number, le: boolean): number {
  // Not readUnsigned(dv, offset, 8, le): eclone reads five of these a call, and going
  // through that function's switch measured 800 more instructions per eclone.
  // Offsets in locals: V8 inlines the loads then (see byte-order.ts).
  const hiAt = le ? offset + 4 : offset;
  const loAt = le ? offset : offset + 4;
  return dv.getUint32(hiAt, le) * 2 ** 32 + dv.getUint32(loAt, le);
}

/** u64IsZero reports whether a u64 field is 0, in either byte order (a field that must be 0). */
export function u64IsZero(dv: DataView, offset: number): boolean {
  return (dv.getUint32(offset) | dv.getUint32(offset + 4)) === 0;
}

/** u64Low reads the low 32 bits of a u64 field: what a 32-bit kernel keeps of it. */
export function u64Low(dv: DataView, offset: number, le: boolean): number {
  const loAt = le ? offset : offset + 4;
  return dv.getUint32(loAt, le);
}

/** u64Value returns a u64 as a number (exact below 2^53; larger values only ever fail address checks). */
export function u64Value(v: U64): number {
  return v.hi * 2 ** 32 + v.lo;
}

/** isZero64 reports whether a u64 is zero. */
export function isZero64(v: U64): boolean {
  return v.hi === 0 && v.lo === 0;
}

/** putUserInt writes a 32-bit int at `addr` in the task's byte order (put_user of an int or pid_t). */
export function putUserInt(task: Task, addr: number, value: number): void {
  const b = new Uint8Array(4);
  viewOf(b).setInt32(0, value | 0, task.abi.littleEndian);
  task.mm.write(addr, b);
}

/** Room for the longest pid array a syscall takes (33 levels). */
const intScratch = new Uint8Array(33 * 4);
const intScratchView = new DataView(intScratch.buffer);

/** getUserInts reads `count` 32-bit ints at `addr` in the task's byte order. */
export function getUserInts(task: Task, addr: number, count: number): number[] {
  return getUserIntsInto(task, addr, count, new Array<number>(count), 0);
}

/** getUserIntsInto is getUserInts storing into out[at..at+count) (a kernel buffer reused from call to call); returns `out`. */
export function getUserIntsInto(task: Task, addr: number, count: number, out: number[], at: number): number[] {
  const mm = task.mm;
  const small = count <= 33;
  const buffer = small ? intScratch : new Uint8Array(count * 4);
  const dv = mm.readView(addr, count * 4, buffer, small ? intScratchView : viewOf(buffer));
  const base = mm.viewBase;
  const le = task.abi.littleEndian;
  for (let i = 0; i < count; i++) out[at + i] = dv.getInt32(base + i * 4, le);
  return out;
}

/** tryPutUserInt is put_user whose failure the kernel ignores (CLONE_*_SETTID, clear_child_tid). */
export function tryPutUserInt(task: Task, addr: number, value: number): void {
  try {
    putUserInt(task, addr, value);
  } catch {
    // the kernel ignores a fault here
  }
}
