/**
 * A fork of a process with no open files leaves the child a ForkedGroup (the
 * process group and session it joined, counted as users at the fork) until
 * its thread group is first looked at. These tests hold that to groups made
 * at once: twin hosts run the same calls, one looking at every new child's
 * group straight away, and must answer every call alike and end in the same
 * state; process group and session ids stay allocated while children that
 * were never looked at are members.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Host, SIGKILL, type Task } from '../../src/index.js';
import { ForkedGroup, ThreadGroup } from '../../src/kernel/thread-group.js';
import { ALL_ARCHES } from '../helpers.js';
import { libcOf } from '../../src/program/libc.js';

/** groupStateOf reads a task's private group slot: a ForkedGroup until first use. */
function groupStateOf(t: Task): unknown {
  return (t as unknown as { groupState: unknown }).groupState;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('fork' as const), who: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('setpgid-own' as const), who: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('setpgid-parent' as const), who: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('setsid' as const), who: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('exit' as const), who: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('kill-group' as const), who: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('reap' as const), who: fc.nat({ max: 3 }) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Twin keeps one host and its live tasks in creation order; `eager` looks at every new child's group at once. */
class Twin {
  readonly host: Host;
  readonly tasks: Task[];

  constructor(
    arch: string,
    private readonly eager: boolean,
  ) {
    this.host = Host.create({ arch });
    this.tasks = [this.host.init];
  }

  /** apply runs one call and returns what it answered, as ret and errno. */
  apply(o: Op): string {
    const live = this.tasks.filter((t) => !t.exited);
    const t = live[o.who % live.length]!;
    const l = libcOf(this.host, t);
    const nr = (x: Task): number => x.pid.nrIn(t.activeNs);
    let r;
    switch (o.kind) {
      case 'fork': {
        const [pgid, sid] = [t.pgid, t.sid];
        r = l.fork();
        if (r.child) {
          this.tasks.push(r.child);
          if (this.eager) {
            // fork(2): the child is in its parent's process group and session
            expect(r.child.group).toBeInstanceOf(ThreadGroup);
            expect([r.child.pgid, r.child.sid]).toEqual([pgid, sid]);
          }
        }
        break;
      }
      case 'setpgid-own':
        r = l.setpgid(0, 0);
        break;
      case 'setpgid-parent':
        r = t.parent ? l.setpgid(0, t.parent.pid.nrIn(t.activeNs) === 0 ? 0 : libcOf(this.host, t.parent).getpgid(0).ret) : l.setpgid(0, 0);
        break;
      case 'setsid':
        r = l.setsid();
        break;
      case 'exit':
        if (t === this.host.init) return 'init stays';
        r = l.exit(0);
        break;
      case 'kill-group': {
        const pgid = libcOf(this.host, this.host.init).getpgid(nr(t)).ret;
        // kill(-1) would be every process: only groups other than init's
        if (pgid === 1) return "init's group";
        r = libcOf(this.host, this.host.init).kill(-pgid, SIGKILL);
        break;
      }
      case 'reap':
        r = l.wait4(-1, 0, 1 /* WNOHANG */, 0);
        break;
    }
    return `${r.ret} ${r.errno ?? ''}`;
  }
}

describe('the group a fork leaves', () => {
  it('twin hosts, one making every group at once, answer alike and end alike', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_ARCHES), fc.array(op, { minLength: 10, maxLength: 50, size: 'max' }), (arch, ops) => {
        const lazy = new Twin(arch, false);
        const eager = new Twin(arch, true);
        for (const o of ops) expect(lazy.apply(o), JSON.stringify(o)).toBe(eager.apply(o));
        expect(lazy.host.snapshot()).toEqual(eager.host.snapshot());
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it("a restorer's children share one ForkedGroup until the restorer changes group, and each is made its own on first look", () => {
    const h = Host.create({ arch: 'ppc64' });
    const l = libcOf(h, h.init);
    const kids = Array.from({ length: 3 }, () => l.fork().child!);
    const first = groupStateOf(kids[0]!);
    expect(first).toBeInstanceOf(ForkedGroup);
    for (const k of kids) expect(groupStateOf(k)).toBe(first);
    const helper = kids[2]!;
    expect(libcOf(h, helper).setpgid(0, 0).ret).toBe(0); // looks at its group: made, led by it
    expect(groupStateOf(helper)).toBeInstanceOf(ThreadGroup);
    expect(helper.group.leader).toBe(helper);
    expect(helper.group.threadList()).toEqual([helper]);
    expect(groupStateOf(kids[0]!)).toBe(first);
    const late = libcOf(h, helper).fork().child!;
    expect(groupStateOf(late)).not.toBe(first);
    expect(late.pgid).toBe(helper.pid.nr);
    expect(kids[0]!.pgid).toBe(h.init.pid.nr);
    expect(kids[0]!.group).not.toBe(kids[1]!.group);
    // The restorer itself moving to a group of its own: its next child joins that one.
    expect(l.setsid().ret).toBe(-1); // init leads its session already
    const mover = kids[1]!;
    const before = libcOf(h, mover).fork().child!;
    expect(libcOf(h, mover).setpgid(0, 0).ret).toBe(0);
    const after = libcOf(h, mover).fork().child!;
    expect(groupStateOf(after)).not.toBe(groupStateOf(before));
    expect([before.pgid, after.pgid]).toEqual([h.init.pid.nr, mover.pid.nr]);
  });

  it('a process group id stays allocated while a member that was never looked at remains, and is freed after it', () => {
    const h = Host.create({ arch: 'i386' });
    const leader = libcOf(h, h.init).fork().child!;
    expect(libcOf(h, leader).setpgid(0, 0).ret).toBe(0);
    const member = libcOf(h, leader).fork().child!;
    expect(groupStateOf(member)).toBeInstanceOf(ForkedGroup);
    const pgid = leader.pid.nr;
    libcOf(h, leader).exit(0);
    expect(libcOf(h, h.init).wait4(pgid, 0, 0, 0).ret).toBe(pgid);
    // The leader is gone; the untouched member still holds the group's id.
    expect(h.init.pid.ns.pids.get(pgid)).toBeDefined();
    expect(groupStateOf(member)).toBeInstanceOf(ForkedGroup);
    expect(libcOf(h, h.init).kill(-pgid, SIGKILL).ret).toBe(0);
    expect(libcOf(h, h.init).wait4(member.pid.nr, 0, 0, 0).ret).toBe(member.pid.nr);
    expect(h.init.pid.ns.pids.get(pgid)).toBeUndefined();
  });
});
