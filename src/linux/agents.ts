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

/** the helper's table size: agent ids are below it */
export const MAX_AGENT_ID = 4096;

export interface AgentEntry {
  id: number;
  start: string;
}

/** linuxDirs: where the real backend keeps its files in a state directory. */
export function linuxDirs(root: string): { base: string; agents: string; table: string } {
  const base = join(root, 'linux');
  return { base, agents: join(base, 'agents'), table: join(base, 'agents.json') };
}

/** startTimeOf reads field 22 of /proc/PID/stat, or null when there is no such process. */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export class AgentTable {
  private constructor(
    private readonly path: string,
    readonly byPid: Map<number, AgentEntry>,
  ) {}

  /** load reads the table (an empty one when there is none yet). */
  static load(root: string): AgentTable {
    const { base, agents, table } = linuxDirs(root);
    mkdirSync(base, { recursive: true, mode: 0o700 });
    mkdirSync(agents, { recursive: true, mode: 0o700 });
    let entries: Array<[number, AgentEntry]> = [];
    try {
      entries = (JSON.parse(readFileSync(table, 'utf8')) as { agents: Array<[number, AgentEntry]> }).agents;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${table} is unreadable: ${(e as Error).message}`);
    }
    return new AgentTable(table, new Map(entries));
  }

  /** freeId is the lowest agent id no task holds. */
  freeId(): number {
    const taken = new Set([...this.byPid.values()].map((e) => e.id));
    for (let id = 0; id < MAX_AGENT_ID; id++) if (!taken.has(id)) return id;
    throw new Error(`every one of the helper's ${MAX_AGENT_ID} agent ids is taken`);
  }

  add(pid: number, id: number): void {
    this.byPid.set(pid, { id, start: startTimeOf(pid) ?? '' });
  }

  /** isSame: the process with this pid is still the one the table names (not gone, not a later one with the pid) */
  isSame(pid: number): boolean {
    const e = this.byPid.get(pid);
    return e !== undefined && startTimeOf(pid) === e.start;
  }

  save(): void {
    writeFileAtomically(this.path, new TextEncoder().encode(JSON.stringify({ agents: [...this.byPid] })));
  }
}
