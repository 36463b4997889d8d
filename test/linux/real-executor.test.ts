/**
 * The real executor's translation of a plan into the helper's protocol, checked against the model
 * (ModelHelper: the protocol over a model host, where no helper runs): the tree it builds has the
 * image's pids at every level, sessions, groups, zombies and children's order, without the model's
 * reordering; what the real kernel cannot do is refused before anything is made; a failure midway
 * leaves the target as it was. This does not touch the real kernel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { planFor, restoreAtomically } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import type { CloneStep } from '../../src/image/restore-plan.js';
import type { Pid } from '../../src/kernel/pid.js';
import { executeOnLinux, parseReply, whatLinuxCannot } from '../../src/linux/real-executor.js';
import { ModelHelper } from './model-helper.js';
import { workload as generated } from '../image/generated-workloads.js';
import { DAEMON, imageOf, REAPED, workload } from './restore-images.js';

const CASES: Array<[string, string, number]> = [
  ['a session leader that exited', DAEMON, 8],
  ['a session whose leader was reaped', REAPED, 12],
  ['nested namespaces', workload('nested'), 30],
  ['pidcache', workload('pidcache'), 25],
  ['churn', workload('churn'), 40],
  ['jobs', workload('jobs'), 13],
  ['threads', workload('threads'), 20],
];

/**
 * buildsOrRefuses restores `image` through the real executor over the model: either it is refused
 * before any command, or the tree has the image's pids, sessions, groups, zombies and children's
 * order. It says which.
 */
async function buildsOrRefuses(image: ContainerImage): Promise<'built' | 'refused' | 'undone'> {
  const target = Machine.create('t', 'x86_64');
  const tasksBefore = target.host.snapshot().tasks;
  const plan = planFor(target, image, { via: 'clone3' });
  const port = new ModelHelper(target.host);
  if (whatLinuxCannot(plan, image).length > 0) {
    await expect(executeOnLinux(port, image, plan, { memory: false })).rejects.toThrow(RestoreError);
    expect(port.lines).toEqual([]);
    return 'refused';
  }
  let made;
  try {
    made = await executeOnLinux(port, image, plan, { memory: false });
  } catch (e) {
    // a layout found wrong once built (as the model's restore finds it): refused, and everything made is gone
    if (!(e instanceof RestoreError) || e.code !== 'CKPT_UNSUPPORTED') throw e;
    expect(port.lines.at(-1)).toMatch(/^reset /);
    expect(target.host.snapshot().tasks).toEqual(tasksBefore);
    // the model's own restore refuses the same layout
    expect(() => restoreAtomically(Machine.create('t', 'x86_64'), image, { via: 'clone3' })).toThrow(/not supported yet/);
    return 'undone';
  }
  const task = (i: number) => port.agents.get(i)!;
  const index = new Map(image.tasks.map((_, i) => [task(i), i]));
  const containerNs = task(image.init).pid.ns;
  const inside = (p: Pid): number[] | null => (p.nrIn(containerNs) !== 0 ? p.numbers.slice(plan.outerLevels) : null);
  image.tasks.forEach((t, i) => {
    expect(made.nspids.get(i)!.slice(plan.outerLevels)).toEqual(t.numbers);
    expect(task(i).nspids.slice(plan.outerLevels)).toEqual(t.numbers);
    expect(task(i).exited).toBe(t.exited);
    if (t.exited && t.leader === i) expect(task(i).group.groupExitStatus ?? task(i).exitStatus).toBe(t.group.groupExitStatus ?? t.exitStatus);
    // the children's order comes out as the image has it, with no reordering
    expect([...task(i).children()].map((c) => index.get(c))).toEqual(t.children);
    if (t.leader !== i) return;
    expect(inside(task(i).group.session)).toEqual(t.sid);
    expect(inside(task(i).group.pgrp)).toEqual(t.pgid);
  });
  return 'built';
}

describe('the real executor over the model', () => {
  for (const [title, text, steps] of CASES) {
    it(`${title}: builds the image's tree, or refuses up front with the reason`, async () => {
      expect(await buildsOrRefuses(imageOf(text, steps))).toBe('built');
    });
  }

  it('generated workloads: each is built as the image has it, or refused before anything is made', { timeout: 120_000 }, async () => {
    const counts = { built: 0, refused: 0, undone: 0, unplannable: 0 };
    await fc.assert(
      fc.asyncProperty(generated, fc.nat(80), async (text, n) => {
        const image = imageOf(text, n);
        try {
          planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
        } catch (e) {
          if (!(e instanceof RestoreError)) throw e;
          counts.unplannable++; // a layout the planner itself refuses (the model's restore says so too)
          return;
        }
        counts[await buildsOrRefuses(image)]++;
      }),
      { numRuns: 200, seed: 2026 },
    );
    console.log(`real executor over the model, 200 generated workloads: ${JSON.stringify(counts)}`);
    expect(counts.built).toBeGreaterThan(counts.refused + counts.undone);
  });

  it('carries out at least the simple cases (the check is not refusing everything)', () => {
    const carried = CASES.filter(([, text, steps]) => {
      const image = imageOf(text, steps);
      return whatLinuxCannot(planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' }), image).length === 0;
    });
    expect(carried.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses an eclone plan: the real kernel has no eclone', () => {
    const image = imageOf(DAEMON, 8);
    const problems = whatLinuxCannot(planFor(Machine.create('t', 'x86_64'), image, { via: 'eclone' }), image);
    expect(problems.map((p) => p.message)).toContain('the real kernel has no eclone (it was never merged): restore with clone3 (set_tid)');
  });

  it('undoes everything when a call fails midway: the target is as it was', async () => {
    const image = imageOf(workload('nested'), 30);
    const target = Machine.create('t', 'x86_64');
    // every process and pid as it was; only the host's last_pid has moved on, as on a real kernel
    const state = () => {
      const snap = target.host.snapshot();
      return { ...snap, pidNamespaces: snap.pidNamespaces.map(({ lastPid: _, ...ns }) => ns) };
    };
    const before = state();
    const plan = planFor(target, image, { via: 'clone3' });
    // the last task asks for its namespace's pid 1, which its init holds
    const last = plan.create.filter((s): s is CloneStep => s.do === 'clone').at(-1)!;
    last.pids = [1, ...last.pids.slice(1)];
    const port = new ModelHelper(target.host);
    await expect(executeOnLinux(port, image, plan, { memory: false })).rejects.toThrow(/failed with EEXIST/);
    expect(port.lines.at(-1)).toMatch(/^reset /);
    expect(state()).toEqual(before);
  });
});

describe('parseReply', () => {
  it('reads results, deaths and errors', () => {
    expect(parseReply('r 42 - child=3 nspid=900,2')).toEqual({ kind: 'r', ret: 42, errno: null, fields: new Map([['child', '3'], ['nspid', '900,2']]) });
    expect(parseReply('r -1 EEXIST')).toMatchObject({ kind: 'r', ret: -1, errno: 'EEXIST' });
    expect(parseReply('dead')).toEqual({ kind: 'dead' });
    expect(parseReply('err no agent')).toEqual({ kind: 'err', message: 'no agent' });
    expect(parseReply('what')).toEqual({ kind: 'err', message: 'unexpected reply "what"' });
  });
});
