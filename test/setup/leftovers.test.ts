/**
 * The test run's leftover check (leftovers.ts): it finds the processes a run made that are still there,
 * by the run's marker or its ledger, and counts nothing else on the machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { parseReply } from '../../src/linux/real-executor.js';
import { leftoversOf } from './leftovers.js';

const onLinux = process.platform === 'linux';
const support = onLinux ? await probeLinux() : { ok: false as const, reason: 'not Linux' };

/** startOf: field 22 of /proc/PID/stat */
const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

describe.skipIf(!onLinux)('the leftover check', () => {
  it('counts no process of the machine that does not carry the run\'s marker or stand in its ledger', () => {
    expect(leftoversOf('', `ckpt-test-run-nobody-${process.pid}`)).toEqual([]);
  });

  it('counts a ledger entry only while that very process (same start time) exists', () => {
    expect(leftoversOf(`1 ${startOf(1)}`, 'none').map((l) => [l.pid, l.by])).toEqual([[1, 'ledger']]);
    expect(leftoversOf('1 0', 'none')).toEqual([]);
    expect(leftoversOf(`1 ${startOf(1)}`, 'none', { except: new Set([1]) })).toEqual([]);
  });

  it.skipIf(!support.ok)(`finds a run's helper and its agents in their pid namespaces while they live, and nothing once the helper is closed${support.ok ? '' : ` (skipped: ${support.reason})`}`, { timeout: 30_000 }, async () => {
    const marker = `ckpt-test-run-check-${process.pid}`;
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-leftovers-'));
    const saved = process.env.CKPT_TEST_RUN;
    process.env.CKPT_TEST_RUN = marker;
    const h = HelperSession.start(dir);
    if (saved === undefined) delete process.env.CKPT_TEST_RUN;
    else process.env.CKPT_TEST_RUN = saved;
    try {
      const init = parseReply(await h.command('init 1 0 0 0'));
      const child = parseReply(await h.command('op 1 clone3 2 0 17 0'));
      const pids = [init, child].map((r) => (r.kind === 'r' ? Number(r.fields.get('nspid')!.split(',')[0]) : NaN));
      const holder = init.kind === 'r' ? Number(init.fields.get('holder')) : NaN; // the init's holder (docs/real-backend.md)
      const found = leftoversOf('', marker);
      expect(found.map((l) => [l.pid, l.by])).toEqual([h.pid!, holder, ...pids].sort((a, b) => a - b).map((pid) => [pid, 'marker']));
      expect(found.find((l) => l.pid === pids[1])!.nspid).toMatch(/^\d+\/2$/);
      // the ledger knows them too
      expect(leftoversOf(`${pids[0]} ${startOf(pids[0]!)}`, 'none').map((l) => l.pid)).toEqual([pids[0]]);
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
    for (let i = 0; i < 100 && leftoversOf('', marker).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(leftoversOf('', marker)).toEqual([]);
  });
});
