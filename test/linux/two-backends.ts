/**
 * One workload on both backends (issue 20 point 8), through the functions
 * the command line uses: a model x86_64 mainline host (Machine, as `run`,
 * `step`, `dump`, `restore` do on a model host) and the machine itself
 * (`--host linux`: withTwin, startReal, Twin.run, realPs, dumpRealContainer,
 * restoreReal, realRemove). Checked, at every checkpoint, against a model
 * host that runs the workload straight through:
 *  - straight: the workload started on the machine, stepped, ps (from /proc)
 *    and console compared at each checkpoint;
 *  - model → machine: dumped from the model host at the first checkpoint,
 *    restored as real processes, stepped on there, compared at each later one;
 *  - machine → model: dumped from the real processes at the third
 *    checkpoint, restored on a fresh model host, run to the last one.
 * Every disagreement names the workload, the step, and both sides.
 */
import type { Container } from '../../src/container/container.js';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import type { Task } from '../../src/kernel/task.js';
import { psRows, type PsRow } from '../../src/cli/ps-view.js';
import { dumpRealContainer, realPs, realRemove, restoreReal, startReal } from '../../src/cli/linux-host.js';
import type { Twin } from '../../src/linux/twin.js';
import type { HostStore } from '../../src/store/host-store.js';
import { throughBytes } from '../image/container-tree.js';

export interface TwoBackendCase {
  /** how a disagreement names it */
  label: string;
  path: string;
  text: string;
  /** steps between checkpoints: the first, then each next one after the one before */
  steps: readonly [number, number, number, number];
}

export interface CaseOutcome {
  /** every disagreement, each naming the case, the step and both sides */
  disagreements: string[];
  /** what was refused up front on both sides alike (a layout no restorer builds yet, a container whose init has ended) */
  refused: string[];
  /** the legs that ran to the end */
  legs: number;
}

/**
 * what must be the same on both backends: the ps columns as the container's own namespaces see
 * them, each process followed by its threads, in the container's pid order (ps lists them in the
 * host's pid order, and the machine numbers its level as it likes)
 */
function inside(rows: readonly PsRow[]) {
  const seen = rows.map((r) => ({ nspids: r.nspids.slice(1), threads: r.threads, thread: r.thread, state: r.state, abi: r.abi, command: r.command, wait: r.wait, comm: r.comm }));
  const blocks: Array<typeof seen> = [];
  for (const r of seen) {
    if (r.thread && blocks.length > 0 && !blocks[blocks.length - 1]![0]!.thread) blocks[blocks.length - 1]!.push(r);
    else blocks.push([r]);
  }
  const key = (r: (typeof seen)[number]): string => r.nspids.map((n) => String(n).padStart(8, '0')).join('/');
  const byPid = (a: (typeof seen)[number], b: (typeof seen)[number]): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return blocks
    .map(([head, ...threads]) => [head!, ...threads.sort(byPid)])
    .sort((a, b) => byPid(a[0]!, b[0]!))
    .flat();
}

/** maskZombieLeaders hides the thread count of each process whose leader is a zombie, and of its threads' rows */
function maskZombieLeaders(rows: ReturnType<typeof inside>): ReturnType<typeof inside> {
  let masking = false;
  return rows.map((r) => {
    if (!r.thread) masking = r.state === 'zombie';
    return masking ? { ...r, threads: -1 } : r;
  });
}

interface View {
  ps: ReturnType<typeof inside>;
  console: string;
}

const modelView = (m: Machine, c: Container): View => ({ ps: inside(psRows(c.name, m.tasksOf(c))), console: c.console.text });

function inContainer(c: Container): (t: Task) => boolean {
  const ns = c.init.pid.ns;
  return (t) => ns.isAncestorOf(t.pid.ns);
}

const show = (v: unknown): string => JSON.stringify(v);
const nap = new Int32Array(new SharedArrayBuffer(4));

/** the image of a container at a checkpoint, through its bytes, or why the model host refuses to dump it */
type Dumped = { image: ContainerImage } | { refused: string };

/** Reference: the workload on a model host straight through, at every checkpoint its view, whether its init lives, and its image. */
function reference(k: TwoBackendCase): { views: View[]; alive: boolean[]; images: Dumped[] } {
  const m = Machine.create('ref', 'x86_64');
  const c = m.run('w', k.path, k.text);
  const views: View[] = [];
  const alive: boolean[] = [];
  const images: Dumped[] = [];
  for (const n of k.steps) {
    m.scheduler.run(n, inContainer(c));
    views.push(modelView(m, c));
    alive.push(!c.init.exited);
    try {
      images.push({ image: throughBytes(dumpContainer(m, c)) });
    } catch (e) {
      images.push({ refused: (e as Error).message });
    }
  }
  return { views, alive, images };
}

/** restoreOnModel restores an image on a fresh model host, or says why a model host refuses it (a layout no restorer builds yet) */
function restoreOnModel(image: ContainerImage): { machine: Machine; container: Container } | string {
  try {
    return restoreAtomically(Machine.create('back', 'x86_64'), image);
  } catch (e) {
    if (e instanceof RestoreError || (e as { code?: string }).code === 'CKPT_UNSUPPORTED') return (e as Error).message;
    throw e;
  }
}

/**
 * runCase runs one case on the mirror `m` of a helper session (`twin`), one container at a time
 * (the containers of a host share its logical clock), and removes every real process it made.
 */
export async function runCase(store: HostStore, twin: Twin, m: Machine, k: TwoBackendCase, index: number): Promise<CaseOutcome> {
  const out: CaseOutcome = { disagreements: [], refused: [], legs: 0 };
  const ref = reference(k);
  const at = (i: number): number => k.steps.slice(0, i + 1).reduce((a, b) => a + b, 0);
  const differ = (leg: string, i: number, real: View, model: View, extra: string[] = []): boolean => {
    const why: string[] = [...extra];
    if (show(real.ps) !== show(model.ps)) {
      const only = show(maskZombieLeaders(real.ps)) === show(maskZombieLeaders(model.ps)) ? ' (only the thread counts of a process whose leader is a zombie differ)' : '';
      why.push(`ps --json (container levels)${only}\n    --host linux: ${show(real.ps)}\n    model host:   ${show(model.ps)}`);
    }
    if (real.console !== model.console) why.push(`console\n    --host linux: ${show(real.console)}\n    model host:   ${show(model.console)}`);
    if (why.length === 0) return false;
    out.disagreements.push(`${k.label}, ${leg}, after step ${at(i)}:\n  ${why.join('\n  ')}\n  workload:\n${k.text.replace(/^/gm, '    ')}`);
    return true;
  };
  const realView = (c: Container): { view: View; disagree: string[] } => {
    twin.agents.save(); // realPs reads the agent table as a later command would
    // a later command, as ps is, finds an exit finished: an init's exit goes on in the kernel (it waits until its namespace is empty) after the helper has seen it begin
    for (const end = Date.now() + 1000; ; ) {
      const { rows, disagree } = realPs(store, m, [c]);
      if (disagree.length === 0 || Date.now() > end) return { view: { ps: inside(rows), console: c.console.text }, disagree: disagree.map((d) => `the kernel and ckpt disagree: ${d}`) };
      Atomics.wait(nap, 0, 0, 10);
    }
  };
  const leg = async (name: string, body: () => Promise<void>): Promise<void> => {
    try {
      await body();
      out.legs++;
    } catch (e) {
      out.disagreements.push(`${k.label}, ${name}: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}\n  workload:\n${k.text.replace(/^/gm, '    ')}`);
    } finally {
      for (const c of [...m.containers.values()]) realRemove(store.root, m, c, twin.agents);
    }
  };

  // straight on the machine up to the last checkpoint (of the first three) where its init lives; dumped there, restored on a model host, run to the end
  const dumpAt = ref.alive.slice(0, 3).lastIndexOf(true);
  await leg('on --host linux', async () => {
    const c = startReal(twin, `s${index}`, k.path, k.text);
    twin.syncMemory(m.tasksOf(c)); // as `ckpt run` ends: the init's memory made real
    for (let i = 0; i <= Math.max(dumpAt, 2); i++) {
      twin.run(k.steps[i]!, inContainer(c));
      twin.syncMemory(m.tasksOf(c)); // as `ckpt step` ends
      const r = realView(c);
      if (differ('on --host linux', i, r.view, ref.views[i]!, r.disagree)) return;
      if (i === dumpAt) break;
    }
    if (dumpAt < 0) {
      out.refused.push(`${k.label}: its init has ended by step ${at(0)}: nothing to dump from the machine`);
      return;
    }
    const { image } = await dumpRealContainer(twin, m, c, false);
    realRemove(store.root, m, c, twin.agents);
    const back = restoreOnModel(throughBytes(image));
    if (typeof back === 'string') {
      const alike = ref.images[dumpAt]!;
      if (!('image' in alike) || typeof restoreOnModel(alike.image) !== 'string') throw new Error(`the image dumped from the machine at step ${at(dumpAt)} is refused by a model host, the model host's own is not: ${back}`);
      out.refused.push(`${k.label}: dumped at step ${at(dumpAt)}, refused alike by a model host: ${back}`);
      return;
    }
    for (let i = dumpAt + 1; i < 4; i++) {
      back.machine.scheduler.run(k.steps[i]!, inContainer(back.container));
      if (differ('dumped from --host linux, restored on a model host', i, modelView(back.machine, back.container), ref.views[i]!)) return;
    }
  });

  // model → machine at the first checkpoint, stepped on there
  await leg('dumped from a model host, restored on --host linux', async () => {
    const first = ref.images[0]!;
    if (!('image' in first)) {
      out.refused.push(`${k.label}: the model host refuses to dump it at step ${at(0)}: ${first.refused}`);
      return;
    }
    let c: Container;
    try {
      c = await restoreReal(twin, m, first.image, { name: `r${index}` });
    } catch (e) {
      // refused up front only for what no restorer builds yet, and so on a model host too
      if (!(e instanceof RestoreError)) throw e;
      const model = restoreOnModel(first.image);
      if (typeof model !== 'string') throw new Error(`refused on --host linux, restored on a model host: ${e.message}`);
      out.refused.push(`${k.label}: restore refused on both: ${e.message}`);
      return;
    }
    twin.syncMemory(m.tasksOf(c)); // as `ckpt restore` ends
    const view = realView(c);
    if (differ('restored on --host linux', 0, view.view, ref.views[0]!, view.disagree)) return;
    for (let i = 1; i < 4; i++) {
      twin.run(k.steps[i]!, inContainer(c));
      twin.syncMemory(m.tasksOf(c));
      const r = realView(c);
      if (differ('restored on --host linux', i, r.view, ref.views[i]!, r.disagree)) return;
    }
  });
  return out;
}
