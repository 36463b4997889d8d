/**
 * Differential scenarios as data. A scenario is a list of steps "task X does
 * op(args)", run once on the real kernel (through the C helper) and once on a
 * `mainline` model host; both runs print one line per step and one line per
 * task at the end, compared line by line.
 *
 * Task 0 is the scenario's root: the init of a fresh pid namespace (level 1
 * under the host's init on the model, under the helper on the machine). The
 * task a successful clone3 at step i makes is task i+1, on both sides, so
 * names never depend on which earlier steps succeeded. Pids in arguments are
 * literal numbers in the caller's namespace, exactly as a program passes them.
 */

/** The ops a step can do; `model-only` ones (eclone) are skipped on the real kernel. */
export type Op =
  | { op: 'clone3'; flags: number; setTid: number[] }
  | { op: 'exit'; code: number }
  | { op: 'exit_group'; code: number }
  | { op: 'wait4'; pid: number; options: number }
  | { op: 'setsid' }
  | { op: 'setpgid'; pid: number; pgid: number }
  | { op: 'setuid'; uid: number }
  | { op: 'unshare'; flags: number }
  | { op: 'setns'; pid: number; nstype: number }
  | { op: 'pidfd_open'; pid: number }
  | { op: 'kill'; pid: number; sig: number }
  | { op: 'ids' }
  | { op: 'read_sysctl'; name: 'ns_last_pid' | 'pid_max' }
  | { op: 'write_sysctl'; name: 'ns_last_pid' | 'pid_max'; value: number };

export interface Step {
  task: number;
  call: Op;
}

export interface Scenario {
  name?: string;
  /** the root is made with clone3 set_tid {1} instead of the kernel's choice */
  rootSetTid?: boolean;
  steps: Step[];
}

/** What a hand case expects of the comparison. */
export type Expectation =
  | { kind: 'agree' }
  /** a class of issue 18 the model does not follow yet (only while the persona branch is not merged) */
  | { kind: 'expectedToDiffer'; issueClass: number }
  /** the model cannot represent this; it must refuse the step with this errno and say why */
  | { kind: 'modelRefuses'; step: number };

export interface HandCase {
  name: string;
  issueClass: number;
  scenario: Scenario;
  expect: Expectation;
}

export const SYSCTL_PATH = { ns_last_pid: '/proc/sys/kernel/ns_last_pid', pid_max: '/proc/sys/kernel/pid_max' } as const;

const FLAG_NAMES: Array<[number, string]> = [
  [0x00000100, 'VM'],
  [0x00000400, 'FILES'],
  [0x00000800, 'SIGHAND'],
  [0x00008000, 'PARENT'],
  [0x00010000, 'THREAD'],
  [0x10000000, 'NEWUSER'],
  [0x20000000, 'NEWPID'],
];

/** flagText names clone flags (CLONE_ dropped), or 0. */
export function flagText(flags: number): string {
  const names = FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
  const rest = flags & ~FLAG_NAMES.reduce((a, [bit]) => a | bit, 0);
  if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names.length ? names.join('|') : '0';
}

/** opText is how a step reads in a report. */
export function opText(op: Op): string {
  switch (op.op) {
    case 'clone3':
      return `clone3(${flagText(op.flags)}, set_tid=[${op.setTid.join(',')}])`;
    case 'exit':
    case 'exit_group':
      return `${op.op}(${op.code})`;
    case 'wait4':
      return `wait4(${op.pid}, 0x${op.options.toString(16)})`;
    case 'setsid':
    case 'ids':
      return `${op.op}()`;
    case 'setpgid':
      return `setpgid(${op.pid}, ${op.pgid})`;
    case 'setuid':
      return `setuid(${op.uid})`;
    case 'unshare':
      return `unshare(${flagText(op.flags)})`;
    case 'setns':
      return `setns(pidfd_open(${op.pid}), ${flagText(op.nstype)})`;
    case 'pidfd_open':
      return `pidfd_open(${op.pid})`;
    case 'kill':
      return `kill(${op.pid}, ${op.sig})`;
    case 'read_sysctl':
      return `read ${op.name}`;
    case 'write_sysctl':
      return `write ${op.name} ${op.value}`;
  }
}

/** scenarioText prints a scenario as its steps, one per line, for a disagreement report. */
export function scenarioText(s: Scenario): string {
  const head = `root: init of a fresh pid namespace${s.rootSetTid ? ' made with set_tid {1}' : ''}`;
  return [head, ...s.steps.map((st, i) => `${i}: t${st.task} ${opText(st.call)}`)].join('\n');
}

/** The common shape both runners fill in: one line per step, then one per task. */
export interface RunOutput {
  lines: string[];
}

/** TaskFinal is what both sides report of a task at the end. */
export interface TaskFinal {
  state: 'alive' | 'zombie' | 'gone';
  ppid: string;
  pids: number[];
  ids?: string;
}

export function finalLine(id: number, f: TaskFinal): string {
  const pids = f.state === 'gone' ? '' : ` pids=${f.pids.join(',')}`;
  const ppid = f.state === 'gone' ? '' : ` ppid=${f.ppid}`;
  return `t${id} ${f.state}${ppid}${pids}${f.ids ? ` ${f.ids}` : ''}`;
}

/** firstDifference returns the index of the first line that differs, or -1. */
export function firstDifference(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}
