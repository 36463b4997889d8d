/**
 * A Libc given an argument window marshals structs and arrays there instead
 * of below the stack pointer: the calls behave exactly as with the stack
 * window (same results, same pids, a failing call changes nothing), the
 * stack is not touched, and with a MAP_SHARED window a restorer's forks
 * leave its stack shared copy-on-write with every child.
 */
import { describe, expect, it } from 'vitest';
import { ARGUMENT_WINDOW, Host, Libc, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE, SIGCHLD } from '../../src/index.js';
import { abiRegisters } from '../../src/arch/reg-access.js';
import { ALL_ARCHES, expectUnchanged } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

describe.each(ALL_ARCHES)('a Libc with an argument window on %s', (arch) => {
  it('eclone and clone3 give the same results as through the stack, and the stack stays shared with every child', () => {
    const viaStack = Host.create({ arch });
    const viaWindow = Host.create({ arch });
    const window = libcOf(viaWindow, viaWindow.init).mmap(0, ARGUMENT_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).ret;
    libcOf(viaStack, viaStack.init).mmap(0, ARGUMENT_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const init = viaWindow.init;
    const l = new Libc(viaWindow, init, window);
    const stackTop = abiRegisters(init.abi).sp.get(init.dv);
    // the stack page a stack window would marshal into (from SCRATCH_TOP_GAP, 512 bytes, plus a window
    // below the stack pointer: libc.ts), written once so that there is a frame to share
    const stackPage = stackTop - 512 - ARGUMENT_WINDOW;
    init.mm.write(stackPage, Uint8Array.of(1, 2, 3, 4));
    const calls: Array<(c: Libc) => ReturnType<Libc['eclone']>> = [
      (c) => c.eclone(SIGCHLD, { nr_pids: 1 }, 48, [377]),
      (c) => c.clone3({ exit_signal: SIGCHLD, set_tid: [399] }, 88),
      (c) => c.eclone(SIGCHLD, { nr_pids: 1 }, 48, [377]), // EBUSY
      (c) => c.clone3({ exit_signal: SIGCHLD, set_tid: [399] }, 88), // EEXIST
      (c) => c.eclone(SIGCHLD, { nr_pids: 0 }, 48, []),
    ];
    for (const call of calls) {
      const a = call(libcOf(viaStack, viaStack.init));
      const b = call(l);
      expect({ ret: b.ret, errno: b.errno, pid: b.child?.nspids }).toEqual({ ret: a.ret, errno: a.errno, pid: a.child?.nspids });
      // the window's calls never wrote the stack, so it is still one frame shared with the children
      expect(init.mm.isShared(stackPage)).toBe(true);
    }
    expect(viaWindow.snapshot().tasks.length).toBe(viaStack.snapshot().tasks.length);
    expect(expectUnchanged(viaWindow, () => l.eclone(SIGCHLD, { nr_pids: 1 }, 48, [377])).errno).toBe('EBUSY');
  });
});
