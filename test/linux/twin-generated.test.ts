/**
 * Generated workloads (the transparency property's generator) on both
 * backends, step by step: each runs as real processes through the twin
 * (every kernel-changing call made real first, the mirror following) and on
 * a model host, and at every checkpoint the container's tasks as its own
 * namespaces see them (ps's fields at the container's levels), what /proc
 * shows of them, and the console are the same. One helper session per
 * workload, ended with `quit`, which kills and reaps all it made. Needs root
 * and the compiled helper; skipped with the reason otherwise.
 * CKPT_TWIN_CASES=N runs N workloads (default 40).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { psRows } from '../../src/cli/ps-view.js';
import type { Container } from '../../src/container/container.js';
import { Machine } from '../../src/container/machine.js';
import type { Task } from '../../src/kernel/task.js';
import { AgentTable, linuxDirs } from '../../src/linux/agents.js';
import { disagreement, linuxUnavailable, mapIds, readReal } from '../../src/linux/real-containers.js';
import { SyncHelper } from '../../src/linux/sync-helper.js';
import { Twin, TwinError } from '../../src/linux/twin.js';
import { workload } from '../image/generated-workloads.js';

const why = await linuxUnavailable();
if (why) console.log(`test/linux: generated workloads on both backends skipped: ${why}`);

const CASES = Number(process.env['CKPT_TWIN_CASES'] ?? 40);
const CHECKPOINTS = [3, 6, 12, 25, 50];

const within = (c: Container) => (t: Task) => c.init.pid.ns.isAncestorOf(t.pid.ns);
const inside = (m: Machine, c: Container) => psRows('c', m.tasksOf(c)).map((r) => ({ ...r, nspids: r.nspids.slice(1), tgid: 0, ppid: 0, pgid: 0, sid: 0 }));

describe.skipIf(why !== null)(`generated workloads on both backends${why ? ` (skipped: ${why})` : ''}`, () => {
  it(
    `${CASES} generated workloads, step by step: the same tasks, /proc agreeing, and the same console at every checkpoint`,
    async () => {
      const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
      const texts = fc.sample(workload, { seed: 2031, numRuns: CASES });
      let compared = 0;
      let unsupported = 0;
      for (const [k, text] of texts.entries()) {
        const root = mkdtempSync(join(tmpdir(), 'ckpt-twin-gen-'));
        const dirs = linuxDirs(root);
        mkdirSync(dirs.agents, { recursive: true, mode: 0o700 });
        const helper = SyncHelper.start(dirs.agents, dirs.base);
        try {
          const mirror = Machine.create('linux', 'x86_64', pidMax, 'mainline');
          const model = Machine.create('model', 'x86_64', pidMax, 'mainline');
          const twin = new Twin(mirror, AgentTable.load(root), helper);
          const real = twin.startContainer('c', 'w.wl', text, mapIds);
          const modelled = model.run('c', 'w.wl', text);
          let at = 0;
          for (const point of CHECKPOINTS) {
            const where = `workload ${k} (seed 2031) at step ${point}:\n${text}`;
            if (process.env["CKPT_TWIN_DEBUG"]) console.log(where);
            try {
              twin.run(point - at, within(real));
            } catch (e) {
              if (e instanceof TwinError && e.code === 'CKPT_UNSUPPORTED') {
                unsupported++; // a call --host linux does not make real yet: nothing more to compare
                break;
              }
              throw new Error(`${where}\n${(e as Error).message}`);
            }
            compared++;
            model.scheduler.run(point - at, within(modelled));
            at = point;
            expect(inside(mirror, real), where).toEqual(inside(model, modelled));
            expect(real.console.text, where).toBe(modelled.console.text);
            // as a later command finds it (two-backends.ts realView): an init's exit goes on in the kernel (it waits until its namespace is empty) after the helper has seen it begin
            const disagreements = (): Array<string | null> => mirror.tasksOf(real).map((t) => disagreement(real, readReal(twin.agents, t)));
            for (const end = Date.now() + 1000; disagreements().some((d) => d !== null) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
            for (const d of disagreements()) expect(d, where).toBeNull();
          }
        } finally {
          helper.quit();
          await helper.exited();
          rmSync(root, { recursive: true, force: true });
        }
      }
      console.log(`test/linux: ${texts.length} generated workloads on both backends: ${compared} checkpoints compared, ${unsupported} stopped early at a call not made real yet`);
      expect(compared).toBeGreaterThan(texts.length * 2);
    },
    600_000,
  );
});
