/**
 * Runs every case of the pid-collision suite; a failed restore must leave the target exactly as it was.
 * Cases run on mainline hosts, except those restored into (or dumped from inside) a running
 * container: on mainline a pid namespace inside box must be made from box's user namespace, where
 * neither eclone nor clone3 can name the host's pids (kernel/pid_namespace.c create_pid_namespace,
 * v6.12), so those run on 2.6.32 hosts; a last case shows mainline's refusal.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { preflight, restoreAtomically } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import type { KernelName } from '../../src/kernel/personality.js';
import { buildOnModel, CASES, IDLE, type CollisionCase } from './cases.js';
import { insideImage, nestedImage } from './images.js';

/** kernelOf: the personality a case's hosts have (see above) */
const kernelOf = (c: CollisionCase): KernelName => (c.image === 'inside' || c.options.into !== undefined ? '2.6.32' : 'mainline');

describe('pid-collision regression suite', () => {
  const img = nestedImage();
  const old = nestedImage('2.6.32');
  const inside = insideImage('2.6.32');

  it('the inside image is what the cases assume: host pids 13..17, box-level pids 2..6, the same pids below', () => {
    expect(inside.base).toBe(2);
    expect(inside.tasks.map((t) => [t.outer.join('/'), t.numbers.join('/')])).toEqual([
      ['13/2', '1'],
      ['14/3', '2/1'],
      ['15/4', '4'],
      ['16/5', '5/3'],
      ['17/6', '6'],
    ]);
  });

  it('the image is what the cases assume: host pids 2, 3, 5, 6, 7', () => {
    expect(img.tasks.map((t) => [t.outer[0], t.numbers.join('/')])).toEqual([
      [2, '1'],
      [3, '2/1'],
      [5, '4'],
      [6, '5/3'],
      [7, '6'],
    ]);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const kernel = kernelOf(c);
      const target = Machine.create('t', 'x86_64', c.targetPidMax, kernel);
      buildOnModel(target, c.setup);
      const before = JSON.stringify(target.host.snapshot());
      let reasons: string[] | null = null;
      const source = c.image === 'inside' ? inside : kernel === 'mainline' ? img : old;
      try {
        const { machine, container } = restoreAtomically(target, source, c.options);
        const above = container.init.pid.level;
        expect(machine.tasksOf(container).map((t) => t.nspids.slice(above)).sort()).toEqual(source.tasks.map((t) => t.numbers).sort());
        // with --host-pids the levels above are the image's too
        if (c.options.hostPids) expect(machine.tasksOf(container).map((t) => t.nspids.slice(0, above)).sort()).toEqual(source.tasks.map((t) => t.outer).sort());
        if (c.options.into) expect(container.init.parent).toBe(machine.containers.get(c.options.into)!.init);
      } catch (e) {
        if (!(e instanceof RestoreError)) throw e;
        reasons = e.reasons;
      }
      expect(reasons).toEqual(c.reasons);
      expect(preflight(target, source, c.options).map((p) => p.message)).toEqual(c.reasons ?? []);
      expect(JSON.stringify(target.host.snapshot())).toBe(before);
    });
  }

  it('on mainline, restoring into a running container is refused up front with eclone and with --host-pids, and goes through with clone3', () => {
    const fresh = () => {
      const m = Machine.create('t', 'x86_64');
      m.run('box', 'idle.wl', IDLE);
      return m;
    };
    const target = fresh();
    const before = JSON.stringify(target.host.snapshot());
    const mainlineRule = (opts: Parameters<typeof preflight>[2]) => preflight(target, img, opts).filter((p) => p.message.includes('on a mainline host')).map((p) => p.code);
    expect(mainlineRule({ into: 'box' })).toEqual(['CKPT_UNSUPPORTED']);
    expect(mainlineRule({ into: 'box', hostPids: true, via: 'clone3' })).toEqual(['CKPT_UNSUPPORTED']);
    expect(mainlineRule({ into: 'box', via: 'clone3' })).toEqual([]);
    expect(() => restoreAtomically(target, img, { into: 'box' })).toThrow(RestoreError);
    expect(JSON.stringify(target.host.snapshot())).toBe(before);
    const { machine, container } = restoreAtomically(fresh(), img, { into: 'box', via: 'clone3' });
    expect(machine.tasksOf(container).map((t) => t.nspids.slice(2)).sort()).toEqual(img.tasks.map((t) => t.numbers).sort());
    // an image of the other personality says why
    expect(preflight(Machine.create('u', 'x86_64'), old).map((p) => p.code)).toEqual(['CKPT_KERNEL_MISMATCH']);
  });

  it('an image pid at or above the target pid_max is refused (2.6.32: one pid_max for every namespace)', () => {
    const big = nestedImage('2.6.32', 4_194_304);
    // give one task a pid above 32767 by checkpointing a churned container
    big.tasks[1]!.numbers[0] = 40_000;
    expect(preflight(Machine.create('t', 'x86_64', undefined, '2.6.32'), big)).toEqual([{ code: 'CKPT_PID_MAX', message: "the image uses pid 40000, not below host t's pid_max 32768" }]);
  });

  it('on mainline the container\'s namespaces have pid_max of their own: a pid above the host\'s is fine, one above PID_MAX_LIMIT is not', () => {
    const big = nestedImage('mainline', 4_194_304);
    big.tasks[1]!.numbers[0] = 40_000;
    expect(preflight(Machine.create('t', 'x86_64'), big)).toEqual([]);
    big.pidNs[0]![4] = 5_000_000;
    expect(preflight(Machine.create('t', 'x86_64'), big)).toEqual([{ code: 'CKPT_PID_MAX', message: "pid namespace 0 of the image has pid_max 5000000, above host t's PID_MAX_LIMIT 4194304" }]);
    big.tasks[1]!.outer[0] = 40_000;
    expect(preflight(Machine.create('t', 'x86_64'), big, { hostPids: true }).map((p) => p.message)).toContain("the image uses pid 40000, not below host t's pid_max 32768");
  });
});
