/**
 * A real pid namespace that plays a model host, for the real-kernel
 * collision suite: its init (an agent of the helper) is the host's init, pid
 * 1 there, so a fresh one hands out pids exactly as a fresh model host does,
 * and a case's set-up (cases.ts SetupStep) is built in it with real system
 * calls made by agents. The preflight reads it through linuxFacts' `hostPid`
 * (what a /proc mounted there would show); a restore plan is carried out in
 * it by the real executor with the host's init as the restorer (clone3 with
 * set_tid naming the pids at the host's levels too).
 *
 * Only what a restore made is undone when it fails, and all of it: the port
 * given to the executor answers its undo (`reset`, or `reset LO-HI` for the
 * plan's actors) by killing exactly the processes that came from the
 * restore's replies and having each one's parent reap it. The helper's own
 * reset reaps only the inits it made itself; here the restorer is the host's
 * init, an agent, whose children would otherwise stay zombies.
 */
import { CLONE_NEWPID, CLONE_NEWUSER } from '../../src/abi/clone-flags.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { planRestore, RESTORER, type RestorePlan, type RestoreStep } from '../../src/image/restore-plan.js';
import type { Enclosing, TargetFacts } from '../../src/image/restore-preflight.js';
import type { HelperSession } from '../../src/linux/helper.js';
import { linuxFacts, type LinuxFactOptions } from '../../src/linux/linux-facts.js';
import { restingState } from './with-helper.js';
import { asSeenFrom, readProcess, scanProcesses } from '../../src/linux/proc.js';
import { executeOnLinux, parseReply, type RealRestore, type Reply } from '../../src/linux/real-executor.js';
import { THREAD, type SetupStep, type Who } from '../collisions/cases.js';

const SIGCHLD = 17;

/** An agent of the set-up: its id and its pids at every level, the machine's first. */
interface Agent {
  id: number;
  nspid: number[];
}

/** FIRST_SETUP_ID: set-up agents are numbered from here, far above the actors of any plan the suite runs. */
const FIRST_SETUP_ID = 3000;

/** A plan for the real executor on this host, and the enter step it carries out itself. */
export interface PlannedHere {
  plan: RestorePlan;
  enter: (RestoreStep & { do: 'enter' }) | null;
}

export class NsHost {
  private readonly known = new Map<Who, Agent>();
  private readonly containerNames: string[] = [];
  private nextId = FIRST_SETUP_ID + 1;

  private constructor(
    private readonly h: HelperSession,
    private readonly init: Agent,
  ) {
    this.known.set('host', init);
  }

  /** start makes the host: a fresh pid namespace whose init is an agent. */
  static async start(h: HelperSession): Promise<NsHost> {
    const r = parseReply(await h.command(`init ${FIRST_SETUP_ID} 0 0 0`));
    const init = madeAgent(r, FIRST_SETUP_ID, 'the host namespace');
    return new NsHost(h, init);
  }

  /** the host init's pid on the machine */
  get machinePid(): number {
    return this.init.nspid[0]!;
  }

  /** how many machine levels lie above the host (1: the host is a namespace of the machine's) */
  get base(): number {
    return this.init.nspid.length - 1;
  }

  private who(w: Who): Agent {
    const a = this.known.get(w);
    if (!a) throw new Error(`set-up step names ${w}, which no earlier step made`);
    return a;
  }

  /** call has agent `a` make one request and gives the reply, failing on an error reply or an errno. */
  async call(a: Agent, request: string, what: string): Promise<Reply & { kind: 'r' }> {
    const r = parseReply(await this.h.command(`op ${a.id} ${request}`));
    if (r.kind !== 'r') throw new Error(`${what}: ${r.kind === 'err' ? r.message : `the agent answered ${r.kind}`}`);
    if (r.errno) throw new Error(`${what} failed with ${r.errno}`);
    return r;
  }

  /** pidAsSeenBy: `a`'s pid as `viewer`'s pid namespace numbers it */
  private static pidAsSeenBy(viewer: Agent, a: Agent): number {
    return a.nspid[viewer.nspid.length - 1]!;
  }

  private async clone(by: Agent, flags: number, exitSignal: number, what: string): Promise<Agent> {
    const id = this.nextId++;
    const r = await this.call(by, `clone3 ${id} ${flags} ${exitSignal} 0`, what);
    return madeAgent(r, id, what);
  }

  /** build carries out a case's set-up, step by step, each by the agent the step names. */
  async build(steps: readonly SetupStep[]): Promise<void> {
    for (const s of steps) {
      switch (s.do) {
        case 'container':
          await this.startContainer(s.name, false);
          break;
        case 'fork': {
          const child = await this.clone(this.who(s.by), 0, SIGCHLD, `a fork by ${s.by}`);
          if (s.as !== undefined) this.known.set(s.as, child);
          break;
        }
        case 'thread':
          await this.clone(this.who(s.by), THREAD, 0, `a thread of ${s.by}`);
          break;
        case 'setsid':
          await this.call(this.who(s.who), 'setsid', `setsid by ${s.who}`);
          break;
        case 'setpgid':
          await this.call(this.who(s.who), 'setpgid 0 0', `setpgid by ${s.who}`);
          break;
        case 'exit': {
          const r = parseReply(await this.h.command(`op ${this.who(s.who).id} exit 0`));
          if (r.kind !== 'dead' && r.kind !== 'stuck') throw new Error(`${s.who} did not exit: ${r.kind}`);
          break;
        }
        case 'reap': {
          const parent = this.who(s.by);
          await this.call(parent, `wait4 ${NsHost.pidAsSeenBy(parent, this.who(s.child))} 0`, `${s.by} reaping ${s.child}`);
          break;
        }
      }
    }
  }

  /**
   * startContainer starts a container: its init is the first process of a new pid namespace, made by root
   * without a user namespace of its own (as the cases expect: see the real suite), or with one, as a
   * model container and a container of ckpt's own have.
   */
  async startContainer(name: string, ownUserNs: boolean): Promise<void> {
    this.known.set(name, await this.clone(this.init, CLONE_NEWPID | (ownUserNs ? CLONE_NEWUSER : 0), SIGCHLD, `starting container ${name}`));
    this.containerNames.push(name);
  }

  /** setPidMax sets the host namespace's own pid_max (Linux 6.14 and later: one per pid namespace). */
  async setPidMax(value: number): Promise<void> {
    await this.call(this.init, `write /proc/sys/kernel/pid_max ${value}`, 'writing the host namespace pid_max');
  }

  /** pidMax reads the host namespace's pid_max as a process in it sees it. */
  async pidMax(): Promise<number> {
    const r = await this.call(this.init, 'read /proc/sys/kernel/pid_max', 'reading the host namespace pid_max');
    return Number(r.fields.get('value'));
  }

  /** containers: each container's name and its init's pid as the host numbers it */
  containers(): Map<string, number> {
    return new Map(this.containerNames.map((n) => [n, this.who(n).nspid[this.base]!]));
  }

  /** factOptions: how linuxFacts reads this host (named t, as the model suite's target) */
  async factOptions(): Promise<LinuxFactOptions> {
    return { name: 't', hostPid: this.machinePid, pidMax: await this.pidMax(), containers: this.containers() };
  }

  /** facts: the host as a restore's preflight sees it, read from /proc. */
  async facts(into?: string): Promise<TargetFacts> {
    return linuxFacts({ ...(await this.factOptions()), ...(into === undefined ? {} : { into }) });
  }

  /**
   * scan is every process of the host's namespace and below as its own /proc would show it: pid, parent,
   * state, pids, groups and sessions at every level, threads. Compared before and after to see that nothing changed.
   */
  scan(): string {
    const hostNs = readProcess(this.machinePid)!.pidNs;
    return asSeenFrom(scanProcesses(), hostNs)
      .map((p) => `${p.pid} ppid=${p.ppid} ${restingState(p.state)} nspid=${p.nspid.join('/')} pgid=${p.nspgid.join('/')} sid=${p.nssid.join('/')} threads=${p.threads.map((t) => `${t.tid}${restingState(t.state)}`).join(',')}`)
      .join('\n');
  }

  /**
   * plan makes the plan of a restore onto this host, as the preflight would have let it go (a race: a
   * holder that appeared after the preflight is not seen), and turns it into a plan for the real
   * executor here: the host's init is the restorer, and the machine's levels above the host count too.
   */
  async plan(image: ContainerImage, opts: { hostPids?: boolean; into?: string }): Promise<PlannedHere> {
    const facts = await this.facts(opts.into);
    const above = facts.enclosing as Enclosing;
    const plan = planRestore(image, { aboveLevel: above.level, into: opts.into !== undefined, pidMax: facts.pidMax, taken: () => false }, { via: 'clone3', ...(opts.hostPids ? { hostPids: true } : {}) });
    const asHost = (a: number): number => (a === RESTORER ? this.init.id : a);
    let enter: (RestoreStep & { do: 'enter' }) | null = null;
    const rewrite = (steps: RestoreStep[]): RestoreStep[] =>
      steps.flatMap((s): RestoreStep[] => {
        if (s.do === 'enter') {
          enter = s;
          return [];
        }
        return s.do === 'clone' ? [{ ...s, creator: asHost(s.creator) }] : [s];
      });
    const real: RestorePlan = { ...plan, outerLevels: plan.outerLevels + this.base, create: rewrite(plan.create), groups: rewrite(plan.groups) };
    return { plan: real, enter };
  }

  /**
   * restore carries a plan out here. An `enter` step (the helper inside an enclosing container) is made
   * first by the host's init, as the model's executor makes it: it joins the container's pid namespace
   * for its children (pidfd_open and setns), clones the helper there with clone3 set_tid, and joins its
   * own again. On any failure only what the restore made is killed and reaped.
   */
  async restore(image: ContainerImage, made: PlannedHere, into?: string): Promise<RealRestore> {
    const port = new ScopedPort(this.h, this);
    this.lastPort = port;
    try {
      if (made.enter) {
        const box = this.who(into!);
        await this.call(this.init, `setns ${NsHost.pidAsSeenBy(this.init, box)} ${CLONE_NEWPID}`, `entering the pid namespace of container ${into}`);
        const r = parseReply(await port.command(`op ${this.init.id} clone3 ${made.enter.actor} 0 ${SIGCHLD} ${made.enter.setTid.length} ${made.enter.setTid.join(' ')}`));
        await this.call(this.init, `setns 1 ${CLONE_NEWPID}`, 'joining the host namespace again');
        if (r.kind !== 'r' || r.errno) throw new Error(`the helper inside container ${into} could not be created: clone3 failed with ${r.kind === 'r' ? r.errno : r.kind}`);
      }
      return await executeOnLinux(port, image, made.plan);
    } catch (e) {
      if (port.made.size > 0 && !port.undone) await port.command('reset');
      throw e;
    }
  }

  /** undo kills and reaps every process the last restore made (after a successful one, to leave the host as it was). */
  async undo(): Promise<void> {
    await this.lastPort?.undo();
  }

  /** how many processes the last restore made */
  get madeByLastRestore(): number {
    return this.lastPort?.made.size ?? 0;
  }

  /** agentByMachinePid finds the set-up agent (or the host's init) with this machine pid. */
  agentByMachinePid(pid: number): Agent | undefined {
    return [...this.known.values()].find((a) => a.nspid[0] === pid);
  }

  private lastPort: ScopedPort | undefined;
}

function madeAgent(r: Reply, id: number, what: string): Agent {
  if (r.kind !== 'r') throw new Error(`${what}: ${r.kind === 'err' ? r.message : r.kind}`);
  if (r.errno) throw new Error(`${what} failed with ${r.errno}`);
  const nspid = r.fields.get('nspid');
  if (r.fields.get('child') !== String(id) || !nspid) throw new Error(`${what}: the helper lost the new process`);
  return { id, nspid: nspid.split(',').map(Number) };
}

/**
 * ScopedPort passes the executor's commands to the helper and notes every process they make; `reset`
 * kills exactly those and has their parents (agents of the set-up, or the namespace inits that take
 * them over) reap them, instead of the helper's reset of every agent.
 */
class ScopedPort {
  /** actor id -> its pids, the machine's first */
  readonly made = new Map<number, number[]>();
  undone = false;

  constructor(
    private readonly h: HelperSession,
    private readonly host: NsHost,
  ) {}

  async command(line: string): Promise<string> {
    if (line === 'reset' || line.startsWith('reset ')) {
      await this.undo();
      return 'ok';
    }
    const reply = await this.h.command(line);
    const r = parseReply(reply);
    if (r.kind === 'r' && r.fields.has('child') && r.fields.has('nspid')) {
      const actor = Number(r.fields.get('child'));
      const nspid = r.fields.get('nspid')!.split(',').map(Number);
      this.made.set(actor, nspid);
    }
    return reply;
  }

  /** undo: SIGKILL every made process (their namespaces die with their inits), then reap each from its parent agent until none is left. */
  async undo(): Promise<void> {
    this.undone = true;
    const pids = [...this.made.values()].map((n) => n[0]!);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (let round = 0; round < 500; round++) {
      const left = pids.map((pid) => readProcess(pid)).filter((p) => p !== null);
      if (left.length === 0) return;
      for (const p of left) {
        if (p.state !== 'Z') continue;
        const parent = this.host.agentByMachinePid(p.ppid);
        if (!parent) continue; // a made process's child: its namespace's init reaps it
        const seen = p.nspid[parent.nspid.length - 1]!;
        await this.host.call(parent, `wait4 ${seen} 0`, `reaping process ${p.pid}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the restore's processes would not go: ${pids.filter((pid) => readProcess(pid) !== null).join(', ')}`);
  }
}
