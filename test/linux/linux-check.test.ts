/**
 * problemsOnLinux, what `check --host linux` lists, on this machine's own /proc (read only): a
 * collision with the test runner's own pid at the host level, named with its holder, together with
 * what the real kernel cannot do with the plan; and nothing for an image that fits.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { dumpContainer } from '../../src/image/dump.js';
import { problemsOnLinux } from '../../src/linux/linux-check.js';
import { machineArch } from '../../src/linux/linux-facts.js';

describe.skipIf(machineArch() !== 'x86_64')('problemsOnLinux on this machine', () => {
  const source = Machine.create('s', 'x86_64');
  const c = source.run('box', 'box.wl', 'program main\n  sleep 1000000\nend\n');
  source.scheduler.run(2);
  const image = dumpContainer(source, c);

  it('an image that fits: no problem through clone3, and the real kernel\'s refusal of eclone otherwise', () => {
    expect(problemsOnLinux(image, { via: 'clone3' })).toEqual([]);
    expect(problemsOnLinux(image).map((p) => [p.code, p.message])).toEqual([['CKPT_UNSUPPORTED', 'the real kernel has no eclone (it was never merged): restore with clone3 (set_tid)']]);
  });

  it('every reason at once: a host pid held by the test runner, a container name taken, and what the real kernel cannot do', () => {
    // a compat task (an i386 one in an x86_64 image), which the machine's helper cannot make
    const asking = { ...image, tasks: image.tasks.map((t) => ({ ...t, outer: [process.pid], abi: 'i386' as const })) };
    const problems = problemsOnLinux(asking, { via: 'clone3', hostPids: true, machine: { containers: new Map([['box', 1]]) } });
    expect(problems.map((p) => p.code)).toEqual(['CKPT_NAME_TAKEN', 'CKPT_PID_COLLISION', 'CKPT_UNSUPPORTED']);
    expect(problems[1]!.message).toBe(`host pid ${process.pid} (task 1 of the image) is held by task ${process.pid} on host linux: clone3 would fail with EEXIST`);
    expect(problems[2]!.message).toBe("task 1 runs the i386 ABI: this machine's processes are x86_64");
  });

  it('--into a container the machine does not have is named, and no plan is made for it', () => {
    expect(problemsOnLinux(image, { via: 'clone3', into: 'nowhere' }).map((p) => p.message)).toEqual(['--into nowhere: no container of that name on host linux']);
  });
});
