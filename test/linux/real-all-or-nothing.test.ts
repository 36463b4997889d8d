/**
 * All or nothing on the real kernel: a restore that fails at any step, the
 * last ones included, kills and reaps every process it made. The failure is
 * injected at each of the executor's helper commands in turn (the command is
 * answered with an error instead of being carried out), and again at each
 * line of the helper's batches (the line names no agent, so the helper stops
 * the batch there); the executor then
 * undoes the restore, and a /proc scan of everything below the helper is
 * the same as before it began: no process, zombie or stuck init is left.
 * Needs root (pid namespaces) and the compiled helper; skipped with the reason otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { planFor } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { scanProcesses } from '../../src/linux/proc.js';
import { executeOnLinux } from '../../src/linux/real-executor.js';
import { imageOf, REAPED, workload } from './restore-images.js';

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: all-or-nothing restores skipped: ${support.reason}`);

/** below lists every process below `root` (by parent links, zombies and stuck inits included) as /proc shows it. */
function below(root: number): string[] {
  const all = scanProcesses();
  const parentOf = new Map(all.map((p) => [p.pid, p.ppid]));
  const under = (pid: number): boolean => {
    for (let p = parentOf.get(pid), hops = 0; p !== undefined && p > 0 && hops < 64; p = parentOf.get(p), hops++) if (p === root) return true;
    return false;
  };
  return all.filter((p) => under(p.pid)).map((p) => `${p.pid} ${p.state} ppid=${p.ppid} nspid=${p.nspid.join('/')}`);
}

describe.skipIf(!support.ok)(`a restore that fails on the real kernel leaves nothing${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const CASES: Array<[string, string, number]> = [
    ['namespaces three levels deep, with zombies', workload('nested'), 30],
    ['a session whose leader was reaped (a placeholder that leaves)', REAPED, 12],
  ];
  for (const [title, text, steps] of CASES) {
    it(`${title}: failing at each step in turn, the last included, kills and reaps all it made`, { timeout: 240_000 }, async () => {
      const image = imageOf(text, steps);
      const plan = planFor(Machine.create('t', 'x86_64'), image, { via: 'clone3' });
      const dir = mkdtempSync(join(tmpdir(), 'ckpt-all-or-nothing-'));
      const h = HelperSession.start(dir);
      try {
        // a whole restore, counting its commands, then undone by the helper's reset
        let total = 0;
        await executeOnLinux({ command: (line) => (total++, h.command(line)) }, image, plan);
        expect(await h.command('reset')).toBe('ok');
        expect(below(h.pid!)).toEqual([]);
        for (let k = 0; k < total; k++) {
          const before = below(h.pid!);
          let sent = 0;
          let made = 0;
          const port = {
            command: async (line: string): Promise<string> => {
              if (!line.startsWith('reset') && sent++ === k) return 'err injected failure';
              const reply = await h.command(line);
              if (/ child=\d+ nspid=/.test(reply)) made++;
              return reply;
            },
          };
          await expect(executeOnLinux(port, image, plan), `failing at command ${k + 1} of ${total}`).rejects.toThrow(/injected failure/);
          expect(below(h.pid!), `after failing at command ${k + 1} of ${total}, with ${made} processes made`).toEqual(before);
          // late failures had made every process of the plan
          if (k === total - 1) expect(made).toBe(image.tasks.length + plan.helpers);
        }
        // the same through the helper's batches: the k-th line of the plan's batches names no agent, so the helper stops there
        let lines = 0;
        await executeOnLinux({ command: (line) => h.command(line), batch: (b) => ((lines += b.length), h.batch(b)) }, image, plan);
        expect(await h.command('reset')).toBe('ok');
        expect(lines).toBe(total); // the same commands, batched
        for (let k = 0; k < lines; k++) {
          const before = below(h.pid!);
          let seen = 0;
          const port = {
            command: (line: string): Promise<string> => h.command(line),
            batch: (b: readonly string[]): Promise<string[]> => h.batch(b.map((line) => (seen++ === k ? 'op 4095 ids' : line))),
          };
          await expect(executeOnLinux(port, image, plan), `failing at batch line ${k + 1} of ${lines}`).rejects.toThrow(RestoreError);
          expect(below(h.pid!), `after failing at batch line ${k + 1} of ${lines}`).toEqual(before);
        }
      } finally {
        await h.close();
        rmSync(dir, { recursive: true, force: true });
      }
      expect(h.leftovers()).toEqual([]);
    });
  }
});
