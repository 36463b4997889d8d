/** ckpt host create|list|show|rm: the simulated hosts in the state directory. */
import type { Argv, CommandModule } from 'yargs';
import { archByName, archNames } from '../../arch/registry.js';
import { pidMaxLimit } from '../../kernel/host.js';
import type { KernelName } from '../../kernel/personality.js';
import { PID_MAX_MIN } from '../../abi/limits.js';
import type { Machine } from '../../container/machine.js';
import type { CliContext } from '../context.js';
import { countOf, declared, nameOf, storeOf, verb, LINUX_HOST, linuxHost, type CommonArgs } from '../options.js';
import { HOST, HOST_CREATE, HOST_LIST, HOST_RM, HOST_SHOW } from '../options/host.js';
import { counted } from '../counted.js';
import { CliError, UsageError } from '../usage-error.js';

/** realSummary is the machine's host: its mirror's summary and whether real containers can run here. */
async function realSummary(a: CommonArgs) {
  const L = await linuxHost();
  const why = await L.linuxUnavailable();
  const store = storeOf(a);
  const mirror = store.exists(LINUX_HOST) ? store.summary(LINUX_HOST) : summary(L.readMirror(store));
  return { ...mirror, real: why === null ? { available: true } : { available: false, reason: why } };
}

function summary(m: Machine) {
  const h = m.host;
  return {
    name: m.name,
    arch: h.arch.name,
    pidMax: h.pidMax,
    kernel: h.kernel,
    clock: h.clock,
    tasks: h.tasks.size,
    containers: [...m.containers.values()].map((c) => ({ name: c.name, initPid: c.init.pid.nr, state: c.init.state, tasks: m.tasksOf(c).length })),
  };
}

export function hostCommand(ctx: CliContext): CommandModule {
  const host = declared(HOST);
  return {
    command: host.command,
    describe: host.describe,
    builder: (y: Argv) =>
      host
        .builder(y)
        .command(
          verb<CommonArgs & { name: string; arch: string; pidMax?: number; kernel: KernelName }>({
          ...declared(HOST_CREATE, { name: nameOf('host'), 'pid-max': countOf('pid-max') }),
          handler: (a: CommonArgs & { name: string; arch: string; pidMax?: number; kernel: KernelName }) => {
            if (a.name === LINUX_HOST) throw new CliError('CKPT_HOST_EXISTS', 'host linux is the machine ckpt runs on, not a simulated host: it always exists (ckpt host show linux), so the name is reserved');
            const arch = archByName(a.arch);
            if (!arch) throw new UsageError(`unknown architecture ${JSON.stringify(a.arch)}: expected one of ${archNames().join(', ')} (or x86, powerpc)`);
            const limit = pidMaxLimit(arch);
            if (a.pidMax !== undefined && (a.pidMax < PID_MAX_MIN || a.pidMax > limit)) {
              throw new UsageError(`--pid-max ${a.pidMax} is outside ${PID_MAX_MIN}..${limit} for ${arch.name}`);
            }
            const m = storeOf(a).create(a.name, arch.name, a.pidMax, a.kernel);
            ctx.out(a.json ? JSON.stringify(summary(m)) : `created host ${m.name} (${m.host.arch.name}, kernel ${m.host.kernel}, pid_max ${m.host.pidMax})`);
          },
          }),
        )
        .command(
          verb<CommonArgs>({
          ...declared(HOST_LIST),
          handler: async (a: CommonArgs) => {
            const store = storeOf(a);
            const hosts = [...store.list().filter((n) => n !== LINUX_HOST).map((n) => store.summary(n)), await realSummary(a)];
            if (a.json) return ctx.out(JSON.stringify(hosts));
            ctx.out(`${'HOST'.padEnd(16)}${'ARCH'.padEnd(8)}${'KERNEL'.padEnd(10)}${'PID_MAX'.padEnd(9)}${'TASKS'.padEnd(7)}CONTAINERS`);
            for (const h of hosts) ctx.out(`${h.name.padEnd(16)}${h.arch.padEnd(8)}${h.kernel.padEnd(10)}${String(h.pidMax).padEnd(9)}${String(h.tasks).padEnd(7)}${h.containers.map((c) => c.name).join(', ')}`);
            const real = hosts[hosts.length - 1] as Awaited<ReturnType<typeof realSummary>>;
            ctx.out(real.real.available ? 'linux is this machine: real containers can run here (--host linux)' : `linux is this machine: real containers cannot run here: ${real.real.reason}`);
            if (hosts.length === 1) ctx.out('no simulated hosts yet: ckpt host create NAME --arch x86_64 (or just ckpt run, which makes the default host)');
          },
          }),
        )
        .command(
          verb<CommonArgs & { name: string }>({
          ...declared(HOST_SHOW, { name: nameOf('host') }),
          handler: async (a: CommonArgs & { name: string }) => {
            const s = a.name === LINUX_HOST ? await realSummary(a) : storeOf(a).summary(a.name);
            if (a.json) return ctx.out(JSON.stringify(s));
            ctx.out(`host ${s.name}: ${s.arch}, kernel ${s.kernel}, pid_max ${s.pidMax}, clock ${s.clock}, ${counted(s.tasks, 'task')}`);
            if ('real' in s) {
              const real = (s as Awaited<ReturnType<typeof realSummary>>).real;
              ctx.out(real.available ? '  the machine ckpt runs on: real containers can run here' : `  the machine ckpt runs on: real containers cannot run here: ${real.reason}`);
            }
            for (const c of s.containers) ctx.out(`  container ${c.name}: init pid ${c.initPid} (${c.state}), ${counted(c.tasks, 'task')}`);
          },
          }),
        )
        .command(
          verb<CommonArgs & { name: string }>({
          ...declared(HOST_RM, { name: nameOf('host') }),
          handler: (a: CommonArgs & { name: string }) => {
            if (a.name === LINUX_HOST) throw new CliError('CKPT_HOST_EXISTS', 'host linux is the machine ckpt runs on and cannot be removed: remove its containers with ckpt rm CTR --host linux --force');
            storeOf(a).remove(a.name);
            ctx.out(a.json ? JSON.stringify({ removed: a.name }) : `removed host ${a.name}`);
          },
          }),
        )
        .demandCommand(1, 'name an action: create, list, show or rm'),
    handler: () => undefined,
  };
}
