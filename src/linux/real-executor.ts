/**
 * The real kernel's executor of a restore plan: it rebuilds the plan's
 * process tree (pids at every level, sessions, process groups,
 * placeholders, zombies) as real processes, through the agents of the
 * real-kernel helper. Each of the plan's processes is an agent that makes
 * its own system calls; the controller speaks the helper's line protocol
 * (`init`, `op ID REQUEST`, `reset`; see the helper's C source). Every clone
 * is clone3 with set_tid naming the pid at every container level, innermost
 * first. What the real kernel cannot do is refused before anything is made
 * (whatLinuxCannot); a failure midway resets the helper, which kills and
 * reaps every process it made.
 *
 * It also gives each live process its memory: the image's mappings at their
 * own addresses and the pages they hold (restore-memory.ts), and then stops
 * the processes the image has stopped (their mappings are made by
 * themselves, so before). Registers and program state stay the
 * interpreter's, restored elsewhere.
 */
import { CLONE_NEWPID, CLONE_NEWUSER, CLONE_PARENT, CLONE_THREAD, CLONE_VM } from '../abi/clone-flags.js';
import { SIGCHLD, SIGSTOP } from '../abi/signals.js';
import { WNOHANG, WUNTRACED, __WALL } from '../abi/wait.js';
import type { ContainerImage } from '../image/container-image.js';
import { RestoreError, type Problem } from '../image/restore-error.js';
import { RESTORER, type Actor, type CloneStep, type RestorePlan } from '../image/restore-plan.js';
import { mappingRequest, memoryProblems, planMemory, readMaps, writePages, type MappingStep } from './restore-memory.js';

/** HelperPort is how the executor talks to the helper (a HelperSession of helper.ts): one command line in, one reply line out. */
export interface HelperPort {
  command(line: string): Promise<string>;
  /** the helper's pid on this machine, when it is a real one: its mappings are every agent's to begin with */
  readonly pid?: number | undefined;
  /** command lines carried out as one batch (HelperSession.batch); without it they are sent one by one */
  batch?(lines: readonly string[]): Promise<string[]>;
  /** a batch sent now, its replies read later by what it returns (nothing else is sent before): the helper works while the caller goes on */
  begin?(lines: readonly string[]): () => Promise<string[]>;
}

/** Reply is one reply line of the helper, parsed. */
export type Reply =
  | { kind: 'r'; ret: number; errno: string | null; fields: Map<string, string> }
  | { kind: 'dead' | 'stuck' | 'stopped' | 'timeout' | 'gone' | 'ok' }
  | { kind: 'err'; message: string };

/** parseReply reads a reply line: `r RET ERRNO key=value...`, `dead`, `stuck`, `stopped`, `timeout`, `gone`, `ok` or `err MESSAGE`. */
export function parseReply(line: string): Reply {
  // the helper's replies are single-spaced: the common ones are read without a regular expression (a restore reads thousands)
  const words = /^\S+( \S+)*$/.test(line) ? line.split(' ') : line.trim().split(/\s+/);
  const head = words[0] ?? '';
  if (head === 'r' && words.length >= 3) {
    const fields = new Map<string, string>();
    for (let k = 3; k < words.length; k++) {
      const w = words[k]!;
      const eq = w.indexOf('=');
      if (eq > 0) fields.set(w.slice(0, eq), w.slice(eq + 1));
    }
    return { kind: 'r', ret: Number(words[1]), errno: words[2] === '-' ? null : words[2]!, fields };
  }
  if (head === 'dead' || head === 'stuck' || head === 'stopped' || head === 'timeout' || head === 'gone' || head === 'ok') return { kind: head };
  if (head === 'skipped') return { kind: 'err', message: 'skipped: an earlier command of the batch failed' };
  return { kind: 'err', message: head === 'err' ? line.trim().slice(4) : `unexpected reply ${JSON.stringify(line)}` };
}

/** The signals whose default action dumps core (signal(7)): a zombie they made would also carry the core-dump flag, or not, by RLIMIT_CORE. */
const CORE_SIGNALS = new Set([3, 4, 5, 6, 7, 8, 11, 24, 25, 31]);

/** isInit: a task is its pid namespace's init (pid 1 there), which ignores signals sent from inside its namespace. */
function isInit(t: ContainerImage['tasks'][number]): boolean {
  return t.numbers[t.numbers.length - 1] === 1;
}

/** MAX_AGENTS: how many agents one helper keeps (its table's size). */
const MAX_AGENTS = 4096;

/**
 * whatLinuxCannot lists the reasons, each naming what and why, that the real
 * kernel cannot carry out `plan`: checked before anything is made.
 */
export function whatLinuxCannot(plan: RestorePlan, image: ContainerImage): Problem[] {
  const problems: Problem[] = [];
  const add = (message: string): void => {
    if (!problems.some((p) => p.message === message)) problems.push({ code: 'CKPT_UNSUPPORTED', message });
  };
  if (plan.via !== 'clone3') add('the real kernel has no eclone (it was never merged): restore with clone3 (set_tid)');
  for (const t of image.tasks) if (t.abi !== 'x86_64') add(`task ${t.numbers.join('/')} runs the ${t.abi} ABI: this machine's processes are x86_64`);
  const mmOwner = new Map<number, number>();
  image.tasks.forEach((t) => {
    if (t.exited || t.mm < 0) return;
    const owner = mmOwner.get(t.mm);
    if (owner === undefined) mmOwner.set(t.mm, t.leader);
    else if (owner !== t.leader) add(`tasks ${image.tasks[owner]!.numbers.join('/')} and ${t.numbers.join('/')} are two processes sharing one address space (CLONE_VM without CLONE_THREAD): not supported on the real kernel yet`);
  });
  if (image.tasks.length + plan.helpers > MAX_AGENTS) add(`the image needs ${image.tasks.length + plan.helpers} processes, more than the helper's ${MAX_AGENTS} agents`);
  for (const s of [...plan.create, ...plan.groups, ...plan.exits]) {
    if (s.do === 'adopt') add(`task ${image.tasks[s.task]!.numbers.join('/')} has a thread made after it as its parent: the real kernel keeps a child with the thread that forked it, and no call moves it`);
    if (s.do === 'exit') {
      const t = image.tasks[s.task]!;
      const status = t.group.groupExitStatus ?? t.exitStatus;
      const sig = status & 0x7f;
      if (sig !== 0 && CORE_SIGNALS.has(sig)) add(`zombie ${t.numbers.join('/')} was killed by signal ${sig}, whose default action dumps core: making such a zombie on the real kernel is not supported yet`);
      else if (sig !== 0 && isInit(t) && t.parent < 0) add(`the container's init ${t.numbers.join('/')} was killed by signal ${sig}: only its parent could send it, and that is its holder`);
    }
  }
  for (const t of image.tasks) {
    if (t.exited || !t.group.stopped) continue;
    const who = `task ${t.numbers.join('/')} is stopped`;
    if (t.parent < 0) add(`${who}: only its parent, outside the container (its holder), could stop it again on the real kernel`);
    else if (t.group.stopSignal !== SIGSTOP) add(`${who} by signal ${t.group.stopSignal}: only a stop by SIGSTOP is made again on the real kernel`);
  }
  const asKept = childrenAsLinuxKeepsThem(plan, image);
  for (const s of plan.order) {
    if (s.do !== 'order') continue;
    const kept = asKept.get(s.parent) ?? [];
    if (kept.join(',') !== s.children.join(',')) add(`the children of task ${image.tasks[s.parent]!.numbers.join('/')} were in the order ${s.children.map((c) => image.tasks[c]!.numbers.join('/')).join(', ')}; the real kernel would keep them as ${kept.map((c) => image.tasks[c]!.numbers.join('/')).join(', ')}, and no call reorders them`);
  }
  return problems;
}

/**
 * childrenAsLinuxKeepsThem follows the plan as the kernel keeps children
 * lists: a child goes at the end of its real parent's (the creator's, or
 * with CLONE_PARENT the creator's parent's); when a thread exits, its
 * children go, in order, to the end of the list of the first live thread of
 * its process, else of its namespace's init (find_new_reaper). Only the
 * image's tasks are listed.
 */
function childrenAsLinuxKeepsThem(plan: RestorePlan, image: ContainerImage): Map<Actor, Actor[]> {
  const tasks = image.tasks;
  const parentOf = new Map<Actor, Actor>();
  const children = new Map<Actor, Actor[]>();
  const initOf = new Map<Actor, Actor>(); // each actor's namespace's init
  const exited = new Set<Actor>();
  const listOf = (a: Actor): Actor[] => children.get(a) ?? (children.set(a, []), children.get(a)!);
  const groups = new Map<number, Actor[]>();
  tasks.forEach((t, i) => (groups.get(t.leader) ?? (groups.set(t.leader, []), groups.get(t.leader)!)).push(i));
  const threadsOf = (a: Actor): Actor[] => (a >= 0 && a < tasks.length ? groups.get(tasks[a]!.leader)! : [a]);
  for (const s of [...plan.create, ...plan.groups, ...plan.exits]) {
    if (s.do === 'clone') {
      initOf.set(s.actor, s.flags & CLONE_NEWPID ? s.actor : (initOf.get(s.creator) ?? s.actor));
      if (s.flags & CLONE_THREAD) continue;
      const parent = s.flags & CLONE_PARENT ? (parentOf.get(s.creator) ?? RESTORER) : s.creator;
      parentOf.set(s.actor, parent);
      listOf(parent).push(s.actor);
    } else if (s.do === 'leave' || s.do === 'exit') {
      const gone = s.do === 'leave' ? s.actor : s.task;
      exited.add(gone);
      const reaper = threadsOf(gone).find((t) => !exited.has(t)) ?? initOf.get(gone);
      const orphans = children.get(gone) ?? [];
      children.set(gone, []);
      if (reaper !== undefined && reaper !== gone) {
        for (const c of orphans) {
          parentOf.set(c, reaper);
          listOf(reaper).push(c);
        }
      }
      if (s.do === 'leave') {
        const p = parentOf.get(gone);
        if (p !== undefined) children.set(p, listOf(p).filter((c) => c !== gone));
      }
    }
  }
  return new Map([...children].map(([p, list]) => [p, list.filter((c) => c >= 0 && c < tasks.length)]));
}

/**
 * RealRestore is what the executor made: for each image task, its agent id (the helper's channel
 * DIR/ID.req|rep, which a later helper reaches with `attach ID`), its pid on the machine (as the
 * helper's pid namespace numbers it: the machine's own when the helper runs there) and its pids at
 * every level (outermost first, as the helper's /proc shows them).
 */
export interface RealRestore {
  agents: Map<number, number>;
  pids: Map<number, number>;
  nspids: Map<number, number[]>;
  /** the pids at every level of the plan's own helpers (placeholders, the enterer), which are gone again */
  helpers: Map<Actor, number[]>;
  /** each task's process's start time, as the helper said it (field 22 of /proc/PID/stat), where it did */
  starts: Map<number, string>;
}

export interface ExecuteOptions {
  /** give the processes the image's memory (default true); false builds the tree alone (a port over the model has no /proc) */
  memory?: boolean;
  /**
   * for a plan that goes into a running container (its `enter` step): the actor number, on the port,
   * of an agent of that container that lives in its pid namespace and makes its children there. It
   * makes the plan's enterer (clone3, set_tid naming the pids the plan gives it at the enclosing
   * container's levels; the machine's level is the kernel's choice, which a container in a user
   * namespace of its own cannot name) and reaps it once it has made the container's init.
   */
  enterFrom?: Actor;
  /** the memory of `enterFrom` a fork of it inherits and the restore must not (its workload's mappings, [address, length]): the enterer unmaps it before it makes anything */
  notInherited?: ReadonlyArray<readonly [number, number]>;
  /** the container's init gets a user namespace of its own too (CLONE_NEWUSER): a restorer without CAP_SYS_ADMIN needs one */
  userNs?: boolean;
}

/** executeOnLinux carries `plan` out through the helper; on any failure every process it made is killed and reaped. */
export async function executeOnLinux(port: HelperPort, image: ContainerImage, plan: RestorePlan, opts: ExecuteOptions = {}): Promise<RealRestore> {
  const memory = opts.memory ?? true;
  const problems = [...whatLinuxCannot(plan, image), ...(memory && port.pid !== undefined ? memoryProblems(image, readMaps(port.pid)) : [])];
  if (problems.length > 0) throw new RestoreError(problems);
  const made = new Map<Actor, number[]>();
  try {
    return await carryOut(port, image, plan, memory, opts, made);
  } catch (e) {
    const reset = await undoRestore(port, image, plan, made, opts.enterFrom);
    if (reset.kind !== 'ok') throw new RestoreError([{ code: 'CKPT_RESTORE_FAILED', message: `${e instanceof Error ? e.message : String(e)}; and the helper could not undo it: ${reset.kind === 'err' ? reset.message : reset.kind}` }]);
    throw e;
  }
}

/**
 * undoRestore kills and reaps every process a restore of `plan` made (`made`: the pids at every
 * level of each actor made so far), and only those: its actors are agents 0 .. tasks + helpers - 1.
 * Into a running container, the process of it that made the enterer (`enterFrom`, that container's
 * init) reaps the enterer and the container's init: once killed they are its children (the init's
 * parent, once the enterer has gone, is the init of the namespace it was made in), which no
 * agent of the restore is left to reap.
 */
export async function undoRestore(port: HelperPort, image: ContainerImage, plan: RestorePlan, made: ReadonlyMap<Actor, number[]>, enterFrom?: Actor): Promise<Reply> {
  const reset = parseReply(await port.command(`reset 0-${image.tasks.length + plan.helpers - 1}`));
  const enter = plan.create.find((s) => s.do === 'enter');
  if (enterFrom !== undefined && enter?.do === 'enter') {
    const init = made.get(image.init)?.[plan.outerLevels - 1];
    for (const pid of [made.has(enter.actor) ? enter.setTid[0] : undefined, init]) {
      if (pid !== undefined) await port.command(`op ${enterFrom} wait4 ${pid} ${__WALL}`); // ECHILD: reaped already
    }
  }
  return reset;
}

function fail(message: string): never {
  throw new RestoreError([{ code: 'CKPT_RESTORE_FAILED', message }]);
}

/** run sends `items` as one batch and checks every reply in order. */
async function run(port: HelperPort, items: readonly Item[]): Promise<void> {
  if (items.length === 0) return;
  checkReplies(items, await sendBatch(port, items.map((it) => it.line)));
}

/** checkReplies checks each item's reply, in order */
function checkReplies(items: readonly Item[], replies: readonly string[]): void {
  const lines = items.map((it) => it.line);
  items.forEach((it, k) => {
    const reply = replies[k] ?? 'err no reply';
    if (/ unsettled\b/.test(reply)) fail(`${it.line}: the kernel had not settled 10 s after it`);
    if (reply === 'skipped') fail(`the helper stopped before ${it.line} (after ${k > 0 ? `${lines[k - 1]} answered ${replies[k - 1]}` : 'nothing'})`);
    it.check(parseReply(reply), it.line);
  });
}

/** Held: one of the image's mappings as a process has it. */
interface Held {
  start: number;
  end: number;
  prot: number;
  shared: boolean;
}

/** Item: one command of a batch, and the check its reply must pass (it throws, naming what failed). */
interface Item {
  line: string;
  check(reply: Reply, line: string): void;
}

/**
 * sendBatch sends `lines` as one batch, or, to a port without batches, one by one, stopping as
 * the helper's batch stops: at an error, a failed call, or a death that is not an exit's or a
 * signal's.
 */
export async function sendBatch(port: HelperPort, lines: readonly string[]): Promise<string[]> {
  if (port.batch) return port.batch(lines);
  const replies: string[] = [];
  for (const line of lines) {
    if (replies.length > 0 && stopsBatch(lines[replies.length - 1]!, replies.at(-1)!)) replies.push('skipped');
    else replies.push(await port.command(line));
  }
  return replies;
}

/** stopsBatch: the reply ends a batch (the helper's failed_in_batch, for ports without batches). */
export function stopsBatch(line: string, reply: string): boolean {
  if (reply === 'skipped' || / unsettled\b|child=lost/.test(reply)) return true;
  const r = parseReply(reply);
  if (r.kind === 'err' || r.kind === 'timeout' || r.kind === 'gone') return true;
  if (r.kind === 'r') return r.errno !== null;
  if (r.kind === 'dead' || r.kind === 'stuck') return !/^op \d+ (exit|exit_group|kill) /.test(line);
  if (r.kind === 'stopped') return !/^op \d+ kill /.test(line);
  return false;
}

/**
 * stopsAsTheImageHasThem stops each process the image has stopped, last of all (a stopped process
 * cannot make its own mappings): its parent sends it SIGSTOP (which reaches a namespace's init from
 * its parent's, an ancestor namespace), and when the image's parent had already collected the
 * stop report, collects it again (wait4 WUNTRACED). whatLinuxCannot refused the other stops.
 */
function stopsAsTheImageHasThem(image: ContainerImage, pidAsSeenBy: (viewer: Actor, a: Actor) => number): Item[] {
  const items: Item[] = [];
  const stopped = image.tasks.flatMap((t, i) => (!t.exited && t.leader === i && t.group.stopped && t.parent >= 0 ? [i] : []));
  // a stopped parent sends nothing: children first
  const done = new Set<number>();
  const order: number[] = [];
  const visit = (i: number): void => {
    if (done.has(i)) return;
    done.add(i);
    for (const c of stopped) if (image.tasks[image.tasks[c]!.parent]!.leader === i) visit(c);
    order.push(i);
  };
  for (const i of stopped) visit(i);
  order.forEach((i) => {
    const t = image.tasks[i]!;
    const pid = pidAsSeenBy(t.parent, i);
    const what = `stopping task ${t.numbers.join('/')} again`;
    items.push({
      line: `op ${t.parent} kill ${pid} ${SIGSTOP}`,
      check: (r) => {
        if (r.kind !== 'r' || r.errno) fail(`${what}: ${r.kind === 'r' ? `kill failed with ${r.errno}` : r.kind === 'err' ? r.message : r.kind}`);
      },
    });
    if (t.group.stopReportPending) return;
    items.push({
      line: `op ${t.parent} wait4 ${pid} ${(WNOHANG | WUNTRACED | __WALL) >>> 0}`,
      check: (r) => {
        const status = (SIGSTOP << 8) | 0x7f;
        if (r.kind !== 'r' || r.ret !== pid || r.fields.get('status') !== String(status)) fail(`${what}: its parent did not collect the stop report (wait4 answered ${r.kind === 'r' ? `${r.errno ?? r.ret} status ${r.fields.get('status')}` : r.kind})`);
      },
    });
  });
  return items;
}

/**
 * carryOut translates the whole plan into one batch of the helper's commands (every pid an agent
 * names is known from the plan, so no command waits for an earlier reply), sends it, and checks
 * every reply in order.
 */
async function carryOut(port: HelperPort, image: ContainerImage, plan: RestorePlan, memory: boolean, opts: ExecuteOptions, nspids: Map<Actor, number[]>): Promise<RealRestore> {
  const batch = new RestoreBatch(image, plan, memory, opts, nspids);
  const ahead = new SendAhead(port, opts.userNs === true);
  try {
    batch.build(ahead);
  } catch (e) {
    // its replies are read all the same: nothing else may be sent before them (the undo's reset)
    await ahead.settle();
    throw e;
  }
  await ahead.check();
  await run(port, batch.items);
  await run(port, batch.joiningMappings());
  writePages(batch.mem.pages, (t) => nspids.get(t)![0]!);
  // the enterer is reaped: its channel goes with it
  if (plan.enterer !== null && opts.enterFrom !== undefined) await port.command(`reset ${plan.enterer}`);
  await run(port, stopsAsTheImageHasThem(image, (viewer, a) => batch.pidAsSeenBy(viewer, a)));
  return batch.made();
}

/** Step: what RestoreBatch.build goes through: the plan's steps, and the two points where it checks what is made */
type Step = RestorePlan['create'][number] | 'children' | 'verify';

/**
 * SendAhead: the plan's first clones, a chain of processes each made by the one before (the
 * container's init, the init of each level below it, ...), with the mappings each makes before its
 * children, go to the helper as soon as they are built, when the port can send a batch and read it
 * later: the helper makes them, one after the other, while the rest is built, which goes once they
 * are checked. Not with a user namespace of its own: its id maps are written before anything runs in it.
 */
class SendAhead {
  private tried = false;
  /** the creators of the chain so far: a second child of one of them ends it */
  private readonly chain = new Set<Actor>();
  private sent: { items: Item[]; replies: () => Promise<string[]> } | undefined;

  constructor(
    private readonly port: HelperPort,
    private readonly userNs: boolean,
  ) {}

  /** before step `s` is built: once the chain ends, what is built so far (`items`, emptied) goes */
  before(s: Step, items: Item[]): void {
    if (this.tried || this.chainGoesOn(s)) return;
    this.tried = true;
    if (!this.port.begin || this.userNs || !items[0]?.line.startsWith('init ')) return;
    const sent = items.splice(0);
    this.sent = { items: sent, replies: this.port.begin(sent.map((it) => it.line)) };
  }

  /** check reads and checks the replies of what went ahead */
  async check(): Promise<void> {
    if (this.sent) checkReplies(this.sent.items, await this.sent.replies());
  }

  /** settle reads the replies of what went ahead, unchecked (the build failed) */
  async settle(): Promise<void> {
    await this.sent?.replies();
  }

  private chainGoesOn(s: Step): boolean {
    if (s === 'children' || s === 'verify' || s.do !== 'clone' || this.chain.has(s.creator)) return false;
    this.chain.add(s.creator);
    return true;
  }
}

/**
 * RestoreBatch builds the helper's commands for a plan, each with the check of its reply, keeping
 * what the plan says of each actor as the commands are built: its pids, where its children go, the
 * image's mappings it has.
 */
class RestoreBatch {
  readonly items: Item[] = [];
  /** the image's mappings and pages to make (none when the memory is not restored) */
  readonly mem: ReturnType<typeof planMemory>;
  private readonly tasks: ContainerImage['tasks'];
  private readonly userNs: boolean;
  /** each actor's pids at the container's levels, from the plan */
  private readonly inside = new Map<Actor, number[]>();
  /** where each agent's pid_ns_for_children points: the image namespace, or its own */
  private readonly childrenIn = new Map<Actor, number | 'own'>();
  /** the first process made in each image namespace: setns names a namespace by one of its processes */
  private readonly firstIn = new Map<number, Actor>();
  /** the image's mappings each actor's process has: made for it, or inherited from its creator */
  private readonly held = new Map<Actor, Held[]>();
  /** each actor's process's start time, from its clone's reply */
  private readonly starts = new Map<Actor, string>();
  /** each live address space's mappings, by the task that maps them (planMemory's mapper), until made */
  private readonly wanted = new Map<Actor, MappingStep[]>();
  /** the actors that make others */
  private readonly creators = new Set<Actor>();

  constructor(
    private readonly image: ContainerImage,
    private readonly plan: RestorePlan,
    memory: boolean,
    private readonly opts: ExecuteOptions,
    private readonly nspids: Map<Actor, number[]>,
  ) {
    this.tasks = image.tasks;
    this.userNs = opts.userNs === true;
    this.mem = memory ? planMemory(image) : { mappings: [], pages: [] };
    for (const m of this.mem.mappings) (this.wanted.get(m.task) ?? (this.wanted.set(m.task, []), this.wanted.get(m.task)!)).push(m);
    for (const s of [...plan.create, ...plan.groups, ...plan.exits]) if (s.do === 'clone' && s.creator !== RESTORER) this.creators.add(s.creator);
  }

  /** build: every step's commands, in the plan's order, `ahead` sending the first ones early */
  build(ahead: SendAhead): void {
    const { plan } = this;
    for (const s of [...plan.create, 'children' as const, ...plan.groups, 'verify' as const, ...plan.exits]) {
      ahead.before(s, this.items);
      this.step(s);
    }
    this.lastPidsWhereTheImageHasThem();
    // the mappings of address spaces whose first live task is not a leader (a thread's)
    for (const a of [...this.wanted.keys()]) this.memoryOf(a);
    // every process made is an agent that answers: each has said so once started (its hello)
    this.items.push({
      line: `confirm 0-${this.tasks.length + plan.helpers - 1}`,
      check: (r) => {
        if (r.kind !== 'ok') fail(`the restored processes did not all start as agents: ${r.kind === 'err' ? r.message : r.kind}`);
      },
    });
  }

  /** joiningMappings: the mappings that join another process's shared one, which they name by its pid on the machine, known once the batch is answered */
  joiningMappings(): Item[] {
    return this.mem.mappings.filter((m) => m.joins !== null).map((m) => this.mapping(m));
  }

  /** made: what the restore made, once every reply is checked */
  made(): RealRestore {
    const { tasks } = this;
    const made = [...this.nspids].filter(([a]) => a >= 0 && a < tasks.length);
    const helpers = [...this.nspids].filter(([a]) => a >= tasks.length);
    return { agents: new Map(tasks.map((_, i) => [i, i])), pids: new Map(made.map(([a, p]) => [a, p[0]!])), nspids: new Map(made), helpers: new Map(helpers), starts: new Map([...this.starts].filter(([a]) => a >= 0 && a < tasks.length)) };
  }

  /** pidAsSeenBy: a process's pid as `viewer`'s namespace numbers it (both are in the container) */
  pidAsSeenBy(viewer: Actor, a: Actor): number {
    const pid = this.insideOf(a)[this.insideOf(viewer).length - 1];
    if (pid === undefined) fail(`${this.name(a)} is not visible from ${this.name(viewer)}'s pid namespace`);
    if (Number.isNaN(pid)) throw new RestoreError([{ code: 'CKPT_UNSUPPORTED', message: `${this.name(a)} would have a pid the kernel picks in ${this.name(viewer)}'s pid namespace, which the restore must name: this layout is not supported yet` }]);
    return pid;
  }

  private step(s: Step): void {
    const { plan } = this;
    if (s === 'verify') return this.verifyGroups();
    if (s === 'children') return this.childrenWhereTheImageHasThem();
    switch (s.do) {
      case 'clone':
        return this.clone(s);
      case 'setsid':
        return this.call(s.actor, 'setsid', `setsid for ${this.name(s.actor)}`);
      case 'setpgid':
        return this.call(s.actor, `setpgid 0 ${s.pgid}`, `setpgid for ${this.name(s.actor)}`);
      case 'leave':
        if (s.actor === plan.enterer && this.opts.enterFrom !== undefined) return this.leaveContainer(s.actor, this.opts.enterFrom);
        return this.exitAndReap(s.actor, 0, s.reaper === RESTORER ? null : s.reaper);
      case 'enter':
        return this.enter(s.actor, s.setTid);
      case 'exit': {
        const t = this.tasks[s.task]!;
        const status = t.group.groupExitStatus ?? t.exitStatus;
        if ((status & 0x7f) === 0) return this.exitAndReap(s.task, (status >> 8) & 0xff, null);
        return this.killedBy(s.task, status & 0x7f);
      }
      case 'adopt':
      case 'last_pid':
      case 'order':
        return; // refused by whatLinuxCannot, or (order) already the kernel's
    }
  }

  private name(a: Actor): string {
    return a >= 0 && a < this.tasks.length ? `task ${this.tasks[a]!.numbers.join('/')}` : `helper ${a}`;
  }

  private insideOf(a: Actor): number[] {
    return this.inside.get(a) ?? fail(`${this.name(a)} was needed before it was made`);
  }

  private heldBy(a: Actor): Held[] {
    return this.held.get(a) ?? (this.held.set(a, []), this.held.get(a)!);
  }

  private ownNs(a: Actor): number | null {
    return a >= 0 && a < this.tasks.length ? this.tasks[a]!.ns : null;
  }

  /** answered: `r` is a call's success; else the restore fails, naming the call (`what`, or what makes that text: named only then) */
  private answered(r: Reply, what: string | (() => string), who = 'the agent'): Reply & { kind: 'r' } {
    if (r.kind === 'r' && !r.errno) return r;
    const text = typeof what === 'string' ? what : what();
    if (r.kind !== 'r') fail(`${text}: ${r.kind === 'err' ? r.message : `${who} answered ${r.kind}`}`);
    fail(`${text} failed with ${r.errno}`);
  }

  private call(a: Actor, request: string, what: string, more?: (r: Reply & { kind: 'r' }) => void): void {
    this.items.push({
      line: `op ${a} ${request}`,
      check: (r) => {
        const ok = this.answered(r, what);
        more?.(ok);
      },
    });
  }

  private pointChildren(creator: Actor, where: CloneStep['childrenIn']): void {
    const want = where === 'own' ? 'own' : where.ns === this.ownNs(creator) ? 'own' : where.ns;
    if ((this.childrenIn.get(creator) ?? 'own') === want) return;
    const into = want === 'own' ? creator : (this.firstIn.get(want) ?? fail(`pid namespace ${want} of the image was needed before it was made`));
    this.call(creator, `setns ${this.pidAsSeenBy(creator, into)} ${CLONE_NEWPID}`, `pointing ${this.name(creator)}'s children at the pid namespace of ${this.name(into)}`);
    this.childrenIn.set(creator, want);
  }

  private clone(s: CloneStep): void {
    const { tasks, plan } = this;
    const what = (): string => (s.task === null ? `the placeholder for leader ${s.standsFor!.join('/')}` : `clone3 of task ${tasks[s.task]!.numbers.join('/')} (set_tid ${s.pids.join(', ')}, innermost level first)`);
    // a placeholder is made in its creator's namespace, set_tid naming the levels the plan names (innermost first); the kernel picks the others (NaN here)
    const want = s.task !== null ? tasks[s.task]!.numbers : [...new Array<number>(Math.max(0, this.insideOf(s.creator).length - s.pids.length)).fill(NaN), ...[...s.pids].reverse()];
    let line: string;
    if (s.creator === RESTORER) line = `init ${s.actor} ${(s.flags & ~CLONE_NEWPID) | (this.userNs ? CLONE_NEWUSER : 0)} ${s.pids.length > 0 ? s.pids.join(',') : 0} 1`;
    else {
      this.pointChildren(s.creator, s.childrenIn);
      line = `op ${s.creator} clone3 ${s.actor} ${s.flags} ${s.exitSignal} ${s.pids.length} ${s.pids.join(' ')}`;
    }
    this.inside.set(s.actor, want);
    // a clone copies its creator's mappings (CLONE_VM: shares them); the helper's child has none of the image's
    this.held.set(s.actor, s.creator === RESTORER ? [] : s.flags & CLONE_VM ? this.heldBy(s.creator) : [...this.heldBy(s.creator)]);
    this.items.push({
      line,
      check: (reply) => {
        const r = this.answered(reply, what, 'the creator');
        const made = r.fields.get('nspid');
        if (!made || r.fields.get('child') !== String(s.actor)) fail(`${what()}: the helper lost the new process`);
        const pids = made.split(',').map(Number);
        this.nspids.set(s.actor, pids);
        const start = r.fields.get('start');
        if (start !== undefined) this.starts.set(s.actor, start);
        const got = pids.slice(plan.outerLevels);
        if (got.length !== want.length || want.some((p, k) => !Number.isNaN(p) && p !== got[k])) fail(`${s.task === null ? `the placeholder for leader ${s.standsFor!.join('/')}` : `task ${want.join('/')}`} came back as ${got.join('/')}`);
      },
    });
    if (s.task !== null && !this.firstIn.has(tasks[s.task]!.ns)) this.firstIn.set(tasks[s.task]!.ns, s.actor);
    // a process that makes others has its memory made before them, so that they inherit it as fork gives it
    if (s.task !== null && this.creators.has(s.actor)) this.memoryOf(s.task);
  }

  private exitAndReap(a: Actor, code: number, reaper: Actor | null): void {
    this.items.push({
      line: `op ${a} exit ${code}`,
      check: (r) => {
        if (r.kind !== 'dead' && r.kind !== 'stuck') fail(`${this.name(a)} did not exit: ${r.kind === 'err' ? r.message : r.kind}`);
      },
    });
    if (reaper !== null) this.call(reaper, `wait4 ${this.pidAsSeenBy(reaper, a)} 0`, `reaping ${this.name(a)}`);
  }

  /**
   * enter makes the plan's enterer in the running container the restore goes into: `enterFrom`, an
   * agent there, clones it, set_tid naming its pids at the container's levels (innermost first; the
   * plan's last, the machine's level, is left to the kernel).
   */
  private enter(actor: Actor, setTid: readonly number[]): void {
    const { enterFrom } = this.opts;
    if (enterFrom === undefined) fail('the plan goes into a running container, and no process of that container was named to make its helper');
    const tids = setTid.slice(0, -1);
    this.inside.set(actor, []);
    const what = `the helper inside the enclosing container (set_tid ${tids.join(', ')}, innermost level first)`;
    this.items.push({
      line: `op ${enterFrom} clone3 ${actor} 0 ${SIGCHLD} ${tids.length} ${tids.join(' ')}`.trim(),
      check: (reply) => {
        const r = this.answered(reply, what, 'the container\'s process');
        const made = r.fields.get('nspid');
        if (!made || r.fields.get('child') !== String(actor)) fail(`${what}: the helper lost the new process`);
        const pids = made.split(',').map(Number);
        this.nspids.set(actor, pids);
        if (pids.length !== this.plan.outerLevels || tids.some((p, k) => pids[pids.length - 1 - k] !== p)) fail(`${what} came back as ${pids.join('/')}`);
      },
    });
    // a fork of a process of that container: what it holds of the workload's memory is not the restored container's
    for (const [address, length] of this.opts.notInherited ?? []) this.call(actor, `munmap ${address} ${length}`, `unmapping what the helper inside the enclosing container inherited at 0x${address.toString(16)}`);
  }

  /** leaveContainer: the enterer exits (the container's init goes to the enclosing container's init) and the process that made it reaps it */
  private leaveContainer(actor: Actor, maker: Actor): void {
    const step = this.plan.create.find((s) => s.do === 'enter' && s.actor === actor);
    const pid = step?.do === 'enter' ? step.setTid[0]! : fail('the enterer has no enter step');
    this.exitAndReap(actor, 0, null);
    this.call(maker, `wait4 ${pid} 0`, 'reaping the helper inside the enclosing container');
  }

  /**
   * killedBy makes a zombie killed by a signal: the process sends it to itself, or for a namespace's
   * init (which ignores what comes from inside its namespace) its parent sends it.
   */
  private killedBy(i: number, sig: number): void {
    const t = this.tasks[i]!;
    const sender = isInit(t) ? t.parent : i;
    this.items.push({
      line: `op ${sender} kill ${this.pidAsSeenBy(sender, i)} ${sig}`,
      check: (r) => {
        if (sender === i ? r.kind !== 'dead' && r.kind !== 'stuck' : r.kind !== 'r' || r.errno !== null) {
          fail(`${this.name(i)} was not killed by signal ${sig}: ${r.kind === 'err' ? r.message : r.kind === 'r' ? (r.errno ?? 'it lives on') : r.kind}`);
        }
      },
    });
  }

  /**
   * mapping: the command that makes one fresh mapping. The mappings made fresh go in the same batch,
   * a process's before the processes it makes (which inherit what they share with it, as fork gives
   * it), else right after its ids (the helper sends an agent's run of such requests as one line);
   * those joining another process's shared mapping go in a second (joiningMappings).
   */
  private mapping(m: MappingStep): Item {
    return {
      line: `op ${m.task} ${mappingRequest(m, (t) => this.nspids.get(t)![0]!)}`,
      check: (r) => {
        const what = `mapping ${m.start.toString(16)}-${m.end.toString(16)} of ${this.name(m.task)}`;
        if (r.kind === 'r' && r.errno === 'EEXIST') throw new RestoreError([{ code: 'CKPT_UNSUPPORTED', message: `${what} would overlap one the process already has (the helper's own, made since the check): not supported` }]);
        this.answered(r, what);
      },
    };
  }

  /** memoryOf: `task`'s address space gets the image's mappings, once: what it inherited and the image has not there goes */
  private memoryOf(task: Actor): void {
    const want = this.wanted.get(task);
    if (!want) return;
    this.wanted.delete(task);
    const has = this.heldBy(task);
    const drop = (x: Held): void => {
      has.splice(has.indexOf(x), 1);
      this.call(task, `munmap ${x.start} ${x.end - x.start}`, `unmapping ${x.start.toString(16)}-${x.end.toString(16)}, which ${this.name(task)} inherited and its image does not have there`);
    };
    for (const m of want) {
      if (m.joins === null && !m.shared && has.some((x) => x.start === m.start && x.end === m.end && x.prot === m.prot && !x.shared)) continue; // inherited
      for (const x of has.filter((x) => x.start < m.end && m.start < x.end)) drop(x);
      if (m.joins === null) this.items.push(this.mapping(m));
      has.push({ start: m.start, end: m.end, prot: m.prot, shared: m.shared });
    }
    for (const x of has.filter((x) => !want.some((m) => m.start === x.start && m.end === x.end))) drop(x);
  }

  /**
   * verifyGroups reads, for every process while all still run, which group and session its own
   * namespace says it is in (the helper reads /proc, the process need not run), and has the
   * processes that made none make their mappings.
   */
  private verifyGroups(): void {
    for (const [i, t] of this.tasks.entries()) {
      if (t.leader !== i) continue;
      const own = (id: number[] | null): number => id?.[t.numbers.length - 1] ?? 0;
      this.items.push({
        line: `ids ${i}`,
        check: (reply) => {
          const r = this.answered(reply, () => `reading the ids of ${this.name(i)}`);
          const differs = (what: string, got: number, id: number[] | null): void => {
            if (got !== own(id)) throw new RestoreError([{ code: 'CKPT_UNSUPPORTED', message: `task ${t.numbers.join('/')} ended up in ${what} ${got || '(outside)'} instead of ${own(id) || '(outside)'} as its own namespace numbers them: this layout is not supported yet` }]);
          };
          differs('process group', Number(r.fields.get('pgrp')), t.pgid);
          differs('session', Number(r.fields.get('sid')), t.sid);
        },
      });
      this.memoryOf(i);
    }
  }

  /**
   * childrenWhereTheImageHasThem points each live task's pid_ns_for_children where the image says
   * (its own namespace, or a child namespace: joined through a process in it, or, when the image's
   * holds none yet, a fresh one made with unshare as the source made it), undoing the pointing the
   * clones needed.
   */
  private childrenWhereTheImageHasThem(): void {
    this.tasks.forEach((t, i) => {
      if (t.exited) return;
      const want = t.nsForChildren === t.ns ? 'own' : t.nsForChildren;
      if ((this.childrenIn.get(i) ?? 'own') === want) return;
      const through = want === 'own' ? undefined : this.firstIn.get(want);
      if (through === undefined) {
        if ((this.childrenIn.get(i) ?? 'own') !== 'own') this.call(i, `setns ${this.pidAsSeenBy(i, i)} ${CLONE_NEWPID}`, `pointing ${this.name(i)}'s children back at its own pid namespace`);
        if (want !== 'own') this.call(i, `unshare ${CLONE_NEWPID}`, `unshare(CLONE_NEWPID) for ${this.name(i)}, whose children's pid namespace holds no process yet`);
      } else this.call(i, `setns ${this.pidAsSeenBy(i, through)} ${CLONE_NEWPID}`, `pointing ${this.name(i)}'s children at the pid namespace of ${this.name(through)}`);
      this.childrenIn.set(i, want);
    });
  }

  /**
   * lastPidsWhereTheImageHasThem writes each pid namespace's ns_last_pid as the image has it, once
   * every clone is done, by a live process of that namespace (the file names the writer's own
   * namespace): clone3 with set_tid leaves the kernel's cursor where its own allocations left it,
   * so the next fork would get another pid than on the source. A namespace whose pids were all
   * named reads -1 on both sides (nothing to write, and the file takes 0..pid_max only).
   */
  private lastPidsWhereTheImageHasThem(): void {
    this.image.pidNs.forEach(([, , lastPid], k) => {
      if (lastPid < 0) return;
      const writer = this.tasks.findIndex((t) => t.ns === k && !t.exited);
      if (writer < 0) return; // no process lives there: nothing will fork in it again
      this.call(writer, `write /proc/sys/kernel/ns_last_pid ${lastPid}`, `writing ns_last_pid ${lastPid} of the pid namespace of ${this.name(writer)}`);
    });
  }
}
