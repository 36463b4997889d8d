/**
 * x86 FPU state: the FSAVE image (108 bytes, i386 NT_PRFPREG) and the FXSAVE
 * image (512 bytes) in its 32- and 64-bit forms, and the kernel's conversions
 * between them (docs/semantics.md §15.8; arch/x86/kernel/fpu/regset.c
 * convert_from_fxsr / convert_to_fxsr, twd_i387_to_fxsr / twd_fxsr_to_i387).
 */
import type { RegLayout } from '../arch.js';
import { fieldRun, named } from '../register-file.js';

/** FSAVE_LAYOUT mirrors struct user_i387_struct (i386) / user_i387_ia32_struct. */
export const FSAVE_LAYOUT: RegLayout = {
  mirrors: 'user_i387_ia32_struct (fsave, 108 bytes)',
  size: 108,
  fields: [
    ...named(4, [
      ['cwd', 0],
      ['swd', 4],
      ['twd', 8],
      ['fip', 12],
      ['fcs', 16],
      ['foo', 20],
      ['fos', 24],
    ]),
    ...fieldRun('st', 8, 28, 10, 10),
  ],
  zero: [],
};

const FXSAVE_HEAD = named(2, [
  ['cwd', 0],
  ['swd', 2],
  ['twd', 4],
  ['fop', 6],
]);
const FXSAVE_TAIL = [
  ...named(4, [
    ['mxcsr', 24],
    ['mxcsr_mask', 28],
  ]),
  ...fieldRun('st', 8, 32, 16, 16),
];

/** FXSAVE32_LAYOUT mirrors struct user_fxsr_struct (i386 NT_PRXFPREG): 8 XMM registers. */
export const FXSAVE32_LAYOUT: RegLayout = {
  mirrors: 'user_fxsr_struct (fxsave 32-bit form, 512 bytes)',
  size: 512,
  fields: [
    ...FXSAVE_HEAD,
    ...named(4, [
      ['fip', 8],
      ['fcs', 12],
      ['foo', 16],
      ['fos', 20],
    ]),
    ...FXSAVE_TAIL,
    ...fieldRun('xmm', 8, 160, 16, 16),
    ...fieldRun('reserved', 11, 288, 16, 16),
    ...fieldRun('sw', 3, 464, 16, 16),
  ],
  zero: [],
};

/** FXSAVE64_LAYOUT mirrors struct user_i387_struct (x86_64 NT_PRFPREG): 16 XMM registers. */
export const FXSAVE64_LAYOUT: RegLayout = {
  mirrors: 'user_i387_struct (fxsave 64-bit form, 512 bytes)',
  size: 512,
  fields: [
    ...FXSAVE_HEAD,
    ...named(8, [
      ['rip', 8],
      ['rdp', 16],
    ]),
    ...FXSAVE_TAIL,
    ...fieldRun('xmm', 16, 160, 16, 16),
    ...fieldRun('padding', 3, 416, 16, 16),
    ...fieldRun('sw', 3, 464, 16, 16),
  ],
  zero: [],
};

/** fxsaveInit returns the FXSAVE image of a freshly initialised FPU (fninit: cwd 0x37f, all tags empty; mxcsr 0x1f80). */
export function fxsaveInit(): Uint8Array {
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0x037f, true);
  dv.setUint32(24, 0x1f80, true);
  dv.setUint32(28, 0xffff, true);
  return b;
}

/**
 * twdI387ToFxsr folds a full 2-bit-per-register tag word into the abridged
 * 1-bit form: bit i is set unless physical register i is tagged empty (11).
 */
export function twdI387ToFxsr(twd: number): number {
  // A register is non-empty when either bit of its pair is 0, i.e. when either
  // bit of the inverted pair is 1; then squeeze the pairs into adjacent bits.
  let v = ~twd & 0xffff;
  v = (v | (v >>> 1)) & 0x5555;
  v = (v | (v >>> 1)) & 0x3333;
  v = (v | (v >>> 2)) & 0x0f0f;
  v = (v | (v >>> 4)) & 0x00ff;
  return v;
}

/** Tag values of the full tag word. */
const TAG_VALID = 0;
const TAG_ZERO = 1;
const TAG_SPECIAL = 2;
const TAG_EMPTY = 3;

/**
 * twdFxsrToI387 rebuilds the full tag word from an FXSAVE image: empty
 * registers stay empty (11), the others are classified from their contents.
 * Physical register i holds ST((i - TOP) mod 8).
 */
export function twdFxsrToI387(fx: Uint8Array): number {
  const dv = new DataView(fx.buffer, fx.byteOffset, fx.byteLength);
  const top = (dv.getUint16(2, true) >>> 11) & 7;
  const abridged = dv.getUint16(4, true) & 0xff;
  let twd = 0xffff0000;
  for (let phys = 0; phys < 8; phys++) {
    let tag = TAG_EMPTY;
    if ((abridged >>> phys) & 1) {
      const slot = 32 + ((phys - top) & 7) * 16;
      const exponent = dv.getUint16(slot + 8, true) & 0x7fff;
      const top16 = dv.getUint16(slot + 6, true);
      const anyBits = dv.getUint16(slot, true) | dv.getUint16(slot + 2, true) | dv.getUint16(slot + 4, true) | top16;
      if (exponent === 0x7fff) tag = TAG_SPECIAL;
      else if (exponent === 0) tag = anyBits === 0 ? TAG_ZERO : TAG_SPECIAL;
      else tag = top16 & 0x8000 ? TAG_VALID : TAG_SPECIAL; // explicit integer bit set: normal
    }
    twd = (twd | (tag << (2 * phys))) >>> 0;
  }
  return twd >>> 0;
}

/** FxsaveForm says which FXSAVE form an image is in. */
export type FxsaveForm = 32 | 64;

/**
 * fsaveToFxsave converts an FSAVE image into FXSAVE form, writing into a copy
 * of `base` (mxcsr and the XMM registers are not in FSAVE and keep base's values).
 */
export function fsaveToFxsave(fsave: Uint8Array, base: Uint8Array, form: FxsaveForm): Uint8Array {
  if (fsave.length !== 108) throw new RangeError(`fsave image is 108 bytes, got ${fsave.length}`);
  const fx = base.slice();
  const s = new DataView(fsave.buffer, fsave.byteOffset, 108);
  const d = new DataView(fx.buffer, fx.byteOffset, 512);
  const fcs = s.getUint32(16, true);
  d.setUint16(0, s.getUint32(0, true) & 0xffff, true);
  d.setUint16(2, s.getUint32(4, true) & 0xffff, true);
  d.setUint16(4, twdI387ToFxsr(s.getUint32(8, true)), true);
  d.setUint16(6, fcs >>> 16, true);
  if (form === 32) {
    d.setUint32(8, s.getUint32(12, true), true);
    d.setUint32(12, fcs & 0xffff, true);
    d.setUint32(16, s.getUint32(20, true), true);
    d.setUint32(20, s.getUint32(24, true), true);
  } else {
    // 64-bit form: rip = fip, rdp = foo; the selectors have no place (regset.c).
    d.setUint32(8, s.getUint32(12, true), true);
    d.setUint32(12, 0, true);
    d.setUint32(16, s.getUint32(20, true), true);
    d.setUint32(20, 0, true);
  }
  for (let i = 0; i < 8; i++) fx.set(fsave.subarray(28 + i * 10, 38 + i * 10), 32 + i * 16);
  return fx;
}

/** Selectors a 64-bit kernel synthesises for an FSAVE view of a 64-bit-form image (regset.c takes them from pt_regs). */
export interface FsaveSelectors {
  cs: number;
  ds: number;
}

/** fxsaveToFsave converts an FXSAVE image to the 108-byte FSAVE view, as convert_from_fxsr does. */
export function fxsaveToFsave(fx: Uint8Array, form: FxsaveForm, selectors?: FsaveSelectors): Uint8Array {
  if (fx.length !== 512) throw new RangeError(`fxsave image is 512 bytes, got ${fx.length}`);
  const out = new Uint8Array(108);
  const s = new DataView(fx.buffer, fx.byteOffset, 512);
  const d = new DataView(out.buffer);
  d.setUint32(0, (s.getUint16(0, true) | 0xffff0000) >>> 0, true);
  d.setUint32(4, (s.getUint16(2, true) | 0xffff0000) >>> 0, true);
  d.setUint32(8, twdFxsrToI387(fx), true);
  if (form === 32) {
    d.setUint32(12, s.getUint32(8, true), true);
    d.setUint32(16, ((s.getUint32(12, true) & 0xffff) | (s.getUint16(6, true) << 16)) >>> 0, true);
    d.setUint32(20, s.getUint32(16, true), true);
    d.setUint32(24, s.getUint32(20, true), true);
  } else {
    d.setUint32(12, s.getUint32(8, true), true);
    d.setUint32(16, selectors?.cs ?? 0, true);
    d.setUint32(20, s.getUint32(16, true), true);
    d.setUint32(24, ((selectors?.ds ?? 0) | 0xffff0000) >>> 0, true);
  }
  for (let i = 0; i < 8; i++) out.set(fx.subarray(32 + i * 16, 42 + i * 16), 28 + i * 10);
  return out;
}
