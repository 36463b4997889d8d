/**
 * Transparency as a property (fast-check): for generated workloads, every
 * ABI and random checkpoint points, run N; dump; restore; run M prints
 * exactly what run N+M prints, and the container's task tree is the same.
 * The workloads include job control (stopped jobs, groups of their own), so
 * that groups orphaned after the checkpoint are among them.
 * Layouts the restorer refuses (a session whose leader has gone, kept by
 * members: a placeholder task, not built yet) must be refused up front and
 * leave the target unchanged; most generated cases restore.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { containerTree, throughBytes } from './container-tree.js';
import { ALL_ARCHES } from '../helpers.js';
import { workload } from './generated-workloads.js';

const tree = (m: Machine) => containerTree(m, 'c');

describe('transparency over generated workloads', () => {
  it('run N; dump; restore; run M == run N+M', () => {
    let restored = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...ALL_ARCHES), workload, fc.nat(80), fc.integer({ min: 1, max: 80 }), fc.constantFrom('eclone' as const, 'clone3' as const), (arch, text, n, m, via) => {
        const straight = Machine.create('s', arch);
        straight.run('c', 'w.wl', text);
        straight.scheduler.run(n + m);
        const source = Machine.create('s', arch);
        source.run('c', 'w.wl', text);
        source.scheduler.run(n);
        // through the bytes of an image, so that every check a reader makes is part of the property
        const image = throughBytes(dumpContainer(source, source.containers.get('c')!));
        const target = Machine.create('t', arch);
        const before = JSON.stringify(target.host.snapshot());
        let machine: Machine;
        try {
          machine = restoreAtomically(target, image, { via }).machine;
        } catch (e) {
          if (!(e instanceof RestoreError) || !e.reasons.every((r) => r.includes('not supported yet'))) throw e;
          expect(JSON.stringify(target.host.snapshot())).toBe(before);
          refused++;
          return;
        }
        restored++;
        expect(tree(machine)).toEqual(tree(source));
        machine.scheduler.run(m);
        expect(machine.containers.get('c')!.console.text).toBe(straight.containers.get('c')!.console.text);
        expect(tree(machine)).toEqual(tree(straight));
      }),
      { numRuns: 150, seed: 2009 },
    );
    expect(restored).toBeGreaterThan(refused * 3);
  }, 120_000);
});
