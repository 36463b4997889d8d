/**
 * Restore onto the machine itself (`ckpt restore --host linux`): one plan,
 * two executors. The real executor (real-executor.ts) builds the image's
 * tree as real processes with the image's pids at every level of the
 * container; then the model's executor builds the same plan into the mirror
 * (a model Machine), each task named at the machine's level too with the
 * pid the kernel gave its real process, so that the mirror's pids are the
 * kernel's everywhere. The mirror restores what the interpreter keeps
 * (registers, memory, program state, the console, the scheduler's round),
 * and the container runs on from there as any container on `--host linux`
 * (twin.ts). Anything that fails kills and reaps every process made.
 */
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import type { ContainerImage } from '../image/container-image.js';
import { RestoreError } from '../image/restore-error.js';
import { executeOnModel } from '../image/restore-model.js';
import type { CloneStep, RestorePlan, RestoreStep } from '../image/restore-plan.js';
import { planFor } from '../image/restore.js';
import type { AgentTable } from './agents.js';
import { problemsOnLinux } from './linux-check.js';
import { executeOnLinux, type HelperPort } from './real-executor.js';
import { planMemory } from './restore-memory.js';
import { TwinError, type HelperLine } from './twin.js';

export interface LinuxRestoreOptions {
  /** the container's name (default: the image's) */
  name?: string;
  /** restore inside this container (not supported on the machine yet) */
  into?: string;
  /** name the machine's own pids too (not supported on the machine yet) */
  hostPids?: boolean;
  /** the image's page bytes belong to the caller alone */
  adoptPages?: boolean;
  /** writes the uid and gid maps of a new user namespace's first process */
  mapIds: (pid: number) => void;
  /** whether `pid` lives in a user namespace of its own */
  ownUserNs: (pid: number) => boolean;
}

/**
 * shiftedPort speaks the real executor's protocol with its actors' ids moved up by `base`, so that
 * they do not meet the agents of the machine's other containers in the shared FIFO directory; a new
 * user namespace's first process gets its id maps as soon as it exists.
 */
function shiftedPort(helper: HelperLine, base: number, opts: LinuxRestoreOptions): HelperPort {
  const up = (id: string): string => String(Number(id) + base);
  return {
    command: async (line: string): Promise<string> => {
      const out = line
        .replace(/^(init|op|attach|state) (\d+)/, (_, verb: string, id: string) => `${verb} ${up(id)}`)
        .replace(/^(op \d+ clone3) (\d+)/, (_, head: string, id: string) => `${head} ${up(id)}`)
        .replace(/^reset (\d+)(?:-(\d+))?/, (_, lo: string, hi?: string) => `reset ${up(lo)}${hi === undefined ? '' : `-${up(hi)}`}`);
      const reply = helper.command(out).replace(/ child=(\d+)/, (_, id: string) => ` child=${Number(id) - base}`);
      const made = / nspid=(\d+)/.exec(reply);
      if (line.startsWith('init ') && made && opts.ownUserNs(Number(made[1]))) opts.mapIds(Number(made[1]));
      return reply;
    },
  };
}

/** withMachinePids is the plan for the mirror: each task's clone names its machine-level pid too (clone3's set_tid is innermost first). */
function withMachinePids(plan: RestorePlan, nspids: ReadonlyMap<number, number[]>): RestorePlan {
  const named = (s: RestoreStep): RestoreStep => {
    if (s.do !== 'clone' || s.task === null) return s;
    const real = nspids.get(s.task)!;
    return { ...s, pids: [...real.slice(plan.outerLevels).reverse(), ...real.slice(0, plan.outerLevels).reverse()] } satisfies CloneStep;
  };
  return { ...plan, create: plan.create.map(named), groups: plan.groups.map(named), exits: plan.exits.map(named) };
}

/** restoreOntoLinux restores `image` as real processes and into `mirror`; every problem found first is refused with all its reasons. */
export async function restoreOntoLinux(mirror: Machine, image: ContainerImage, agents: AgentTable, helper: HelperLine, opts: LinuxRestoreOptions): Promise<Container> {
  const name = opts.name ?? image.name;
  if (opts.into !== undefined || opts.hostPids) throw new TwinError('CKPT_UNSUPPORTED', `${opts.into !== undefined ? '--into' : '--host-pids'} is not supported on --host linux yet: restore the container on its own, its machine pids chosen by the kernel`);
  const problems = problemsOnLinux(image, { via: 'clone3', name, machine: { name: 'linux', hasContainer: (n) => mirror.containers.has(n) } });
  if (problems.length > 0) throw new RestoreError(problems);
  const plan = planFor(mirror, image, { via: 'clone3' });
  const base = agents.freeRange(image.tasks.length + plan.helpers);
  const port = shiftedPort(helper, base, opts);
  const real = await executeOnLinux(port, image, plan);
  let container: Container;
  try {
    if (plan.outerLevels !== 1) throw new RestoreError([{ code: 'CKPT_UNSUPPORTED', message: 'restoring into another container is not supported on --host linux yet' }]);
    container = executeOnModel(mirror, image, withMachinePids(plan, real.nspids), { name, ...(opts.adoptPages ? { adoptPages: true } : {}) });
    for (const [i, t] of image.tasks.entries()) {
      const made = mirror.tasksOf(container).find((x) => x.nspids.slice(1).join('/') === t.numbers.join('/') && x.nspids[0] === real.nspids.get(i)![0]);
      if (!made) throw new TwinError('CKPT_TWIN_DIVERGED', `task ${t.numbers.join('/')}: the real kernel made it as ${real.nspids.get(i)!.join('/')}, the mirror has no task with those pids`);
    }
  } catch (e) {
    await port.command('reset');
    throw e;
  }
  for (const [i, pids] of real.nspids) agents.add(pids[0]!, base + i);
  // the restore made each mapping at the image's own address, which is the mirror's: the twin makes none again
  // (a stopped process could not make it)
  for (const m of planMemory(image).mappings) {
    const tgid = real.nspids.get(image.tasks[m.task]!.leader)![0]!;
    const maps = agents.maps.get(tgid) ?? new Map<number, number>();
    maps.set(m.start, m.start);
    agents.maps.set(tgid, maps);
  }
  return container;
}
