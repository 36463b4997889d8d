/**
 * The pid-collision suite (test/collisions/cases.ts, the same table the model
 * suite reads) on the real kernel. Each case's target is built with real
 * processes, zombies, groups, sessions, threads and containers in a pid
 * namespace that plays the host (ns-host.ts); then:
 *  - the preflight over linuxFacts, read from /proc, lists exactly the
 *    problems the model suite expects (through clone3: the real kernel has no
 *    eclone), and nothing is created (a /proc scan of the host before and after);
 *  - a case with collisions is forced past the preflight (as if the holder had
 *    appeared after it): the real clone3 fails with EEXIST, and everything the
 *    restore made is killed and reaped, the host as before;
 *  - a case without problems restores for real: /proc shows the image's pids
 *    at every level (the host's too with --host-pids), then it is undone.
 * The model suite runs the cases restored into `box` on 2.6.32 hosts: a model container has a user
 * namespace of its own, and on mainline a pid namespace inside it must be made from there. Here box is
 * made by root without one, so mainline names pids at its level as 2.6.32 did; the same expectations hold.
 * Needs root (pid namespaces) and the compiled helper; skipped with the reason otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerImage } from '../../src/image/container-image.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { findProblems } from '../../src/image/restore-preflight.js';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { readProcess } from '../../src/linux/proc.js';
import { CASES, throughClone3, type CollisionCase, type SetupStep } from '../collisions/cases.js';
import { insideImage, nestedImage } from '../collisions/images.js';
import { problemsOnLinux } from '../../src/linux/linux-check.js';
import { NsHost } from './ns-host.js';

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: real collision suite skipped: ${support.reason}`);

/** withHost runs `body` on a fresh namespace host in a helper session of its own, and checks that nothing it made is left. */
async function withHost<T>(body: (host: NsHost) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-real-collide-'));
  const h = HelperSession.start(dir);
  try {
    return await body(await NsHost.start(h));
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
    for (let i = 0; i < 100 && h.leftovers().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(h.leftovers()).toEqual([]);
  }
}

/** collides: the case's problems are pid collisions only, so a restore forced past the preflight reaches a clone3 that must fail. */
const collides = (c: CollisionCase): boolean => c.reasons !== null && c.reasons.every((r) => / is held by /.test(r));

describe.skipIf(!support.ok)(`the pid-collision suite on the real kernel${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const nested = nestedImage('mainline');
  const inside = insideImage('mainline');

  for (const c of CASES) {
    it(c.name, { timeout: 60_000 }, async () => {
      const image: ContainerImage = c.image === 'inside' ? inside : nested;
      const opts = { ...c.options, via: 'clone3' as const };
      await withHost(async (host) => {
        if (c.targetPidMax !== undefined) await host.setPidMax(c.targetPidMax);
        await host.build(c.setup);
        const before = host.scan();
        const facts = await host.facts(c.options.into);
        if (c.targetPidMax !== undefined) expect(facts.pidMax).toBe(c.targetPidMax);
        const problems = findProblems(facts, image, opts);
        expect(problems.map((p) => p.message)).toEqual((c.reasons ?? []).map(throughClone3));
        expect(host.scan()).toBe(before);
        if (c.reasons !== null && !collides(c)) return; // refused for a reason no clone3 is reached for
        const planned = await host.plan(image, { ...(c.options.hostPids ? { hostPids: true } : {}), ...(c.options.into === undefined ? {} : { into: c.options.into }) });
        if (c.reasons === null) {
          const made = await host.restore(image, planned, c.options.into);
          image.tasks.forEach((t, i) => {
            const pids = made.nspids.get(i)!;
            expect(pids.slice(planned.plan.outerLevels)).toEqual(t.numbers);
            if (c.options.hostPids) expect(pids.slice(host.base, planned.plan.outerLevels)).toEqual(t.outer);
            if (t.leader === i) expect(readProcess(pids[0]!)?.nspid.slice(host.base)).toEqual(c.options.hostPids ? [...t.outer, ...t.numbers] : expect.arrayContaining(t.numbers));
          });
          await host.undo();
        } else {
          const failure = await host.restore(image, planned, c.options.into).then(
            () => null,
            (e: unknown) => e,
          );
          expect(failure).toBeInstanceOf(RestoreError);
          expect((failure as RestoreError).message).toMatch(/failed with EEXIST/);
        }
        expect(host.scan()).toBe(before);
      });
    });
  }

  it('check --host linux (problemsOnLinux) lists every collision at every level, and what the real kernel cannot do', { timeout: 60_000 }, async () => {
    const c = CASES.find((k) => k.name === 'collisions at the host level and at the container level together')!;
    await withHost(async (host) => {
      await host.build(c.setup);
      const before = host.scan();
      const machine = await host.factOptions();
      // through eclone: the collisions as the model words them, then the real kernel's refusal of eclone
      const viaEclone = problemsOnLinux(inside, { ...c.options, machine });
      expect(viaEclone.slice(0, c.reasons!.length).map((p) => p.message)).toEqual(c.reasons);
      expect(viaEclone.slice(c.reasons!.length).map((p) => p.message)).toContain('the real kernel has no eclone (it was never merged): restore with clone3 (set_tid)');
      expect(viaEclone.map((p) => p.code).filter((code) => code === 'CKPT_PID_COLLISION')).toHaveLength(3);
      const viaClone3 = problemsOnLinux(inside, { ...c.options, via: 'clone3', machine });
      expect(viaClone3.slice(0, c.reasons!.length).map((p) => p.message)).toEqual(c.reasons!.map(throughClone3));
      expect(host.scan()).toBe(before);
    });
  });

  it('into a container with a user namespace of its own (as a model container has): --host-pids is refused up front, as on a mainline model host', { timeout: 60_000 }, async () => {
    await withHost(async (host) => {
      await host.startContainer('box', true);
      const before = host.scan();
      const facts = await host.facts('box');
      const mainlineRule = (opts: { hostPids?: boolean }) =>
        findProblems(facts, inside, { into: 'box', via: 'clone3', ...opts })
          .filter((p) => p.message.includes('on a mainline host'))
          .map((p) => p.message);
      expect(mainlineRule({ hostPids: true })).toEqual(['--host-pids: on a mainline host a pid namespace inside container box must be made by a process in its user namespace, which cannot name pids in the namespaces above it: restore without --host-pids, or onto a 2.6.32 host']);
      expect(mainlineRule({})).toEqual([]);
      expect(host.scan()).toBe(before);
      // a container made without one takes the same restore
      await host.startContainer('plain', false);
      expect(findProblems(await host.facts('plain'), inside, { into: 'plain', via: 'clone3', hostPids: true })).toEqual([]);
    });
  });

  it('a race: the holder appears after a clean preflight; the real clone3 fails with EEXIST and the holder is left as it is', { timeout: 60_000 }, async () => {
    await withHost(async (host) => {
      expect(findProblems(await host.facts(), nested, { via: 'clone3', hostPids: true })).toEqual([]);
      const planned = await host.plan(nested, { hostPids: true });
      await host.build([{ do: 'fork', by: 'host', as: 'late' }, { do: 'thread', by: 'late' }]);
      const before = host.scan();
      const failure = await host.restore(nested, planned).then(
        () => null,
        (e: unknown) => e,
      );
      expect((failure as Error).message).toMatch(/clone3 of task 1 .* failed with EEXIST/);
      expect(host.scan()).toBe(before);
    });
  });

  it('a restore that fails late (the last task\'s host pid taken) kills and reaps everything it made: the host as before', { timeout: 60_000 }, async () => {
    await withHost(async (host) => {
      // six forks take host pids 2..7; the first five exit and are reaped, which leaves only 7, the image's last task's
      const forked = Array.from({ length: 6 }, (_, k) => `c${k}`);
      await host.build([
        ...forked.map((as): SetupStep => ({ do: 'fork', by: 'host', as })),
        ...forked.slice(0, 5).flatMap((c): SetupStep[] => [{ do: 'exit', who: c }, { do: 'reap', by: 'host', child: c }]),
      ]);
      const before = host.scan();
      const problems = findProblems(await host.facts(), nested, { via: 'clone3', hostPids: true });
      expect(problems.map((p) => p.message)).toEqual(['host pid 7 (task 6 of the image) is held by task 7 on host t: clone3 would fail with EEXIST']);
      const planned = await host.plan(nested, { hostPids: true });
      const failure = await host.restore(nested, planned).then(
        () => null,
        (e: unknown) => e,
      );
      expect((failure as Error).message).toMatch(/clone3 of task 6 .* failed with EEXIST/);
      // every task before it had been made, then undone
      expect(host.madeByLastRestore).toBe(nested.tasks.length - 1);
      expect(host.scan()).toBe(before);
    });
  });
});
