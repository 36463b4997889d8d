/**
 * The agents of `--host linux`: which real process (a helper agent, blocked
 * on its FIFO pair in STATE/linux/agents/) stands for which task of the
 * mirror. A task is known by its pid at the machine's level, which is also
 * its level-0 pid in the mirror; the table keeps its agent id and its start
 * time (field 22 of /proc/PID/stat), which tells it from a later process
 * that was given the same pid.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomically } from '../disk/atomic-file.js';
import { startTime } from './helper.js';

/** the helper's table size: agent ids are below it */
export const MAX_AGENT_ID = 4096;

/** Region: a real mapping of a process, as the mirror's [start, end) lying at `real` in the real process. */
export interface Region {
  start: number;
  end: number;
  real: number;
}

/** regionOf finds the region holding [start, end) whole, or undefined. */
export function regionOf(regions: readonly Region[] | undefined, start: number, end: number): Region | undefined {
  return regions?.find((r) => r.start <= start && end <= r.end);
}

export interface AgentEntry {
  id: number;
  start: string;
}

/** linuxDirs: where the real backend keeps its files in a state directory. */
export function linuxDirs(root: string): { base: string; agents: string; table: string } {
  const base = join(root, 'linux');
  return { base, agents: join(base, 'agents'), table: join(base, 'agents.json') };
}

export class AgentTable {
  private constructor(
    private readonly path: string,
    readonly byPid: Map<number, AgentEntry>,
    /** for each process (by its machine pid), its real mappings: where each stretch of the mirror's address space lies in the real process */
    readonly maps: Map<number, Region[]>,
  ) {}

  /** load reads the table (an empty one when there is none yet). */
  static load(root: string): AgentTable {
    const { base, agents, table } = linuxDirs(root);
    mkdirSync(base, { recursive: true, mode: 0o700 });
    mkdirSync(agents, { recursive: true, mode: 0o700 });
    let saved: { agents: Array<[number, AgentEntry]>; maps?: Array<[number, number[][]]> } = { agents: [] };
    try {
      saved = JSON.parse(readFileSync(table, 'utf8')) as typeof saved;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${table} is unreadable: ${(e as Error).message}`);
    }
    // each region is [start, end, real] (an older table's [start, real] pairs say no end: dropped, the mapping is made again)
    const regions = (list: number[][]): Region[] => list.filter((r) => r.length === 3).map(([start, end, real]) => ({ start: start!, end: end!, real: real! }));
    return new AgentTable(table, new Map(saved.agents), new Map((saved.maps ?? []).map(([pid, m]) => [pid, regions(m)])));
  }

  /** freeId is the lowest agent id no task holds. */
  freeId(): number {
    return this.freeRange(1);
  }

  /** freeRange is the lowest id from which `n` ids in a row are free (a restore numbers its processes in a row). */
  freeRange(n: number): number {
    const taken = new Set([...this.byPid.values()].map((e) => e.id));
    for (let base = 0, run = 0; base + run < MAX_AGENT_ID; ) {
      if (taken.has(base + run)) {
        base += run + 1;
        run = 0;
      } else if (++run === n) return base;
    }
    throw new Error(`no ${n} agent ids in a row are free (the helper has ${MAX_AGENT_ID})`);
  }

  /** add names agent `id` the process `pid`, started at `start` (field 22 of /proc/PID/stat: read there when not given) */
  add(pid: number, id: number, start?: string): void {
    this.byPid.set(pid, { id, start: start ?? startTime(pid) ?? '' });
  }

  /** isSame: the process with this pid is still the one the table names (not gone, not a later one with the pid) */
  isSame(pid: number): boolean {
    const e = this.byPid.get(pid);
    return e !== undefined && startTime(pid) === e.start;
  }

  save(): void {
    for (const pid of this.maps.keys()) if (!this.byPid.has(pid)) this.maps.delete(pid);
    writeFileAtomically(this.path, new TextEncoder().encode(JSON.stringify({ agents: [...this.byPid], maps: [...this.maps].map(([pid, m]) => [pid, m.map((r) => [r.start, r.end, r.real])]) })));
  }
}
