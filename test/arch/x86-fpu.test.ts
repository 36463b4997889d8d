/** FSAVE ⇄ FXSAVE conversion as the kernel does it (docs/semantics.md §15.8, arch/x86/kernel/fpu/regset.c), on its known vectors. */
import { describe, expect, it } from 'vitest';
import { fsaveToFxsave, fxsaveToFsave, twdFxsrToI387, twdI387ToFxsr } from '../../src/index.js';
import { fxsaveInit } from '../../src/arch/x86/fpu.js';

/** fx builds an FXSAVE image with TOP, the abridged tag and ST0's 80-bit value. */
function fx(top: number, abridged: number, st0: { sig: bigint; exp: number }): Uint8Array {
  const b = fxsaveInit();
  const dv = new DataView(b.buffer);
  dv.setUint16(2, top << 11, true);
  dv.setUint16(4, abridged, true);
  dv.setBigUint64(32, st0.sig, true);
  dv.setUint16(40, st0.exp, true);
  return b;
}

describe('tag-word conversion', () => {
  it('twd_i387_to_fxsr keeps empty vs non-empty', () => {
    const vectors: Array<[number, number]> = [
      [0xffff, 0x00],
      [0x0000, 0xff],
      [0x3fff, 0x80],
      [0xfffc, 0x01],
      [0xfffd, 0x01],
      [0xfffe, 0x01],
      [0x5555, 0xff],
      [0xaaaa, 0xff],
    ];
    for (const [full, abridged] of vectors) expect([full, twdI387ToFxsr(full)]).toEqual([full, abridged]);
  });

  it('twd_fxsr_to_i387 classifies each register from its contents', () => {
    expect(twdFxsrToI387(fx(0, 0, { sig: 0n, exp: 0 }))).toBe(0xffffffff);
    expect(twdFxsrToI387(fx(7, 0x80, { sig: 0x8000000000000000n, exp: 0x3fff }))).toBe(0xffff3fff); // 1.0: valid
    expect(twdFxsrToI387(fx(7, 0x80, { sig: 0n, exp: 0 }))).toBe(0xffff7fff); // +0.0: zero
    expect(twdFxsrToI387(fx(7, 0x80, { sig: 1n, exp: 0 }))).toBe(0xffffbfff); // denormal: special
    expect(twdFxsrToI387(fx(7, 0x80, { sig: 0xc000000000000000n, exp: 0x7fff }))).toBe(0xffffbfff); // NaN: special
    expect(twdFxsrToI387(fx(7, 0x80, { sig: 0x4000000000000000n, exp: 0x3fff }))).toBe(0xffffbfff); // unnormal: special
    expect(twdFxsrToI387(fx(0, 0x01, { sig: 0x8000000000000000n, exp: 0x3fff }))).toBe(0xfffffffc); // TOP 0: ST0 is R0
  });
});

describe('FSAVE ⇄ FXSAVE', () => {
  it('carries the environment and registers across, packing FOP into fcs on the 32-bit form', () => {
    const fs = new Uint8Array(108);
    const dv = new DataView(fs.buffer);
    dv.setUint32(0, 0xffff037f, true);
    dv.setUint32(4, 0xffff3800, true); // TOP = 7
    dv.setUint32(8, 0xffff3fff, true); // R7 valid, the rest empty
    dv.setUint32(12, 0x08048123, true);
    dv.setUint32(16, (0x1d9 << 16) | 0x73, true); // FOP 0x1d9, CS 0x73
    dv.setUint32(20, 0x0804a000, true);
    dv.setUint32(24, 0xffff007b, true);
    dv.setBigUint64(28, 0x8000000000000000n, true);
    dv.setUint16(36, 0x3fff, true);
    const fx32 = fsaveToFxsave(fs, fxsaveInit(), 32);
    const f = new DataView(fx32.buffer);
    expect([f.getUint16(0, true), f.getUint16(2, true), f.getUint16(4, true), f.getUint16(6, true)]).toEqual([0x037f, 0x3800, 0x80, 0x1d9]);
    expect([f.getUint32(8, true), f.getUint32(12, true), f.getUint32(16, true), f.getUint32(20, true)]).toEqual([0x08048123, 0x73, 0x0804a000, 0xffff007b]);
    expect(f.getUint32(24, true)).toBe(0x1f80); // mxcsr kept from the base image
    expect(fxsaveToFsave(fx32, 32)).toEqual(fs);
  });

  it('uses rip/rdp on the 64-bit form and takes the selectors from the caller', () => {
    const fs = new Uint8Array(108);
    const dv = new DataView(fs.buffer);
    dv.setUint32(0, 0xffff037f, true);
    dv.setUint32(4, 0xffff0000, true);
    dv.setUint32(8, 0xffffffff, true);
    dv.setUint32(12, 0x1000, true);
    dv.setUint32(20, 0x2000, true);
    const fx64 = fsaveToFxsave(fs, fxsaveInit(), 64);
    const f = new DataView(fx64.buffer);
    expect([f.getBigUint64(8, true), f.getBigUint64(16, true)]).toEqual([0x1000n, 0x2000n]);
    const back = new DataView(fxsaveToFsave(fx64, 64, { cs: 0x23, ds: 0x2b }).buffer);
    expect([back.getUint32(12, true), back.getUint32(16, true), back.getUint32(20, true), back.getUint32(24, true)]).toEqual([0x1000, 0x23, 0x2000, 0xffff002b]);
  });
});
