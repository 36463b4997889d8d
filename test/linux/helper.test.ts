/**
 * The helper's lifecycle on the real kernel: agents answer, die as asked,
 * and nothing the helper made outlives it, whether it is closed or killed.
 * Needs root (pid namespaces); skipped with the reason otherwise.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: real-kernel tests skipped: ${support.reason}`);
const onLinux = support.ok ? describe : describe.skip;

async function gone(h: HelperSession, ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let left = h.leftovers();
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    left = h.leftovers();
  }
  return left;
}

onLinux(`the real-kernel helper${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const session = (): { h: HelperSession; dir: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-helper-test-'));
    dirs.push(dir);
    return { h: HelperSession.start(dir), dir };
  };

  it('makes an init, a child and a thread, each answering on its own channel', async () => {
    const { h } = session();
    try {
      expect(await h.command('init 0 0 0 0')).toMatch(/^r \d+ - child=0 nspid=\d+,1$/);
      expect(await h.command('op 0 clone3 1 0 17 0')).toMatch(/^r 2 - child=1 nspid=\d+,2$/);
      expect(await h.command(`op 1 clone3 2 ${0x10000 | 0x800 | 0x100} 0 0`)).toMatch(/^r 3 - child=2 nspid=\d+,3$/);
      expect(await h.command('op 2 ids')).toBe('r 0 - pid=2 ppid=1 pgrp=0 sid=0 tid=3');
      expect(await h.command('op 0 clone3 3 0 17 1 2')).toBe('r -1 EEXIST');
      expect(await h.command('op 1 exit 4')).toBe('dead');
      expect(await h.command('op 1 ids')).toBe('gone');
      expect(await h.command('state 1')).toMatch(/^s zombie ppid=0 nspid=\d+,2$/);
      // a leader whose thread lives on is not reaped yet; the group's status is its last thread's
      expect(await h.command('op 0 wait4 -1 1')).toBe('r 0 - status=0');
      expect(await h.command('op 2 exit 5')).toBe('dead');
      expect(await h.command('op 0 wait4 -1 1')).toBe('r 2 - status=1280');
      expect(await h.command('nonsense')).toBe('err unknown command nonsense');
      expect(await h.command('op 0 nonsense')).toBe('err unknown request nonsense');
    } finally {
      await h.close();
    }
    expect(h.leftovers()).toEqual([]);
  }, 30_000);

  it('leaves no process and no channel behind when closed', async () => {
    const { h, dir } = session();
    await h.command('init 0 0 0 0');
    await h.command('op 0 clone3 1 0 17 0');
    await h.command(`op 0 clone3 2 ${0x20000000} 17 0`);
    await h.command('op 2 clone3 3 0 17 0');
    expect(h.leftovers()).toHaveLength(4);
    await h.close();
    expect(await gone(h, 5000)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);

  it('takes every process it made down with it when it is killed', async () => {
    const { h } = session();
    await h.command('init 0 0 0 0');
    await h.command('op 0 clone3 1 0 17 0');
    await h.command('op 1 clone3 2 0 17 0');
    await h.command('op 1 exit 0'); // t2 is now an orphan of the namespace's init
    expect(h.leftovers().length).toBeGreaterThanOrEqual(2);
    await h.kill();
    expect(await gone(h, 5000)).toEqual([]);
  }, 30_000);
});
