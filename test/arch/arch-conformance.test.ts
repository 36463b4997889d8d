/**
 * One suite over every registry entry: register and FPU layouts as
 * docs/semantics.md §15.2 gives them, byte-exact round trips, the syscall ABI
 * seen from raw registers (including powerpc's CR0.SO error convention and
 * the restart state), syscall numbers, TLS, and the compat relation.
 */
import { describe, expect, it } from 'vitest';
import { ARCHES, CLONE_SETTLS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, Host, SIGCHLD, archByName, decodeRegs, encodeRegs, nonZeroPadding, placement, type Arch } from '../../src/index.js';
import { fieldOf, layoutGaps } from '../../src/arch/register-file.js';
import { abiRegisters, accessor } from '../../src/arch/reg-access.js';
import { libcOf } from '../../src/program/libc.js';

/** Offsets and sizes from docs/semantics.md §15.2, per arch: [regs size, fpu size, {field: offset}]. */
const LAYOUT_FACTS: Record<string, [number, number, Record<string, number>]> = {
  i386: [68, 512, { bx: 0, ax: 24, gs: 40, orig_ax: 44, ip: 48, cs: 52, flags: 56, sp: 60, ss: 64 }],
  x86_64: [216, 512, { r15: 0, bp: 32, r10: 56, ax: 80, di: 112, orig_ax: 120, ip: 128, sp: 152, fs_base: 168, gs_base: 176, gs: 208 }],
  s390: [144, 136, { psw_mask: 0, psw_addr: 4, gpr0: 8, gpr2: 16, gpr15: 68, acr0: 72, acr15: 132, orig_gpr2: 136, pad: 140 }],
  s390x: [216, 136, { psw_mask: 0, psw_addr: 8, gpr0: 16, gpr2: 32, gpr15: 136, acr0: 144, acr1: 148, orig_gpr2: 208 }],
  ppc: [192, 264, { gpr0: 0, gpr3: 12, nip: 128, msr: 132, orig_gpr3: 136, ccr: 152, mq: 156, trap: 160, result: 172, zero0: 176 }],
  ppc64: [384, 264, { gpr0: 0, gpr13: 104, nip: 256, msr: 264, orig_gpr3: 272, ccr: 304, softe: 312, trap: 320, result: 344, zero3: 376 }],
};

const ECLONE_V13: Record<string, number> = { i386: 337, x86_64: 299, s390: 332, s390x: 332, ppc: 323, ppc64: 323 };

/** A deterministic byte stream (xorshift) for round-trip inputs. */
function bytes(n: number, seed: number): Uint8Array {
  let x = seed || 1;
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  });
}

function zeroPads(layout: Arch['regs'], b: Uint8Array): Uint8Array {
  for (const name of layout.zero) {
    const f = fieldOf(layout, name);
    b.fill(0, f.offset, f.offset + f.size);
  }
  return b;
}

/** setRegs writes the syscall number and arguments the way the task's C library would. */
function trapWith(h: Host, arch: Arch, nr: number, args: number[]): void {
  const t = h.init;
  abiRegisters(arch).nr.set(t.dv, nr);
  args.forEach((v, i) => abiRegisters(arch).args[i]!.set(t.dv, v));
  h.syscall(t);
}

describe.each(ARCHES.map((a) => [a.name, a] as const))('%s', (name, arch) => {
  const [regsSize, fpuSize, offsets] = LAYOUT_FACTS[name]!;

  it('has the register and FPU layouts of docs/semantics.md §15.2, every byte named once', () => {
    expect(arch.regs.size).toBe(regsSize);
    expect(arch.fpu.size).toBe(fpuSize);
    for (const [field, offset] of Object.entries(offsets)) expect([field, fieldOf(arch.regs, field).offset]).toEqual([field, offset]);
    expect(layoutGaps(arch.regs)).toEqual([]);
    expect(layoutGaps(arch.fpu)).toEqual([]);
    expect(arch.littleEndian).toBe(arch.family === 'x86');
    expect(arch.initialRegs(0, 0).length).toBe(regsSize);
    expect(arch.initialFpu().length).toBe(fpuSize);
  });

  it('decodes and re-encodes register and FPU sets byte for byte', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const regs = zeroPads(arch.regs, bytes(arch.regs.size, seed * 7919));
      expect(encodeRegs(arch.regs, decodeRegs(arch.regs, regs, arch.littleEndian), arch.littleEndian)).toEqual(regs);
      const fpu = zeroPads(arch.fpu, bytes(arch.fpu.size, seed * 104729));
      expect(encodeRegs(arch.fpu, decodeRegs(arch.fpu, fpu, arch.littleEndian), arch.littleEndian)).toEqual(fpu);
    }
  });

  it('reports pad and zero slots that are not zero', () => {
    const regs = bytes(arch.regs.size, 99);
    expect(nonZeroPadding(arch.regs, regs, arch.littleEndian)).toEqual(arch.regs.zero.filter((n) => {
      const f = fieldOf(arch.regs, n);
      return regs.subarray(f.offset, f.offset + f.size).some((b) => b !== 0);
    }));
    expect(nonZeroPadding(arch.regs, zeroPads(arch.regs, regs), arch.littleEndian)).toEqual([]);
  });

  it('numbers eclone as v13 did, clone3 as 435, clone per its table', () => {
    expect(arch.syscalls.eclone).toBe(ECLONE_V13[name]);
    expect(arch.syscalls.clone3).toBe(435);
    expect(arch.syscalls.clone).toBe(name === 'x86_64' ? 56 : 120);
    expect(new Set(Object.values(arch.syscalls)).size).toBe(Object.keys(arch.syscalls).length);
  });

  it('returns errors through the ABI: -errno, or CR0.SO with a positive errno in r3 on powerpc', () => {
    const h = Host.create({ arch: name });
    const t = h.init;
    trapWith(h, arch, arch.syscalls.eclone, [SIGCHLD, 0, 47, 0, 0, 0]);
    const ret = accessor(arch.regs, arch.littleEndian, arch.syscall.ret);
    if (arch.syscall.error === 'cr0-so') {
      expect(ret.get(t.dv)).toBe(22);
      expect(accessor(arch.regs, false, 'ccr').low32(t.dv) & 0x10000000).toBe(0x10000000);
      expect(accessor(arch.regs, false, 'trap').get(t.dv)).toBe(0xc00);
    } else {
      expect(ret.signed(t.dv)).toBe(-22);
    }
    expect(arch.readReturn(t.dv)).toEqual({ ret: -1, errno: 22 });
    trapWith(h, arch, arch.syscalls.getpid, []);
    expect(arch.readReturn(t.dv)).toEqual({ ret: 1, errno: 0 });
    if (arch.syscall.error === 'cr0-so') expect(accessor(arch.regs, false, 'ccr').low32(t.dv) & 0x10000000).toBe(0);
  });

  it('a new child sees a zero result (and CR0.SO clear) in the parent\'s registers', () => {
    const h = Host.create({ arch: name });
    const child = libcOf(h, h.init).fork().child!;
    expect(arch.readReturn(child.dv)).toEqual({ ret: 0, errno: 0 });
    expect(arch.getPc(child.dv)).toBe(arch.getPc(h.init.dv) + arch.syscall.insnSize);
  });

  it('leaves a blocked syscall restartable: pc on the trap, first argument restored', () => {
    const h = Host.create({ arch: name });
    libcOf(h, h.init).fork();
    const pc = arch.getPc(h.init.dv);
    // -1 fills the whole register: the restart must restore every byte of it.
    trapWith(h, arch, arch.syscalls.wait4, [-1, 0, 0, 0, 0, 0]);
    expect(h.init.blockedIn).toBe('wait4');
    expect(arch.getPc(h.init.dv)).toBe(pc);
    expect(abiRegisters(arch).args[0]!.signed(h.init.dv)).toBe(-1);
    expect(arch.syscallNumber(h.init.dv, h.init.extra)).toBe(arch.syscalls.wait4);
  });

  it('installs CLONE_SETTLS in the thread-pointer register(s)', () => {
    const h = Host.create({ arch: name });
    const l = libcOf(h, h.init);
    let tls = 0x1234560;
    if (name === 'i386') {
      // struct user_desc for GDT entry 6
      tls = l.mmap(0, 4096, 3, 0x22, -1, 0).ret;
      l.store(tls, Uint8Array.from([6, 0, 0, 0, 0x78, 0x56, 0x34, 0x12, 0xff, 0xff, 0x0f, 0, 0x51, 0, 0, 0]));
    }
    const child = l.clone(CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS, 0, 0, 0, tls).child!;
    const decoded = decodeRegs(arch.regs, child.regs, arch.littleEndian);
    if (name === 'i386') expect(Array.from(child.extra['tls']!.subarray(4, 8))).toEqual([0x78, 0x56, 0x34, 0x12]);
    else if (name === 's390x') expect([decoded['acr0'], decoded['acr1']]).toEqual([0n, 0x1234560n]);
    else expect(decoded[arch.tlsRegisters[0]!]).toBe(0x1234560n);
  });
});

describe('compat relation (docs/semantics.md §15.7)', () => {
  it('allows identity and the three compat pairs and refuses every other pair with a reason', () => {
    const compat = new Set(['i386>x86_64', 's390>s390x', 'ppc>ppc64']);
    for (const from of ARCHES) {
      for (const to of ARCHES) {
        const p = placement(from, to);
        const key = `${from.name}>${to.name}`;
        if (from === to) expect(p).toEqual({ ok: true, mode: 'native' });
        else if (compat.has(key)) expect(p).toEqual({ ok: true, mode: 'compat' });
        else {
          expect(p.ok).toBe(false);
          if (!p.ok) expect(p.reason).toContain(from.name);
        }
      }
    }
  });

  it('accepts the CLI aliases x86 and powerpc', () => {
    expect(archByName('x86')?.name).toBe('i386');
    expect(archByName('powerpc')?.name).toBe('ppc');
    expect(archByName('arm64')).toBeUndefined();
  });
});
