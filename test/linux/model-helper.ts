/**
 * ModelHelper speaks the real-kernel helper's line protocol (init, op ID REQUEST, reset) over a
 * model host, each agent a model task making its calls through its C library. It lets the real
 * executor's translation of a plan into agents' calls be checked against the model, the real
 * kernel's twin, where the helper cannot run; it is not the real kernel.
 */
import { CLONE_NEWPID } from '../../src/abi/clone-flags.js';
import { SIGCHLD, SIGKILL } from '../../src/abi/signals.js';
import type { Host } from '../../src/kernel/host.js';
import type { Task } from '../../src/kernel/task.js';
import { libcOf, type SyscallResult } from '../../src/program/libc.js';

export class ModelHelper {
  readonly agents = new Map<number, Task>();
  readonly lines: string[] = [];

  constructor(private readonly host: Host) {}

  private result(r: SyscallResult, extra = ''): string {
    return `r ${r.ret} ${r.errno ?? '-'}${extra}`;
  }

  private made(id: number, r: SyscallResult): string {
    if (!r.child) return this.result(r);
    this.agents.set(id, r.child);
    return this.result(r, ` child=${id} nspid=${r.child.nspids.join(',')}`);
  }

  async command(line: string): Promise<string> {
    this.lines.push(line);
    const w = line.split(' ');
    const n = w.map(Number);
    if (w[0] === 'init') {
      // SET_TID: 0, one pid, or A,B,... innermost level first
      const setTid = w[3] === '0' ? [] : w[3]!.split(',').map(Number);
      const r = libcOf(this.host, this.host.init).clone3({ flags: n[2]! | CLONE_NEWPID, exit_signal: SIGCHLD, set_tid: setTid }, 88);
      return this.made(n[1]!, r);
    }
    if (w[0] === 'reset') {
      const l = libcOf(this.host, this.host.init);
      for (const t of this.agents.values()) {
        if (t.parent !== this.host.init) continue;
        if (!t.exited) l.kill(t.pid.nr, SIGKILL);
        l.wait4(t.pid.nr, 0, 0, 0);
      }
      this.agents.clear();
      return 'ok';
    }
    // ids ID: the agent's group and session in its own namespace, as the helper reads them from /proc
    if (w[0] === 'ids') {
      const t = this.agents.get(n[1]!);
      if (!t) return 'err no agent';
      const l = libcOf(this.host, t);
      return t.exited ? 'gone' : `r 0 - pgrp=${l.getpgid(0).ret} sid=${l.getsid(0).ret}`;
    }
    // confirm: every agent of the model is there once made
    if (w[0] === 'confirm') return 'ok';
    if (w[0] !== 'op') return `err unknown command ${w[0]}`;
    const agent = this.agents.get(n[1]!);
    if (!agent) return 'err no agent';
    if (agent.exited) return 'gone';
    const l = libcOf(this.host, agent);
    switch (w[2]) {
      case 'clone3':
        return this.made(n[3]!, l.clone3({ flags: n[4]!, exit_signal: n[5]!, set_tid: n.slice(7, 7 + n[6]!) }, 88));
      case 'setsid':
        return this.result(l.setsid());
      case 'setpgid':
        return this.result(l.setpgid(n[3]!, n[4]!));
      case 'setns': {
        const fd = l.pidfd_open(n[3]!, 0);
        if (fd.errno) return `${this.result(fd)} stage=pidfd`;
        const r = l.setns(fd.ret, n[4]!);
        l.close(fd.ret);
        return `${this.result(r)} stage=setns`;
      }
      case 'exit':
        l.exit(n[3]!);
        return 'dead';
      case 'wait4': {
        const r = l.wait4(n[3]!, 0, n[4]!, 0);
        return this.result(r, ' status=0');
      }
      case 'kill': {
        const r = l.kill(n[3]!, n[4]!);
        return agent.exited ? 'dead' : this.result(r);
      }
      case 'unshare':
        return this.result(l.unshare(n[3]!));
      case 'write': {
        // the helper's write PATH VALUE: open, write, close, as the agent itself
        const fd = l.open(w[3]!, 1 /* O_WRONLY */);
        if (fd.errno) return this.result(fd);
        const r = l.write(fd.ret, w[4]!);
        l.close(fd.ret);
        return this.result(r.errno ? r : { ret: 0 });
      }
      case 'ids':
        return `r 0 - pid=${l.getpid().ret} ppid=${l.getppid().ret} pgrp=${l.getpgid(0).ret} sid=${l.getsid(0).ret} tid=${l.gettid().ret}`;
      default:
        return `err unknown request ${w[2]}`;
    }
  }
}
