/**
 * RegisterFile gives named access to a register set kept as its native-layout
 * bytes. Registers never exist in any other form, so encode and decode are
 * byte-exact by construction.
 */
import type { RegField, RegLayout } from './arch.js';
import { readBig, readUnsigned, writeBig, writeWord } from './byte-order.js';

const fieldMaps = new WeakMap<RegLayout, Map<string, RegField>>();

/** fieldOf returns the named field of a layout, or throws when the layout has none. */
export function fieldOf(layout: RegLayout, name: string): RegField {
  let map = fieldMaps.get(layout);
  if (!map) {
    map = new Map(layout.fields.map((f) => [f.name, f]));
    fieldMaps.set(layout, map);
  }
  const f = map.get(name);
  if (!f) throw new RangeError(`register layout ${layout.mirrors} has no field ${name}`);
  return f;
}

/** getReg reads a field of at most 8 bytes as a number. */
export function getReg(layout: RegLayout, dv: DataView, le: boolean, name: string): number {
  const f = fieldOf(layout, name);
  return readUnsigned(dv, f.offset, f.size, le);
}

/** setReg writes a field of at most 8 bytes (negative values in two's complement). */
export function setReg(layout: RegLayout, dv: DataView, le: boolean, name: string, value: number): void {
  const f = fieldOf(layout, name);
  writeWord(dv, f.offset, f.size, le, value);
}

/** decodeRegs returns every field of a register set as an unsigned bigint, by name. */
export function decodeRegs(layout: RegLayout, bytes: Uint8Array, le: boolean): Record<string, bigint> {
  if (bytes.length !== layout.size) {
    throw new RangeError(`${layout.mirrors} is ${layout.size} bytes, got ${bytes.length}`);
  }
  const out: Record<string, bigint> = {};
  for (const f of layout.fields) out[f.name] = readBig(bytes, f.offset, f.size, le);
  return out;
}

/** encodeRegs builds a register set from named values; absent fields and every byte outside a field are zero. */
export function encodeRegs(layout: RegLayout, values: Record<string, bigint>, le: boolean): Uint8Array {
  const bytes = new Uint8Array(layout.size);
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v !== undefined) writeBig(bytes, f.offset, f.size, le, v);
  }
  return bytes;
}

/** nonZeroPadding lists the pad and zero fields of a register set that are not zero (kernels write them as 0). */
export function nonZeroPadding(layout: RegLayout, bytes: Uint8Array, le: boolean): string[] {
  return layout.zero.filter((name) => {
    const f = fieldOf(layout, name);
    return readBig(bytes, f.offset, f.size, le) !== 0n;
  });
}

/** fields builds a list of same-size fields named prefix0..prefixN-1 at a stride. */
export function fieldRun(prefix: string, count: number, offset: number, stride: number, size: RegField['size']): RegField[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i}`, offset: offset + i * stride, size }));
}

/** named builds fields from (name, offset) pairs of one size. */
export function named(size: RegField['size'], pairs: ReadonlyArray<readonly [string, number]>): RegField[] {
  return pairs.map(([name, offset]) => ({ name, offset, size }));
}

/** layoutCovers checks that a layout's fields tile its size with no overlap and no gap (every byte is named). */
export function layoutGaps(layout: RegLayout): Array<[number, number]> {
  const sorted = [...layout.fields].sort((a, b) => a.offset - b.offset);
  const gaps: Array<[number, number]> = [];
  let at = 0;
  for (const f of sorted) {
    if (f.offset !== at) gaps.push([at, f.offset]);
    at = Math.max(at, f.offset + f.size);
  }
  if (at !== layout.size) gaps.push([at, layout.size]);
  return gaps;
}
