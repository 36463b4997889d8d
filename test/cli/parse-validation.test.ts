/**
 * Parsing is validation: every verb given a misspelled option refuses the
 * command before it touches anything (the state directory's bytes are the
 * same after), exit 2, one line naming the option with a did-you-mean and a
 * pointer to the verb's own help, and with --json exactly one JSON object.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERBS } from '../../src/cli/verbs.js';
import { ckptIn, stateBytes } from './run-ckpt.js';

const NESTED = 'images/workloads/nested.wl';
let dir: string;
let root: string;
let image: string;


/** Each verb, run as it would be but for one misspelled option, and the option that was meant. */
const MISSPELLED: Array<[string, () => string[], string, string]> = [
  ['demo', () => ['demo', '--stepz', '5'], '--stepz', '--steps'],
  ['host create', () => ['host', 'create', 'x', '--arch', 'i386', '--pid-mx', '500'], '--pid-mx', '--pid-max'],
  ['host list', () => ['host', 'list', '--jsn'], '--jsn', '--json'],
  ['host show', () => ['host', 'show', 'default', '--jsno'], '--jsno', '--json'],
  ['host rm', () => ['host', 'rm', 'default', '--roo', root], '--roo', '--root'],
  ['run', () => ['run', 'w2', NESTED, '--stepps', '3'], '--stepps', '--steps'],
  ['ps', () => ['ps', '--tre'], '--tre', '--tree'],
  ['step', () => ['step', 'web', '--stpes', '3'], '--stpes', '--steps'],
  ['logs', () => ['logs', 'web', '--hots', 'default'], '--hots', '--host'],
  ['kill', () => ['kill', 'web', '--sig', 'STOP'], '--sig', '--signal'],
  ['rm', () => ['rm', 'web', '--forse'], '--forse', '--force'],
  ['dump', () => ['dump', 'web', '-o', join(dir, 'out.tar'), '--leave-runing'], '--leave-runing', '--leave-running'],
  ['restore', () => ['restore', image, '--name', 'again', '--host-pid'], '--host-pid', '--host-pids'],
  ['check', () => ['check', image, '--vai', 'clone3'], '--vai', '--via'],
  ['inspect', () => ['inspect', image, '--tre'], '--tre', '--tree'],
  ['export', () => ['export', image, `oci:${join(dir, 'layout')}:t`, '--jsn'], '--jsn', '--json'],
  ['import', () => ['import', `oci:${join(dir, 'layout')}:t`, '-o', join(dir, 'back.tar'), '--outptu', 'x'], '--outptu', '--output'],
  ['push', () => ['push', image, 'docker://127.0.0.1:1/ckpt/x:1', '--tls-verfy'], '--tls-verfy', '--tls-verify'],
  ['pull', () => ['pull', 'docker://127.0.0.1:1/ckpt/x:1', '-o', join(dir, 'pulled.tar'), '--tls-verfy'], '--tls-verfy', '--tls-verify'],
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ckpt-parse-'));
  root = join(dir, 'state');
  expect((await ckptIn(root, ['run', 'web', NESTED, '--steps', '20'])).code).toBe(0);
  image = join(dir, 'web.tar');
  expect((await ckptIn(root, ['dump', 'web', '-o', image, '--leave-running'])).code).toBe(0);
  writeFileSync(join(dir, 'marker'), 'x');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parsing is validation', () => {
  it('covers every verb', () => {
    const covered = new Set(MISSPELLED.map(([v]) => v.split(' ')[0]));
    expect(VERBS.map((v) => v.name).filter((v) => !covered.has(v))).toEqual([]);
  });

  for (const [verb, argv, wrong, meant] of MISSPELLED) {
    it(`${verb} with ${wrong}: refused before anything is touched`, async () => {
      const before = stateBytes(dir);
      const r = await ckptIn(root, argv());
      expect(r.code, r.err).toBe(2);
      expect(r.err.split('\n')).toEqual([`ckpt: unknown option ${wrong} (did you mean ${meant}?)`, `Try: ckpt ${verb} --help`]);
      expect(r.out).toBe('');
      expect(stateBytes(dir)).toBe(before);
      const j = await ckptIn(root, [...argv(), '--json']);
      expect(j.code).toBe(2);
      expect(j.out.split('\n')).toHaveLength(1);
      expect(JSON.parse(j.out)).toEqual({ error: { code: 'CKPT_USAGE', message: `unknown option ${wrong} (did you mean ${meant}?)`, hint: `ckpt ${verb} --help` } });
      expect(stateBytes(dir)).toBe(before);
    });
  }

  it('kill with a misspelled --signal sends no signal at all (the container runs on)', async () => {
    await ckptIn(root, ['kill', 'web', '--sig', 'STOP']);
    const ps = JSON.parse((await ckptIn(root, ['ps', 'web', '--json'])).out) as Array<{ state: string }>;
    expect(ps[0]!.state).not.toBe('zombie');
    expect(ps[0]!.state).not.toBe('stopped');
  });

  it('a malformed or missing value is refused the same way', async () => {
    const before = stateBytes(dir);
    for (const [argv, line] of [
      [['step', 'web', '--steps', 'abc'], 'ckpt: --steps needs a whole number, not "abc"'],
      [['run', 'w3', NESTED, '--steps', '1.5'], 'ckpt: --steps needs a whole number, not "1.5"'],
      [['dump', 'web', '-o'], 'ckpt: -o needs a value'],
      [['host', 'create', 'x', '--arch', 'i386', '--pid-max', 'lots'], 'ckpt: --pid-max needs a whole number, not "lots"'],
      [['dump', 'web', '--compress', 'xz'], 'ckpt: --compress xz is not one of none, gzip, zstd'],
    ] as const) {
      const r = await ckptIn(root, [...argv]);
      expect([argv.join(' '), r.code, r.err.split('\n')[0]]).toEqual([argv.join(' '), 2, line]);
    }
    expect(stateBytes(dir)).toBe(before);
  });

  it('a misspelled sub-verb is named as such, with a did-you-mean, whatever options follow it', async () => {
    const before = stateBytes(dir);
    for (const [argv, line] of [
      [['host', 'creat', 'y', '--arch', 'x86'], 'ckpt: unknown action "creat" for ckpt host (did you mean create?): use create, list, show or rm'],
      [['host', 'lst'], 'ckpt: unknown action "lst" for ckpt host (did you mean list?): use create, list, show or rm'],
      [['host', '--root', root, 'shwo', 'default'], 'ckpt: unknown action "shwo" for ckpt host (did you mean show?): use create, list, show or rm'],
      [['host', 'frobnicate'], 'ckpt: unknown action "frobnicate" for ckpt host: use create, list, show or rm'],
    ] as const) {
      const r = await ckptIn(root, [...argv]);
      expect([argv.join(' '), r.code, r.err.split('\n')]).toEqual([argv.join(' '), 2, [line, 'Try: ckpt host --help']]);
      const j = await ckptIn(root, [...argv, '--json']);
      expect(JSON.parse(j.out)).toEqual({ error: { code: 'CKPT_USAGE', message: line.replace(/^ckpt: /, ''), hint: 'ckpt host --help' } });
    }
    expect(stateBytes(dir)).toBe(before);
  });

  it('a flag every verb takes may come before the verb, and a misspelled option after it is still refused', async () => {
    const after = await ckptIn(root, ['ps', 'web', '--json']);
    for (const argv of [['--json', 'ps', 'web'], ['--debug', '--json', 'ps', 'web'], ['-q', '--json', 'ps', 'web']]) {
      const r = await ckptIn(root, argv);
      expect([argv.join(' '), r.code, r.err]).toEqual([argv.join(' '), 0, '']);
      expect(r.out).toBe(after.out);
    }
    const bad = await ckptIn(root, ['--json', 'ps', '--tre']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out)).toEqual({ error: { code: 'CKPT_USAGE', message: 'unknown option --tre (did you mean --tree?)', hint: 'ckpt ps --help' } });
  });

  it('a misspelled option is named even when a required one is missing too (yargs checks the required first)', async () => {
    const before = stateBytes(dir);
    const r = await ckptIn(root, ['host', 'create', 'x', '--pid-mx', '500']);
    expect([r.code, r.err.split('\n')[0]]).toEqual([2, 'ckpt: unknown option --pid-mx (did you mean --pid-max?); missing --arch']);
    expect(stateBytes(dir)).toBe(before);
  });

  it('an option given twice takes its last value (ckptIn adds --root ROOT after the first --root)', async () => {
    const elsewhere = join(dir, 'no-such-state');
    const r = await ckptIn(root, ['--root', elsewhere, 'ps', 'web', '--json', '--no-json']);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/^CONTAINER /);
    expect(r.out).toContain('web');
  });

  it('--help and --version print without loading any verb, and a verb\'s --help shows its example', async () => {
    const help = await ckptIn(root, ['--help']);
    expect(help.code).toBe(0);
    for (const v of VERBS) expect(help.out).toContain(`ckpt ${v.usage}`);
    expect((await ckptIn(root, ['--version'])).out).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await ckptIn(root, ['kill', '--help'])).out).toContain('ckpt kill web --signal STOP');
  });
});
