/**
 * The test run's check that no process the tests made is left behind: a
 * vitest global setup (test/vitest.config.ts). Before any test file runs it
 * gives the run a marker and a ledger, both through the environment every
 * worker, helper and agent inherits:
 *  - CKPT_TEST_RUN: a name no other run has; a process started by this run
 *    carries it in /proc/PID/environ (agents are clones of the helper and
 *    share its environment);
 *  - CKPT_PROCESS_LEDGER: a file where a HelperSession notes the machine pid
 *    and start time of the helper and of every process it makes, so that an
 *    init stuck in its exit or a zombie, whose environment can no longer be
 *    read, is still known.
 * After the last file, the run fails (exit code 1, each leftover named) if a
 * process of the ledger still exists (same pid, same start time), or a
 * process carrying the marker lives in a pid namespace other than the
 * runner's or is a helper. Only those are read; nothing is signalled:
 * processes the run did not make (an old stuck init from another session,
 * other runs on the same machine) are neither counted nor touched.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/** A process the run left behind, and how it is known to be the run's. */
export interface Leftover {
  pid: number;
  name: string;
  state: string;
  nspid: string;
  by: 'ledger' | 'marker';
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** startTime reads field 22 of /proc/PID/stat, or null when there is no such process. */
function startTime(proc: string, pid: number): string | null {
  const stat = read(join(proc, String(pid), 'stat'));
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null);
}

function describe(proc: string, pid: number, by: Leftover['by']): Leftover | null {
  const status = read(join(proc, String(pid), 'status'));
  if (status === null) return null;
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  return { pid, name: field('Name'), state: field('State'), nspid: field('NSpid').split(/\s+/).join('/'), by };
}

/**
 * leftoversOf finds the processes of a run still on the machine: those of the ledger's text (`PID
 * STARTTIME` lines) that still exist, and those carrying `CKPT_TEST_RUN=marker` that live in a pid
 * namespace other than `ownNs` or are the helper itself. `except` are pids not to count (the runner).
 */
export function leftoversOf(ledger: string, marker: string, opts: { proc?: string; except?: ReadonlySet<number> } = {}): Leftover[] {
  const proc = opts.proc ?? '/proc';
  const except = opts.except ?? new Set<number>();
  const found = new Map<number, Leftover>();
  for (const line of ledger.split('\n')) {
    const [pid, start] = line.trim().split(/\s+/);
    if (!pid || !start || except.has(Number(pid))) continue;
    if (startTime(proc, Number(pid)) !== start) continue;
    const l = describe(proc, Number(pid), 'ledger');
    if (l) found.set(l.pid, l);
  }
  const ownNs = readlinkSync(join(proc, 'self/ns/pid'));
  const tag = `CKPT_TEST_RUN=${marker}\0`;
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (found.has(pid) || except.has(pid)) continue;
    const environ = read(join(proc, name, 'environ'));
    if (environ === null || !environ.includes(tag)) continue;
    let ns: string | null = null;
    try {
      ns = readlinkSync(join(proc, name, 'ns/pid'));
    } catch {
      // gone, or not ours to read
    }
    const l = describe(proc, pid, 'marker');
    if (l && ((ns !== null && ns !== ownNs) || l.name === 'ckpt-helper')) found.set(pid, l);
  }
  return [...found.values()].sort((a, b) => a.pid - b.pid);
}

/** SETTLE_MS: how long the check waits for the run's last processes to finish exiting before it counts them. */
const SETTLE_MS = 5000;

export default function setup(): (() => Promise<void>) | void {
  if (process.platform !== 'linux' || read('/proc/self/stat') === null) {
    console.log(`test run: the check that no process is left behind is skipped: it reads /proc, which ${process.platform === 'linux' ? 'is not mounted' : `${process.platform} does not have`}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-test-run-'));
  const ledger = join(dir, 'processes');
  writeFileSync(ledger, '');
  const marker = basename(dir);
  process.env.CKPT_TEST_RUN = marker;
  process.env.CKPT_PROCESS_LEDGER = ledger;
  return async () => {
    const text = read(ledger) ?? '';
    let left = leftoversOf(text, marker, { except: new Set([process.pid]) });
    for (const t0 = Date.now(); left.length > 0 && Date.now() - t0 < SETTLE_MS; ) {
      await new Promise((r) => setTimeout(r, 100));
      left = leftoversOf(text, marker, { except: new Set([process.pid]) });
    }
    rmSync(dir, { recursive: true, force: true });
    const recorded = text.split('\n').filter((l) => l.trim() !== '').length;
    if (left.length === 0) {
      console.log(`test run: no process left behind (${recorded} recorded by the helpers, and none carrying the run's marker in another pid namespace)`);
      return;
    }
    console.error(`test run FAILED: ${left.length} process${left.length === 1 ? '' : 'es'} made by the tests ${left.length === 1 ? 'is' : 'are'} still there (not touched):`);
    for (const l of left) console.error(`  pid ${l.pid} ${l.name} ${l.state} NSpid ${l.nspid} (known by the run's ${l.by})`);
    process.exitCode = 1;
  };
}
