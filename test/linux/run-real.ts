/**
 * Runs a scenario on the real kernel through the C helper: the root is made
 * by the helper as the init of a fresh pid namespace, every task is an agent
 * doing its own calls, and pids are compared from that namespace down. The
 * whole namespace is killed and reaped after the run (`reset`).
 */
import type { HelperSession } from '../../src/linux/helper.js';
import { finalLine, SYSCTL_PATH, type Op, type Scenario, type TaskFinal } from './scenario.js';

/** exitSignal is clone3's exit_signal for `flags`: 0 with CLONE_THREAD or CLONE_PARENT (clone3_args_valid refuses any other), else SIGCHLD. */
export function exitSignal(flags: number): number {
  return flags & (0x10000 | 0x8000) ? 0 : 17;
}

/** request is the helper's agent request for an op (see the C file's header). */
function request(op: Op, childId: number): string {
  switch (op.op) {
    case 'clone3':
      return `clone3 ${childId} ${op.flags >>> 0} ${exitSignal(op.flags)} ${op.setTid.length} ${op.setTid.join(' ')}`.trim();
    case 'exit':
    case 'exit_group':
      return `${op.op} ${op.code}`;
    case 'wait4':
      return `wait4 ${op.pid} ${op.options}`;
    case 'setsid':
    case 'ids':
      return op.op;
    case 'setpgid':
      return `setpgid ${op.pid} ${op.pgid}`;
    case 'setuid':
      return `setuid ${op.uid}`;
    case 'unshare':
      return `unshare ${op.flags >>> 0}`;
    case 'setns':
      return `setns ${op.pid} ${op.nstype >>> 0}`;
    case 'pidfd_open':
      return `pidfd_open ${op.pid} 0`;
    case 'kill':
      return `kill ${op.pid} ${op.sig}`;
    case 'read_sysctl':
      return `read ${SYSCTL_PATH[op.name]}`;
    case 'write_sysctl':
      return `write ${SYSCTL_PATH[op.name]} ${op.value}`;
  }
}

interface Reply {
  ret: number;
  errno: string;
  kv: Map<string, string>;
}

function parseReply(line: string): Reply | null {
  const t = line.split(' ');
  if (t[0] !== 'r') return null;
  const kv = new Map<string, string>();
  for (const tok of t.slice(3)) {
    const eq = tok.indexOf('=');
    if (eq > 0) kv.set(tok.slice(0, eq), tok.slice(eq + 1));
  }
  return { ret: Number(t[1]), errno: t[2] ?? '?', kv };
}

/** outcome turns a helper reply into the step's comparable text. */
export function outcome(op: Op, reply: Reply, levels: (nspid: string) => string, ids?: string): string {
  const err = reply.errno === '-' ? '' : ` ${reply.errno}`;
  switch (op.op) {
    case 'clone3':
      if (reply.ret < 0) return `ret=-1${err}`;
      return `ret=${reply.ret} pids=${levels(reply.kv.get('nspid') ?? '')}${ids ? ` ${ids}` : ''}`;
    case 'wait4':
      return `ret=${reply.ret}${err} status=0x${Number(reply.kv.get('status') ?? 0).toString(16)}`;
    case 'setns':
      return `ret=${reply.ret}${err}${reply.ret < 0 ? ` at ${reply.kv.get('stage')}` : ''}`;
    case 'read_sysctl':
      return reply.ret < 0 ? `ret=-1${err}` : `value=${reply.kv.get('value')}`;
    case 'pidfd_open':
    case 'write_sysctl':
      return reply.ret < 0 ? `ret=-1${err}` : 'ok';
    case 'ids':
      return idsText(reply);
    default:
      return `ret=${reply.ret}${err}`;
  }
}

function idsText(reply: Reply): string {
  const k = reply.kv;
  return `ids=${k.get('pid')},${k.get('ppid')},${k.get('pgrp')},${k.get('sid')},${k.get('tid')}`;
}

/** runReal runs `s` on the machine and returns its lines; the helper is left with no agent. */
export async function runReal(h: HelperSession, s: Scenario): Promise<string[]> {
  const lines: string[] = [];
  try {
    const init = await h.command(`init 0 0 ${s.rootSetTid ? 1 : 0} 0`);
    const rootReply = parseReply(init);
    const rootNspid = rootReply?.kv.get('nspid');
    if (!rootReply || rootReply.ret < 0 || !rootNspid) throw new Error(`the helper could not make the scenario's root: ${init}`);
    const rootLevel = rootNspid.split(',').length - 1;
    const levels = (nspid: string): string => nspid.split(',').slice(rootLevel).join(',');
    const made = [0];
    for (const [i, step] of s.steps.entries()) {
      const head = `${i} t${step.task}`;
      if (!made.includes(step.task)) {
        lines.push(`${head}: not running`);
        continue;
      }
      const childId = i + 1;
      const line = await h.command(`op ${step.task} ${request(step.call, childId)}`);
      if (line === 'gone') {
        lines.push(`${head}: not running`);
        continue;
      }
      // the caller died in the call (exit, or a signal it sent itself), or is stuck in its exit
      if (line === 'dead' || line === 'stuck') {
        lines.push(`${head}: did not return`);
        continue;
      }
      const reply = parseReply(line.replace(/ unsettled$/, ''));
      if (!reply) {
        lines.push(`${head}: helper: ${line}`);
        continue;
      }
      let ids: string | undefined;
      if (step.call.op === 'clone3' && reply.ret >= 0) {
        made.push(childId);
        const r = parseReply(await h.command(`op ${childId} ids`));
        if (r) ids = idsText(r);
      }
      lines.push(`${head}: ${outcome(step.call, reply, levels, ids)}${line.endsWith(' unsettled') ? ' (unsettled)' : ''}`);
    }
    for (const id of made) lines.push(finalLine(id, await finalOf(h, id, rootLevel)));
  } finally {
    await h.command('reset');
  }
  return lines;
}

async function finalOf(h: HelperSession, id: number, rootLevel: number): Promise<TaskFinal> {
  const s = (await h.command(`state ${id}`)).split(' ');
  const kv = new Map(s.slice(2).map((tok) => [tok.slice(0, tok.indexOf('=')), tok.slice(tok.indexOf('=') + 1)] as const));
  // An init stuck in its exit, waiting for its namespace to empty, is dead and not reaped: a zombie-to-be (wait4's lines tell the two apart).
  const state = s[1] === 'alive' ? 'alive' : s[1] === 'zombie' || s[1] === 'exiting' ? 'zombie' : 'gone';
  const ppid = kv.get('ppid') ?? '-';
  const f: TaskFinal = {
    state,
    ppid: /^\d+$/.test(ppid) ? `t${ppid}` : ppid,
    pids: (kv.get('nspid') ?? '').split(',').filter(Boolean).map(Number).slice(rootLevel),
  };
  if (state === 'alive') {
    const r = parseReply(await h.command(`op ${id} ids`));
    if (r) f.ids = idsText(r);
  }
  return f;
}
