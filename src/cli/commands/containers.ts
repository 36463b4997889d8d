/** ckpt run, ps, step, logs, kill and rm: containers on a simulated host. */
import { printable } from '../printable.js';
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import type { Container } from '../../container/container.js';
import type { Machine } from '../../container/machine.js';
import type { Task } from '../../kernel/task.js';
import type { CliContext } from '../context.js';
import { orCreateArch, storeOf, verb, withHost, type HostArgs } from '../options.js';
import { counted } from '../counted.js';
import { UsageError } from '../usage-error.js';

function containerOf(m: Machine, name: string): Container {
  const c = m.containers.get(name);
  const names = [...m.containers.keys(), ...m.unloaded];
  if (!c) throw new UsageError(`no container ${name} on host ${m.name}${names.length ? ` (it has: ${names.join(', ')})` : ''}`);
  return c;
}

/** PsRow is one task as ps shows it; ids are as the host's root namespace sees them. */
export interface PsRow {
  container: string;
  nspids: number[];
  tgid: number;
  ppid: number;
  pgid: number;
  sid: number;
  threads: number;
  state: string;
  comm: string;
}

function psRow(container: string, t: Task): PsRow {
  return {
    container,
    nspids: t.nspids,
    tgid: t.tgid,
    ppid: t.group.leader.parent?.group.tgid.nr ?? 0,
    pgid: t.pgid,
    sid: t.sid,
    threads: t.group.threadCount,
    state: t.state,
    comm: t.comm,
  };
}

const STATE_LETTER: Record<string, string> = { runnable: 'R', blocked: 'S', stopped: 'T', zombie: 'Z' };
const SIGNALS: Record<string, number> = { KILL: 9, TERM: 15, STOP: 19, CONT: 18, INT: 2, HUP: 1 };

function signalOf(s: string): number {
  const name = s.toUpperCase().replace(/^SIG/, '');
  const n = SIGNALS[name] ?? (/^\d+$/.test(s) ? Number(s) : NaN);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`unknown signal ${JSON.stringify(s)}: use a number 1..64 or one of ${Object.keys(SIGNALS).join(', ')}`);
  return n;
}

export function containerCommands(ctx: CliContext): CommandModule[] {
  return [
    verb<HostArgs & { ctr: string; workload: string; steps: number }>({
      command: 'run <ctr> <workload>',
      describe: 'Start a container running a workload file',
      builder: (y: Argv) =>
        withHost(y)
          .positional('ctr', { type: 'string', demandOption: true, describe: 'container name' })
          .positional('workload', { type: 'string', demandOption: true, describe: 'workload file (images/workloads/README.md)' })
          .option('steps', { type: 'number', default: 0, describe: 'run this many scheduler steps after starting' })
          .example('$0 run web images/workloads/nested.wl --steps 100', 'start it and run 100 steps'),
      handler: (a) => {
        let text: string;
        try {
          text = readFileSync(a.workload, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read workload ${a.workload}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const out = storeOf(a).update(
          a.host,
          (m) => {
            const c = m.run(a.ctr, a.workload, text);
            const ns = c.init.pid.ns;
            const ran = a.steps > 0 ? m.scheduler.run(a.steps, (t) => ns.isAncestorOf(t.pid.ns)) : 0;
            return { container: a.ctr, host: m.name, initPid: c.init.pid.nr, steps: ran };
          },
          orCreateArch(a),
          [],
        );
        ctx.out(a.json ? JSON.stringify(out) : `started container ${out.container} on host ${out.host}: init is pid ${out.initPid} on the host, pid 1 inside${out.steps ? `; ran ${counted(out.steps, 'step')}` : ''}`);
      },
    }),
    verb<HostArgs & { ctr?: string }>({
      command: 'ps [ctr]',
      describe: 'Show the process tree with every pid level',
      builder: (y: Argv) =>
        withHost(y)
          .positional('ctr', { type: 'string', describe: 'only this container' })
          .example('$0 ps web --json', 'one object per task, nspids host level first'),
      handler: (a) => {
        const m = storeOf(a).read(a.host, a.ctr ? [a.ctr] : 'all');
        const ctrs = a.ctr ? [containerOf(m, a.ctr)] : [...m.containers.values()];
        // A task shows under the innermost container holding it (a container restored --into another sits inside it).
        const own = a.ctr ? null : m.ownTasks();
        const rows = ctrs.flatMap((c) => (own ? own.get(c)! : m.tasksOf(c)).map((t) => psRow(c.name, t)));
        if (a.json) return ctx.out(JSON.stringify(rows));
        ctx.out(`${'CONTAINER'.padEnd(12)}${'NSPID'.padEnd(20)}${'PPID'.padEnd(7)}${'PGID'.padEnd(7)}${'SID'.padEnd(7)}${'THR'.padEnd(5)}${'S'.padEnd(3)}COMMAND`);
        for (const r of rows) {
          ctx.out(`${r.container.padEnd(12)}${r.nspids.join('/').padEnd(20)}${String(r.ppid).padEnd(7)}${String(r.pgid).padEnd(7)}${String(r.sid).padEnd(7)}${String(r.threads).padEnd(5)}${(STATE_LETTER[r.state] ?? '?').padEnd(3)}${printable(r.comm)}`);
        }
      },
    }),
    verb<HostArgs & { ctr?: string; all: boolean; steps: number; untilIdle: boolean }>({
      command: 'step [ctr]',
      describe: 'Run a container (or every container) for some scheduler steps',
      builder: (y: Argv) =>
        withHost(y)
          .positional('ctr', { type: 'string', describe: 'the container to run' })
          .option('all', { type: 'boolean', default: false, describe: 'run every container on the host' })
          .option('steps', { type: 'number', default: 1, describe: 'how many steps (one statement of one task each)' })
          .option('until-idle', { type: 'boolean', default: false, describe: 'run until every task is blocked or gone' })
          .example('$0 step web --steps 50', 'fifty statements of container web')
          .example('$0 step --all --until-idle', 'everything, until nothing can run'),
      handler: (a) => {
        if (!a.ctr && !a.all) throw new UsageError('name a container or give --all');
        if (a.ctr && a.all) throw new UsageError('give a container or --all, not both');
        if (!Number.isInteger(a.steps) || a.steps < 0) throw new UsageError(`--steps ${a.steps} is not a count`);
        const out = storeOf(a).update(a.host, (m) => {
          const only = a.ctr ? (() => {
            const ns = containerOf(m, a.ctr!).init.pid.ns;
            return (t: Task) => ns.isAncestorOf(t.pid.ns);
          })() : undefined;
          const ran = a.untilIdle ? m.scheduler.runUntilIdle(1_000_000, only) : m.scheduler.run(a.steps, only);
          return { steps: ran, clock: m.host.clock };
        }, undefined, a.ctr ? [a.ctr] : 'all');
        ctx.out(a.json ? JSON.stringify(out) : `ran ${counted(out.steps, 'step')}; clock is ${out.clock}`);
      },
    }),
    verb<HostArgs & { ctr: string }>({
      command: 'logs <ctr>',
      describe: "Print a container's console",
      builder: (y: Argv) => withHost(y).positional('ctr', { type: 'string', demandOption: true }).example('$0 logs web', 'everything it printed'),
      handler: (a) => {
        const c = containerOf(storeOf(a).read(a.host, [a.ctr]), a.ctr);
        if (a.json) ctx.out(JSON.stringify({ container: c.name, console: c.console.text }));
        else if (c.console.text.length > 0) ctx.out(c.console.text.replace(/\n$/, ''));
      },
    }),
    verb<HostArgs & { ctr: string; signal: string }>({
      command: 'kill <ctr>',
      describe: "Send a signal to a container's init (from the host, an ancestor namespace)",
      builder: (y: Argv) =>
        withHost(y)
          .positional('ctr', { type: 'string', demandOption: true })
          .option('signal', { type: 'string', default: 'KILL', describe: 'KILL, TERM, STOP, CONT, INT, HUP or a number' })
          .example('$0 kill web --signal STOP', 'stop the whole container'),
      handler: (a) => {
        const sig = signalOf(a.signal);
        const out = storeOf(a).update(a.host, (m) => {
          const c = containerOf(m, a.ctr);
          const r = m.host.libc(m.host.init).kill(c.init.pid.nr, sig);
          // the init is never reaped while its container is listed (see machine-codec), so kill cannot fail
          if (r.errno) throw new Error(`kill ${c.name}: ${r.errno}`);
          return { container: c.name, signal: sig, state: c.init.state };
        }, undefined, [a.ctr]);
        ctx.out(a.json ? JSON.stringify(out) : `sent signal ${out.signal} to ${out.container}; its init is ${out.state}`);
      },
    }),
    verb<HostArgs & { ctr: string; force: boolean }>({
      command: 'rm <ctr>',
      describe: 'Remove a container whose init has exited (--force kills it first)',
      builder: (y: Argv) =>
        withHost(y)
          .positional('ctr', { type: 'string', demandOption: true })
          .option('force', { type: 'boolean', default: false, describe: 'kill it first if it is still running' })
          .example('$0 rm web --force', 'kill and remove'),
      handler: (a) => {
        storeOf(a).update(a.host, (m) => {
          const c = containerOf(m, a.ctr);
          if (c.init.state !== 'zombie' && !a.force) throw new UsageError(`container ${c.name} is still running: stop it with ckpt kill ${c.name}, or use --force`);
          m.remove(c);
        }, undefined, [a.ctr]);
        ctx.out(a.json ? JSON.stringify({ removed: a.ctr }) : `removed container ${a.ctr}`);
      },
    }),
  ];
}
