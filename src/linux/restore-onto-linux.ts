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
import type { PidNamespace } from '../kernel/pid-namespace.js';
import type { Task } from '../kernel/task.js';
import { problemsOnLinux } from './linux-check.js';
import { canNameMachinePids, needsOwnUserNs } from './linux-facts.js';
import { executeOnLinux, stopsBatch, undoRestore, type HelperPort } from './real-executor.js';
import { TwinError, type HelperLine } from './twin.js';

export interface LinuxRestoreOptions {
  /** the container's name (default: the image's) */
  name?: string;
  /** restore inside this container of the machine, nested in its pid namespace */
  into?: string;
  /** name the machine's own pids too (the image's pids above the container) */
  hostPids?: boolean;
  /** whether this process may name pids in the machine's root pid namespace (default: canNameMachinePids) */
  privileged?: boolean;
  /** the image's page bytes belong to the caller alone */
  adoptPages?: boolean;
  /** writes the uid and gid maps of a new user namespace's first process */
  mapIds: (pid: number) => void;
  /** whether `pid` lives in a user namespace of its own */
  ownUserNs: (pid: number) => boolean;
  /** the agent id of a task's real process, reached by this command's helper (for --into: a process of that container makes the restore's helper there) */
  agentOf?: (task: Task) => number;
}

/**
 * shiftedPort speaks the real executor's protocol with its actors' ids moved up by `base`, so that
 * they do not meet the agents of the machine's other containers in the shared FIFO directory; actor
 * `outside` (one past the plan's, for --into) is the agent `outsideId` of the container it goes into.
 * A new user namespace's first process gets its id maps as soon as it exists.
 */
function shiftedPort(helper: HelperLine, base: number, opts: LinuxRestoreOptions, outside: { actor: number; id: number } | null): HelperPort {
  const up = (id: string): string => (outside && Number(id) === outside.actor ? String(outside.id) : String(Number(id) + base));
  const shifted = (line: string): string =>
    line
      .replace(/^(init|op|attach|state|ids) (\d+)/, (_, verb: string, id: string) => `${verb} ${up(id)}`)
      .replace(/^(op \d+ clone3) (\d+)/, (_, head: string, id: string) => `${head} ${up(id)}`)
      .replace(/^(reset|confirm) (\d+)(?:-(\d+))?/, (_, verb: string, lo: string, hi?: string) => `${verb} ${up(lo)}${hi === undefined ? '' : `-${up(hi)}`}`);
  const back = (reply: string): string => reply.replace(/ child=(\d+)/, (_, id: string) => ` child=${Number(id) - base}`);
  const command = (line: string): string => {
    const reply = back(helper.command(shifted(line)));
    const made = / nspid=(\d+)/.exec(reply);
    if (line.startsWith('init ') && made && opts.ownUserNs(Number(made[1]))) opts.mapIds(Number(made[1]));
    return reply;
  };
  const port: HelperPort = { command: async (line) => command(line), pid: helper.pid };
  const many = helper.batch?.bind(helper);
  if (!many) return port;
  const begin = helper.begin?.bind(helper);
  return {
    ...port,
    // a batch sent ahead holds an init only when it needs no id maps (the executor's rule)
    ...(begin && {
      begin: (lines: readonly string[]) => {
        const replies = begin(lines.map(shifted));
        return async () =>
          replies().map((reply, k) => {
            const made = / nspid=(\d+)/.exec(reply);
            if (lines[k]!.startsWith('init ') && made && opts.ownUserNs(Number(made[1]))) opts.mapIds(Number(made[1]));
            return back(reply);
          });
      },
    }),
    // an init goes alone (its user namespace gets its id maps before anything runs in it); the lines between, as batches
    batch: async (lines) => {
      const replies: string[] = [];
      for (let k = 0; k < lines.length; ) {
        if (k > 0 && stopsBatch(lines[k - 1]!, replies[k - 1]!)) {
          replies.push(...lines.slice(k).map(() => 'skipped'));
          break;
        }
        if (lines[k]!.startsWith('init ')) {
          replies.push(command(lines[k++]!));
          continue;
        }
        let j = k;
        while (j < lines.length && !lines[j]!.startsWith('init ')) j++;
        replies.push(...many(lines.slice(k, j).map(shifted)).map(back));
        k = j;
      }
      return replies;
    },
  };
}

/**
 * withMachinePids is the plan for the mirror: each task's clone names the pids the kernel gave its
 * real process (clone3's set_tid is innermost first). Into a container (`outer` false), the levels
 * above the image's are left to the mirror's allocator, its cursors set before each clone to the
 * kernel's pids (beforeClone): the processes that make them may live in that container's user
 * namespace, which cannot name pids above it; the enterer alone, made by the host's init, names them all.
 */
function withMachinePids(plan: RestorePlan, nspids: ReadonlyMap<number, number[]>, outer: boolean): RestorePlan {
  const named = (s: RestoreStep): RestoreStep => {
    if (s.do === 'enter') return { ...s, setTid: [...nspids.get(s.actor)!].reverse() };
    if (s.do !== 'clone' || s.task === null) return s;
    const real = nspids.get(s.task)!;
    return { ...s, pids: [...real.slice(plan.outerLevels).reverse(), ...(outer ? real.slice(0, plan.outerLevels).reverse() : [])] } satisfies CloneStep;
  };
  return { ...plan, create: plan.create.map(named), groups: plan.groups.map(named), exits: plan.exits.map(named) };
}

/**
 * makerIn is the process of container `into` that makes a restore's helper there: its init, which
 * the restored container's init is a child of once the helper has gone, and so the one that can reap
 * it should the restore be undone. It must answer (not stopped) and make its children in its own
 * pid namespace.
 */
function makerIn(mirror: Machine, into: string, agents: AgentTable): Task {
  const init = mirror.containers.get(into)!.init;
  const ns = init.pid.ns;
  const why = init.state === 'stopped' ? 'is stopped' : init.pidNsForChildren !== ns ? 'makes its children in another pid namespace (unshare or setns)' : !agents.isSame(init.nspids[0]!) ? 'is gone from the machine' : null;
  if (why) throw new RestoreError([{ code: 'CKPT_UNSUPPORTED', message: `--into ${into}: that container's init ${why}, and it is the one that makes the restore's helper there` }]);
  return init;
}

/** restoreOntoLinux restores `image` as real processes and into `mirror`; every problem found first is refused with all its reasons. */
export async function restoreOntoLinux(mirror: Machine, image: ContainerImage, agents: AgentTable, helper: HelperLine, opts: LinuxRestoreOptions): Promise<Container> {
  const name = opts.name ?? image.name;
  const into = opts.into === undefined ? {} : { into: opts.into };
  const hostPids = opts.hostPids ? { hostPids: true, privileged: opts.privileged ?? canNameMachinePids() } : {};
  const containers = new Map([...mirror.containers.values()].filter((c) => !c.init.exited).map((c) => [c.name, c.init.nspids[0]!] as const));
  const problems = problemsOnLinux(image, { via: 'clone3', name, ...into, ...hostPids, machine: { name: 'linux', hasContainer: (n) => mirror.containers.has(n), containers } });
  if (problems.length > 0) throw new RestoreError(problems);
  const plan = planFor(mirror, image, { via: 'clone3', ...into, ...hostPids });
  const count = image.tasks.length + plan.helpers;
  const base = agents.freeRange(count);
  let outside: { actor: number; id: number } | null = null;
  let notInherited: Array<[number, number]> = [];
  if (opts.into !== undefined) {
    if (!opts.agentOf) throw new Error('restoreOntoLinux: --into needs agentOf');
    const maker = makerIn(mirror, opts.into, agents);
    outside = { actor: count, id: opts.agentOf(maker) };
    notInherited = (agents.maps.get(maker.group.tgid.nr) ?? []).map((r) => [r.real, r.end - r.start]);
  }
  const port = shiftedPort(helper, base, opts, outside);
  // a restorer without CAP_SYS_ADMIN gives the container a user namespace of its own, whose root it is (its id maps written as soon as the init exists)
  const real = await executeOnLinux(port, image, plan, { ...(outside ? { enterFrom: outside.actor, notInherited } : {}), ...(needsOwnUserNs() ? { userNs: true } : {}) });
  let container: Container;
  try {
    const above = plan.outerLevels === 1 ? [] : enclosingChain(mirror, opts.into!);
    const all = new Map([...real.nspids, ...real.helpers]);
    // the kernel's cursor at each level above the image's moves with the pids it chose there, not with those set_tid named
    const kernelCursor = above.map((ns) => ns.lastPid);
    const named = new Map([...plan.create, ...plan.groups, ...plan.exits].flatMap((s) => (s.do === 'clone' ? [[s.actor, s.pids.length] as const] : [])));
    container = executeOnModel(mirror, image, withMachinePids(plan, all, above.length === 0), {
      name,
      ...into,
      ...(opts.adoptPages ? { adoptPages: true } : {}),
      beforeClone: (s) => {
        const pids = all.get(s.actor);
        if (!pids) return;
        above.forEach((ns, level) => {
          ns.lastPid = pids[level]! - 1;
          if (level < pids.length - (named.get(s.actor) ?? 0)) kernelCursor[level] = pids[level]!;
        });
      },
    });
    above.forEach((ns, level) => (ns.lastPid = kernelCursor[level]!));
    const mirrored = new Set(mirror.tasksOf(container).map((x) => x.nspids.join('/')));
    for (const [i, t] of image.tasks.entries()) {
      const pids = real.nspids.get(i)!;
      if (!mirrored.has(pids.join('/')) || pids.slice(plan.outerLevels).join('/') !== t.numbers.join('/')) throw new TwinError('CKPT_TWIN_DIVERGED', `task ${t.numbers.join('/')}: the real kernel made it as ${pids.join('/')}, the mirror has no task with those pids`);
    }
  } catch (e) {
    await undoRestore(port, image, plan, new Map([...real.nspids, ...real.helpers]), outside?.actor);
    throw e;
  }
  for (const [i, pids] of real.nspids) agents.add(pids[0]!, base + i);
  // the image's mappings are in the real processes at their own addresses (restore-memory.ts)
  const mapped = new Set<number>();
  image.tasks.forEach((t) => {
    if (t.exited || t.mm < 0 || mapped.has(t.mm)) return;
    mapped.add(t.mm);
    agents.maps.set(real.nspids.get(t.leader)![0]!, image.mms[t.mm]![1].map(([start, end]) => ({ start, end, real: start })));
  });
  return container;
}

/** enclosingChain: the mirror's pid namespaces from the machine's down to that of container `into`'s init */
function enclosingChain(mirror: Machine, into: string): PidNamespace[] {
  return [...mirror.containers.get(into)!.init.pid.ns.chain];
}
