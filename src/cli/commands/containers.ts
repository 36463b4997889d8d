/** ckpt run, ps, step, logs, kill and rm: containers on a simulated host. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import type { Container } from '../../container/container.js';
import type { Task } from '../../kernel/task.js';
import type { CliContext } from '../context.js';
import { containerOf, countOf, declared, nameOf, onHost, orCreateArch, storeOf, verb, LINUX_HOST, linuxHost, type HostArgs } from '../options.js';
import { KILL, LOGS, PS, RM, RUN, STEP } from '../options/containers.js';
import { counted } from '../counted.js';
import { CliError, UsageError } from '../usage-error.js';
import { refuse } from '../refused.js';
import { psRows, psTable, psTree } from '../ps-view.js';
import { libcOf } from '../../program/libc.js';

/** inContainer selects the tasks of one container (its namespace and those below it), for the scheduler. */
function inContainer(c: Container): (t: Task) => boolean {
  const ns = c.init.pid.ns;
  return (t) => ns.isAncestorOf(t.pid.ns);
}

const SIGNALS: Record<string, number> = { KILL: 9, TERM: 15, STOP: 19, CONT: 18, INT: 2, HUP: 1 };

/** signalOf reads a signal's name or number while parsing. */
function signalOf(given: unknown): number {
  const s = String(given);
  const name = s.toUpperCase().replace(/^SIG/, '');
  const n = SIGNALS[name] ?? (/^\d+$/.test(s) ? Number(s) : NaN);
  if (!Number.isInteger(n) || n < 1 || n > 64) refuse(new UsageError(`unknown signal ${JSON.stringify(s)}: use a number 1..64 or one of ${Object.keys(SIGNALS).join(', ')}`));
  return n;
}

export function containerCommands(ctx: CliContext): CommandModule[] {
  return [
    verb<HostArgs & { ctr: string; workload: string; steps: number }>({
      ...declared(RUN, { ctr: nameOf('container'), steps: countOf('steps') }),
      handler: async (a) => {
        let text: string;
        try {
          text = readFileSync(a.workload, 'utf8');
        } catch (e) {
          throw new CliError('CKPT_READ_FAILED', `cannot read workload ${a.workload}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        // The program is known by its absolute path: an image made from any directory names the same file.
        const path = resolve(a.workload);
        if (a.host === LINUX_HOST) {
          const L = await linuxHost();
          await L.requireLinux();
          const real = await L.withTwin(storeOf(a), (twin) => {
            const c = L.startReal(twin, a.ctr, path, text);
            const ran = a.steps > 0 ? twin.run(a.steps, inContainer(c)) : 0;
            return { container: a.ctr, host: LINUX_HOST, initPid: c.init.pid.nr, nspids: c.init.nspids, steps: ran };
          });
          ctx.out(a.json ? JSON.stringify(real) : `started container ${real.container} on the machine (--host linux): init is pid ${real.initPid} on the machine, pid 1 inside${real.steps ? `; ran ${counted(real.steps, 'step')}` : ''}`);
          return;
        }
        const out = storeOf(a).update(
          a.host,
          (m) => {
            const c = m.run(a.ctr, path, text);
            const ran = a.steps > 0 ? m.scheduler.run(a.steps, inContainer(c)) : 0;
            return { container: a.ctr, host: m.name, initPid: c.init.pid.nr, steps: ran };
          },
          orCreateArch(a),
          [],
        );
        ctx.out(a.json ? JSON.stringify(out) : `started container ${out.container} on host ${out.host}: init is pid ${out.initPid} on the host, pid 1 inside${out.steps ? `; ran ${counted(out.steps, 'step')}` : ''}`);
      },
    }),
    verb<HostArgs & { ctr?: string; tree: boolean }>({
      ...declared(PS),
      handler: async (a) => {
        if (a.host === LINUX_HOST) {
          const L = await linuxHost();
          const store = storeOf(a);
          const m = L.readMirror(store);
          const { rows, disagree } = L.realPs(store, m, a.ctr ? [containerOf(m, a.ctr)] : [...m.containers.values()]);
          if (a.json) ctx.out(JSON.stringify(rows));
          else for (const line of a.tree ? psTree(rows) : psTable(rows)) ctx.out(line);
          for (const d of disagree) ctx.err(`ckpt ps: the kernel and ckpt disagree: ${d}`);
          if (disagree.length > 0) ctx.setExitCode(1);
          return;
        }
        const store = storeOf(a);
        // the default host is made on first use (run, restore): until then it holds no containers, as a new host
        if (!a.ctr && orCreateArch(a) !== undefined && !store.exists(a.host)) {
          if (a.json) return ctx.out('[]');
          for (const line of a.tree ? psTree([]) : psTable([])) ctx.out(line);
          return;
        }
        const m = store.read(a.host, a.ctr ? [a.ctr] : 'all');
        const ctrs = a.ctr ? [containerOf(m, a.ctr)] : [...m.containers.values()];
        // A task shows under the innermost container holding it (a container restored --into another sits inside it).
        const own = a.ctr ? null : m.ownTasks();
        const rows = ctrs.flatMap((c) => psRows(c.name, own ? own.get(c)! : m.tasksOf(c)));
        if (a.json) return ctx.out(JSON.stringify(rows));
        for (const line of a.tree ? psTree(rows) : psTable(rows)) ctx.out(line);
      },
    }),
    verb<HostArgs & { ctr?: string; all: boolean; steps: number; untilIdle: boolean }>({
      ...declared(STEP, { steps: countOf('steps') }),
      handler: async (a) => {
        if (!a.ctr && !a.all) throw new UsageError('name a container or give --all');
        if (a.ctr && a.all) throw new UsageError('give a container or --all, not both');
        if (a.host === LINUX_HOST) {
          const L = await linuxHost();
          await L.requireLinux();
          const real = await L.withTwin(storeOf(a), (twin, m) => {
            const only = a.ctr ? inContainer(containerOf(m, a.ctr)) : () => true;
            const ran = twin.run(a.untilIdle ? 1_000_000 : a.steps, only);
            return { steps: ran, clock: m.host.clock };
          });
          ctx.out(a.json ? JSON.stringify(real) : `ran ${counted(real.steps, 'step')}; clock is ${real.clock}`);
          return;
        }
        const out = storeOf(a).update(a.host, (m) => {
          const only = a.ctr ? inContainer(containerOf(m, a.ctr)) : undefined;
          const ran = a.untilIdle ? m.scheduler.runUntilIdle(1_000_000, only) : m.scheduler.run(a.steps, only);
          return { steps: ran, clock: m.host.clock };
        }, undefined, a.ctr ? [a.ctr] : 'all');
        ctx.out(a.json ? JSON.stringify(out) : `ran ${counted(out.steps, 'step')}; clock is ${out.clock}`);
      },
    }),
    verb<HostArgs & { ctr: string }>({
      ...declared(LOGS, { ctr: nameOf('container') }),
      handler: async (a) => {
        const c = containerOf(a.host === LINUX_HOST ? (await linuxHost()).readMirror(storeOf(a)) : storeOf(a).read(a.host, [a.ctr]), a.ctr);
        if (a.json) ctx.out(JSON.stringify({ container: c.name, console: c.console.text }));
        else if (c.console.text.length > 0) ctx.out(c.console.text.replace(/\n$/, ''));
      },
    }),
    verb<HostArgs & { ctr: string; signal: number }>({
      ...declared(KILL, { ctr: nameOf('container'), signal: signalOf }),
      handler: async (a) => {
        const sig = a.signal;
        if (a.host === LINUX_HOST) {
          const L = await linuxHost();
          await L.requireLinux();
          const store = storeOf(a);
          const real = store.update(LINUX_HOST, (m) => {
            const c = containerOf(m, a.ctr);
            L.realKill(store.root, m, c, sig);
            return { container: c.name, signal: sig, state: c.init.state };
          });
          ctx.out(a.json ? JSON.stringify(real) : `sent signal ${real.signal} to ${real.container}; its init is ${real.state}`);
          return;
        }
        const out = storeOf(a).update(a.host, (m) => {
          const c = containerOf(m, a.ctr);
          const r = libcOf(m.host, m.host.init).kill(c.init.pid.nr, sig);
          // the init is never reaped while its container is listed (see machine-codec), so kill cannot fail
          if (r.errno) throw new Error(`kill ${c.name}: ${r.errno}`);
          return { container: c.name, signal: sig, state: c.init.state };
        }, undefined, [a.ctr]);
        ctx.out(a.json ? JSON.stringify(out) : `sent signal ${out.signal} to ${out.container}; its init is ${out.state}`);
      },
    }),
    verb<HostArgs & { ctr: string; force: boolean }>({
      ...declared(RM, { ctr: nameOf('container') }),
      handler: async (a) => {
        const L = a.host === LINUX_HOST ? await linuxHost() : null;
        if (L) await L.requireLinux();
        const store = storeOf(a);
        store.update(a.host, (m) => {
          const c = containerOf(m, a.ctr);
          if (c.init.state !== 'zombie' && !a.force) throw new CliError('CKPT_CONTAINER_RUNNING', `container ${c.name} is still running: stop it with ckpt kill ${c.name}${onHost(a)}, or use --force`);
          if (L) L.realRemove(store.root, m, c);
          else m.remove(c);
        }, undefined, [a.ctr]);
        ctx.out(a.json ? JSON.stringify({ removed: a.ctr }) : `removed container ${a.ctr}`);
      },
    }),
  ];
}
