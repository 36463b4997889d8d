/**
 * Tasks keep their registers in slabs shared by hundreds of tasks
 * (src/kernel/slabs.ts). Sharing the storage must not share the state:
 * each child gets the parent's registers with its own return value, across
 * slab boundaries, and a write to one task's registers reaches no other.
 */
import { describe, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { ALL_ARCHES } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

describe.each(ALL_ARCHES)('register storage on %s', (arch) => {
  it('1,000 children (several slabs) each hold the parent\'s registers with fork\'s 0 returned, and writing one changes no other', () => {
    const h = Host.create({ arch });
    const parent = h.init;
    const kids = Array.from({ length: 1000 }, () => libcOf(h, parent).fork().child!);
    const first = kids[0]!.regs.slice();
    for (const k of kids) {
      expect(k.abi.readReturn(k.dv).ret).toBe(0);
      expect(k.regs).toEqual(first);
    }
    const target = kids[500]!;
    target.regs.fill(0xa5);
    expect(target.dv.getUint8(0)).toBe(0xa5);
    for (const k of kids) if (k !== target) expect(k.regs).toEqual(first);
    expect(kids[499]!.regs).toEqual(first);
    expect(kids[501]!.regs).toEqual(first);
  }, 60_000);

  it('a register write through dv is what regs shows, and takeState replaces the bytes in place', () => {
    const h = Host.create({ arch });
    const t = libcOf(h, h.init).fork().child!;
    t.dv.setUint8(3, 0x5a);
    expect(t.regs[3]).toBe(0x5a);
    const other = new Uint8Array(t.regs.length).fill(7);
    t.takeState(t.abi, other, t.fpu, t.extra);
    other.fill(9); // the task copied them
    expect([...t.regs].every((b) => b === 7)).toBe(true);
    expect(t.dv.getUint8(0)).toBe(7);
  });
});
