/** ckpt host create|list|show|rm: the simulated hosts in the state directory. */
import type { Argv, CommandModule } from 'yargs';
import { archByName, archNames } from '../../arch/registry.js';
import { pidMaxLimit } from '../../kernel/host.js';
import { DEFAULT_KERNEL, KERNEL_NAMES, type KernelName } from '../../kernel/personality.js';
import { PID_MAX_DEFAULT, PID_MAX_MIN } from '../../abi/limits.js';
import type { Machine } from '../../container/machine.js';
import type { CliContext } from '../context.js';
import { countOf, nameOf, storeOf, verb, withCommon, type CommonArgs } from '../options.js';
import { counted } from '../counted.js';
import { CliError, UsageError } from '../usage-error.js';

/** the reserved name of the machine itself (--host linux; src/cli/linux-host.ts) */
const LINUX = 'linux';
const linuxHost = () => import('../linux-host.js');

/** realSummary is the machine's host: its mirror's summary and whether real containers can run here. */
async function realSummary(a: CommonArgs) {
  const L = await linuxHost();
  const why = await L.linuxUnavailable();
  return { ...summary(L.readMirror(storeOf(a))), real: why === null ? { available: true } : { available: false, reason: why } };
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
  return {
    command: 'host <action>',
    describe: 'Create, list, show and remove simulated hosts',
    builder: (y: Argv) =>
      y
        .command(
          verb<CommonArgs & { name: string; arch: string; pidMax?: number; kernel: KernelName }>({
          command: 'create <name>',
          describe: 'Create a host of an architecture',
          builder: (b: Argv) =>
            withCommon(b)
              .positional('name', { type: 'string', demandOption: true, coerce: nameOf('host') })
              .option('arch', { type: 'string', demandOption: true, requiresArg: true, describe: `one of ${archNames().join(', ')} (aliases x86, powerpc)` })
              .option('pid-max', { type: 'string', requiresArg: true, coerce: countOf('pid-max'), describe: `kernel.pid_max (${PID_MAX_MIN}..4194304 on 64-bit arches, ..32768 on 32-bit; default ${PID_MAX_DEFAULT})` })
              .option('kernel', { type: 'string', default: DEFAULT_KERNEL, requiresArg: true, choices: [...KERNEL_NAMES], describe: 'the kernel personality: mainline (Linux 6.x rules, with eclone added) or 2.6.32 (the eclone era)' })
              .example('$0 host create big --arch s390x --pid-max 4194304', 'a 64-bit s390 host with the largest pid space')
              .example('$0 host create old --arch x86_64 --kernel 2.6.32', 'a host with the eclone era\'s rules'),
          handler: (a: CommonArgs & { name: string; arch: string; pidMax?: number; kernel: KernelName }) => {
            if (a.name === LINUX) throw new CliError('CKPT_HOST_EXISTS', 'host linux is the machine ckpt runs on, not a simulated host: it always exists (ckpt host show linux), so the name is reserved');
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
          command: 'list',
          describe: 'List hosts',
          builder: (b: Argv) => withCommon(b).example('$0 host list --json', 'every host as JSON'),
          handler: async (a: CommonArgs) => {
            const store = storeOf(a);
            const hosts = [...store.list().filter((n) => n !== LINUX).map((n) => summary(store.read(n))), await realSummary(a)];
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
          command: 'show <name>',
          describe: 'Show one host',
          builder: (b: Argv) => withCommon(b).positional('name', { type: 'string', demandOption: true, coerce: nameOf('host') }).example('$0 host show default', 'its arch, clock and containers'),
          handler: async (a: CommonArgs & { name: string }) => {
            const s = a.name === LINUX ? await realSummary(a) : summary(storeOf(a).read(a.name));
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
          command: 'rm <name>',
          describe: 'Remove a host and everything on it',
          builder: (b: Argv) => withCommon(b).positional('name', { type: 'string', demandOption: true, coerce: nameOf('host') }).example('$0 host rm old', 'delete host old'),
          handler: (a: CommonArgs & { name: string }) => {
            if (a.name === LINUX) throw new CliError('CKPT_HOST_EXISTS', 'host linux is the machine ckpt runs on and cannot be removed: remove its containers with ckpt rm CTR --host linux --force');
            storeOf(a).remove(a.name);
            ctx.out(a.json ? JSON.stringify({ removed: a.name }) : `removed host ${a.name}`);
          },
          }),
        )
        .demandCommand(1, 'name an action: create, list, show or rm'),
    handler: () => undefined,
  };
}
