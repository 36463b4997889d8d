/**
 * Builds a large task tree across three pid-namespace levels with eclone,
 * each call entering the kernel through the architecture's registers and
 * reading clone_args and pids[] from the caller's memory, the way a
 * restorer does: arguments live in a MAP_SHARED page, so the restorer's own
 * memory is not copied on write after every fork.
 */
import { CLONE_NEWPID, Host, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE, SIGCHLD, encodeEcloneArgs, type Task } from '../src/index.js';
import { abiRegisters } from '../src/arch/reg-access.js';
import { libcOf } from '../src/program/libc.js';

/** containers makes two nested containers and returns the level-2 init, the restorer. */
function containers(arch: string): { host: Host; restorer: Task } {
  const host = Host.create({ arch, pidMax: 4 * 1024 * 1024 });
  const init1 = libcOf(host, host.init).eclone(SIGCHLD | CLONE_NEWPID, { nr_pids: 1 }, 48, [1000]).child!;
  const init2 = libcOf(host, init1).eclone(SIGCHLD | CLONE_NEWPID, { nr_pids: 2 }, 48, [1001, 1000]).child!;
  return { host, restorer: init2 };
}

/** buildTreeRaw issues `tasks` eclone calls from raw registers; returns the host and the call count. */
export function buildTreeRaw(arch: string, tasks: number): { host: Host; calls: number } {
  const { host, restorer } = containers(arch);
  const abi = restorer.abi;
  const l = libcOf(host, restorer);
  const page = l.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).ret;
  l.store(page, encodeEcloneArgs({ nr_pids: 3 }, abi.littleEndian));
  const pidsAddr = page + 64;
  const pids = new Uint8Array(12);
  const pv = new DataView(pids.buffer);
  const dv = restorer.dv;
  const { nr, args } = abiRegisters(abi);
  const [f, c, s, p] = abi.syscall.ecloneArgs;
  const pc = abi.getPc(dv);
  for (let i = 0; i < tasks; i++) {
    const want = 2000 + i;
    for (let level = 0; level < 3; level++) pv.setInt32(level * 4, want, abi.littleEndian);
    restorer.mm.write(pidsAddr, pids);
    abi.setPc(dv, pc);
    nr.set(dv, abi.syscalls.eclone);
    args[f]!.set(dv, SIGCHLD);
    args[c]!.set(dv, page);
    args[s]!.set(dv, 48);
    args[p]!.set(dv, pidsAddr);
    host.syscall(restorer);
    if (abi.readReturn(dv).ret !== want) throw new Error(`eclone ${i} failed: ${JSON.stringify(abi.readReturn(dv))}`);
  }
  return { host, calls: tasks };
}

/** buildTreeLibc does the same through the C library (arguments marshalled on the stack, which copy-on-write then copies). */
export function buildTreeLibc(arch: string, tasks: number): { host: Host; calls: number } {
  const { host, restorer } = containers(arch);
  const l = libcOf(host, restorer);
  for (let i = 0; i < tasks; i++) {
    const want = 2000 + i;
    if (l.eclone(SIGCHLD, { nr_pids: 3 }, 48, [want, want, want]).ret !== want) throw new Error(`eclone ${i} failed`);
  }
  return { host, calls: tasks };
}
