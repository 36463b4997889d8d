/**
 * Issue 19 point 4, as a property: a host stored in parts and worked on by
 * commands that each load only some of its containers ends exactly where
 * the same commands leave a host that was never stored. Random workloads
 * over several containers, on four architectures; each command loads what it touches and a random
 * subset of the others; then a full load is compared with the host kept in
 * memory throughout: the snapshot (tasks, pids at every level, memory
 * contents, address spaces and file tables), the turns still due in the
 * scheduler's round, the consoles, which pages are one frame, and every
 * frame's reference count.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { SIGCONT, SIGKILL, SIGSTOP } from '../../src/abi/signals.js';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { libcOf } from '../../src/program/libc.js';
import { HostStore, type Scope } from '../../src/store/host-store.js';
import { frameClasses, frameRefsAgree } from './frames.js';

const WORKLOADS = ['nested.wl', 'pidcache.wl', 'jobs.wl', 'churn.wl', 'threads.wl'].map((f) => [f, readFileSync(`images/workloads/${f}`, 'utf8')] as const);

/** architectures of the hosts: little- and big-endian, 4 KiB and 64 KiB pages, 32 and 64 bits */
const ARCHES = ['x86_64', 's390x', 'ppc64', 'i386'] as const;

/** images restored by the commands below, per architecture: each workload's container, some way in */
const images = new Map<string, ContainerImage[]>();
function imagesFor(arch: string): ContainerImage[] {
  let list = images.get(arch);
  if (!list) {
    list = WORKLOADS.map(([path, text]) => {
      const m = Machine.create('source', arch);
      m.run('w', path, text);
      m.scheduler.run(25);
      return dumpContainer(m, m.containers.get('w')!);
    });
    images.set(arch, list);
  }
  return list;
}

type Command =
  | { kind: 'step'; which: number; steps: number }
  | { kind: 'stepAll'; steps: number }
  | { kind: 'run'; workload: number }
  | { kind: 'restore'; image: number }
  | { kind: 'restoreInto'; image: number; which: number }
  | { kind: 'signal'; which: number; sig: number }
  | { kind: 'rm'; which: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('step' as const), which: fc.nat(), steps: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stepAll' as const), steps: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('run' as const), workload: fc.nat(WORKLOADS.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restore' as const), image: fc.nat(WORKLOADS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restoreInto' as const), image: fc.nat(WORKLOADS.length - 1), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('signal' as const), which: fc.nat(), sig: fc.constantFrom(SIGSTOP, SIGCONT, SIGKILL) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rm' as const), which: fc.nat() }) },
);

const inContainer = (m: Machine, name: string) => {
  const ns = m.containers.get(name)!.init.pid.ns;
  return (t: { pid: { ns: typeof ns } }) => ns.isAncestorOf(t.pid.ns);
};

/**
 * apply carries a command out on `m` as the CLI does (step: that container's
 * tasks; restore onto the host; a signal from the host's init; rm) and
 * returns the machine that holds the result. `names` is the host's
 * containers, for picking one.
 */
function apply(m: Machine, c: Command, names: readonly string[], fresh: string): Machine {
  const pick = (i: number): string => names[i % names.length]!;
  switch (c.kind) {
    case 'step':
      m.scheduler.run(c.steps, inContainer(m, pick(c.which)));
      return m;
    case 'stepAll':
      m.scheduler.run(c.steps);
      return m;
    case 'run': {
      const [path, text] = WORKLOADS[c.workload]!;
      m.run(fresh, path, text);
      return m;
    }
    case 'restore':
      return restoreAtomically(m, imagesFor(m.host.arch.name)[c.image]!, { name: fresh }).machine;
    case 'restoreInto':
      // a helper the host's init makes in the container makes the restored init there (clone3: on mainline a nested namespace comes from the container's user namespace)
      return restoreAtomically(m, imagesFor(m.host.arch.name)[c.image]!, { name: fresh, into: pick(c.which), via: 'clone3' }).machine;
    case 'signal': {
      const init = m.containers.get(pick(c.which))!.init;
      if (init.state !== 'zombie') libcOf(m.host, m.host.init).kill(init.pid.nr, c.sig);
      return m;
    }
    case 'rm':
      m.remove(m.containers.get(pick(c.which))!);
      return m;
  }
}

/** scopeOf: what a command loads, as the CLI's: the container it names (a fresh one is made, not loaded), every one for a step of the whole host; and those of the others `extra` picks */
function scopeOf(c: Command, names: readonly string[], extra: readonly boolean[]): Scope {
  if (c.kind === 'stepAll') return 'all';
  const named = c.kind === 'run' || c.kind === 'restore' || names.length === 0 ? [] : [names[c.which % names.length]!];
  return [...new Set([...named, ...names.filter((_, i) => extra[i % extra.length])])];
}

describe('a host worked on by commands that load some of its containers', () => {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-partial-loads-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let runs = 0;

  it('ends as the same commands leave a host never stored: snapshot, consoles, shared frames and their counts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ARCHES),
        fc.array(fc.nat(WORKLOADS.length - 1), { minLength: 2, maxLength: 4 }),
        fc.array(fc.record({ command, others: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }) }), { minLength: 1, maxLength: 8 }),
        (arch, first, commands) => {
          const name = `h${runs++}`;
          const store = new HostStore(root);
          const start = (): Machine => {
            // a restore first: the host init's stack is written, and the containers started after share it
            const m = restoreAtomically(Machine.create(name, arch), imagesFor(arch)[0]!, { name: 'c0' }).machine;
            first.forEach((w, i) => m.run(`c${i + 1}`, WORKLOADS[w]![0], WORKLOADS[w]![1]));
            m.scheduler.run(10);
            return m;
          };
          let whole = start();
          store.add(start());
          const names = ['c0', ...first.map((_, i) => `c${i + 1}`)];
          for (const { command: c, others } of commands) {
            const live = names.filter((n) => whole.containers.has(n));
            if (live.length === 0 && c.kind !== 'run' && c.kind !== 'restore' && c.kind !== 'stepAll') continue;
            // restoring into a container whose init has exited is refused before anything changes
            if (c.kind === 'restoreInto' && whole.containers.get(live[c.which % live.length]!)!.init.state === 'zombie') continue;
            const fresh = `c${names.length}`;
            const scope = scopeOf(c, live, others);
            whole = apply(whole, c, live, fresh);
            store.replace(name, (m) => ({ machine: apply(m, c, live, fresh), out: undefined }), undefined, scope);
            if (c.kind === 'run' || c.kind === 'restore' || c.kind === 'restoreInto') names.push(fresh);
          }
          const back = store.read(name);
          expect(back.host.snapshot()).toEqual(whole.host.snapshot());
          // and the round goes on alike: the same turns still due
          expect(back.scheduler.pending().map((t) => t.pid.nr)).toEqual(whole.scheduler.pending().map((t) => t.pid.nr));
          for (const [n, c] of whole.containers) expect(back.containers.get(n)?.console.text, n).toBe(c.console.text);
          expect(frameClasses(back)).toEqual(frameClasses(whole));
          expect(frameRefsAgree(back)).toEqual([]);
        },
      ),
      { numRuns: 30, seed: 19_04_2026 },
    );
  }, 300_000);
});
