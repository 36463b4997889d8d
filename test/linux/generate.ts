/**
 * Random differential scenarios (fast-check). Arguments are drawn from small
 * sets so that they hit the tasks a scenario makes: pids 1..7 in the
 * caller's namespace, set_tid arrays of one to three levels whose values
 * collide with taken pids often. wait4 always has WNOHANG: a blocking wait on
 * the machine would hang the run rather than compare anything.
 */
import fc from 'fast-check';
import type { HelperSession } from '../../src/linux/helper.js';
import { compare, type Comparison } from './compare.js';
import type { Op, Scenario, Step } from './scenario.js';

const NEWPID = 0x20000000;
const NEWUSER = 0x10000000;
const PARENT = 0x00008000;
const THREAD = 0x00010000 | 0x00000800 | 0x00000100;
const WNOHANG = 1;
const __WCLONE = 0x80000000 | 0;
const __WALL = 0x40000000;
const SIGKILL = 9;

const pid = fc.integer({ min: 1, max: 7 });
const code = fc.integer({ min: 0, max: 3 });
const setTid = fc.array(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 10, 300, 4194304) }), { minLength: 0, maxLength: 3 });

/** Generator switches, for exploring past a known disagreement: without user namespaces no op makes or enters one; without pid_max no op reads or writes it. */
export interface GenOptions {
  userns: boolean;
  pidMax: boolean;
}

const withoutUserns = (op: Op): boolean => !(('flags' in op && op.flags & NEWUSER) || (op.op === 'setns' && op.nstype & NEWUSER));
const withoutPidMax = (op: Op): boolean => !((op.op === 'read_sysctl' || op.op === 'write_sysctl') && op.name === 'pid_max');

const anyOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('clone3' as const),
      flags: fc.constantFrom(0, 0, 0, NEWPID, NEWPID, PARENT, THREAD, THREAD, NEWPID | PARENT, NEWUSER, NEWUSER | NEWPID),
      setTid: fc.oneof({ weight: 2, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: setTid }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('exit' as const), code }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('exit_group' as const), code }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('wait4' as const),
      pid: fc.oneof(fc.constant(-1), fc.constant(-1), fc.constant(0), pid, pid.map((p) => -p)),
      options: fc.constantFrom(WNOHANG, WNOHANG, WNOHANG | __WALL, WNOHANG | __WCLONE),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'setsid' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setpgid' as const), pid: fc.oneof(fc.constant(0), pid), pgid: fc.oneof(fc.constant(0), pid) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('setuid' as const), uid: fc.constant(1000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unshare' as const), flags: fc.constantFrom(NEWPID, NEWUSER, NEWUSER | NEWPID) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('setns' as const), pid, nstype: fc.constantFrom(NEWPID, NEWPID, NEWUSER, NEWUSER | NEWPID) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pidfd_open' as const), pid }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), pid, sig: fc.constant(SIGKILL) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'ids' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('read_sysctl' as const), name: fc.constant('ns_last_pid' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('write_sysctl' as const), name: fc.constant('ns_last_pid' as const), value: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('read_sysctl' as const), name: fc.constant('pid_max' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('write_sysctl' as const), name: fc.constant('pid_max' as const), value: fc.constantFrom(300, 301, 302, 310, 4194304, 4194305) }),
  },
);

/** toScenario names each step's task among those that may exist by then: the root and every earlier clone3's child. */
function toScenario(rootSetTid: boolean, raw: ReadonlyArray<{ pick: number; call: Op }>): Scenario {
  const candidates = [0];
  const steps: Step[] = [];
  raw.forEach(({ pick, call }, i) => {
    // the newest tasks are the likeliest to still run: pick counts back from them
    steps.push({ task: candidates[candidates.length - 1 - (pick % candidates.length)]!, call });
    if (call.op === 'clone3') candidates.push(i + 1);
  });
  return { steps, ...(rootSetTid ? { rootSetTid } : {}) };
}

export function scenarioArb(o: GenOptions = { userns: true, pidMax: true }): fc.Arbitrary<Scenario> {
  const op = anyOp.filter((x) => (o.userns || withoutUserns(x)) && (o.pidMax || withoutPidMax(x)));
  return fc
    .tuple(fc.boolean(), fc.array(fc.record({ pick: fc.nat({ max: 5 }), call: op }), { minLength: 1, maxLength: 12 }))
    .map(([rootSetTid, raw]) => toScenario(rootSetTid, raw));
}

export interface Disagreement {
  scenario: Scenario;
  comparison: Comparison;
  runs: number;
}

/** findDisagreement runs `cases` generated scenarios; the first disagreement, shrunk, or null. */
export async function findDisagreement(h: HelperSession, cases: number, seed: number, o?: GenOptions): Promise<Disagreement | null> {
  const result = await fc.check(
    fc.asyncProperty(scenarioArb(o), async (s) => (await compare(h, s)).at < 0),
    { numRuns: cases, seed, endOnFailure: false },
  );
  if (!result.failed || !result.counterexample) {
    if (result.failed) throw new Error(`difftest: the property failed without a counterexample: ${String(result.errorInstance)}`);
    return null;
  }
  const [scenario] = result.counterexample;
  const comparison = await compare(h, scenario);
  return { scenario: comparison.scenario, comparison, runs: result.numRuns };
}
