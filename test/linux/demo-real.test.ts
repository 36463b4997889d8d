/**
 * `ckpt demo --real` as a user reads it: model host → real processes → model host, each task's
 * pids beside /proc's NSpid line, and the console compared with a model host that ran straight
 * through after every stage. (The JSON form, the missing-privilege line and what the demo leaves
 * behind are checked in real-cli.test.ts.) Needs root and the compiled helper; skipped with the
 * reason otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linuxUnavailable } from '../../src/linux/real-containers.js';
import { ckptIn } from '../cli/run-ckpt.js';

const why = await linuxUnavailable();
if (why) console.log(`test/linux: demo --real skipped: ${why}`);

describe.skipIf(why !== null)(`ckpt demo --real, as text${why ? ` (skipped: ${why})` : ''}`, () => {
  it('prints each task with its pids on the model, in the kernel, /proc NSpid and back, and the same console after every stage', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ckpt-demo-real-text-'));
    try {
      const r = await ckptIn(root, ['demo', '--real']);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const lines = r.out.split('\n');
      const header = lines.findIndex((l) => l.startsWith('task'));
      expect(lines[header]).toMatch(/^task\s+model host\s+real \(machine first\)\s+\/proc NSpid\s+back on a model host$/);
      const rows = lines.slice(header + 1, lines.indexOf('', header + 1));
      expect(rows.length).toBeGreaterThan(2);
      for (const row of rows) {
        // the columns as the header lays them out
        const model = row.slice(8, 22).trim();
        const real = row.slice(22, 44).trim();
        const nspid = row.slice(44, 60).trim();
        // /proc's NSpid line is the kernel's pids, and inside the container they are the model's
        expect(nspid.replace(/ /g, '/')).toBe(real);
        expect(real.split('/').slice(1)).toEqual(model.split('/').slice(1));
      }
      expect(lines.filter((l) => l.trim().startsWith('same console after:')).map((l) => l.trim())).toEqual([
        'same console after: 30 steps on a model host',
        'same console after: restored on this machine',
        'same console after: 20 steps as real processes',
        'same console after: restored on a model host',
        'same console after: 40 steps on the model host',
      ]);
      expect(r.out).toContain('At every stage, the same console as a model host that ran it straight through.');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
