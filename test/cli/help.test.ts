/**
 * `ckpt VERB --help` is rendered from the options as data (src/cli/options)
 * without loading yargs or the verb's code. These tests hold it to the
 * parser: for every verb and sub-verb the rendered help lists exactly the
 * options and positionals the yargs parser accepts, with the same
 * description, type, choices and default (compared with the help yargs
 * itself prints for the same command module); --help exits 0 and changes
 * nothing; and a process asked for help loads neither yargs nor any verb.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yargs from 'yargs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archNames } from '../../src/arch/registry.js';
import { commandParser } from '../../src/cli/main.js';
import { SPECS } from '../../src/cli/options/all.js';
import { ARCH_NAMES } from '../../src/cli/options/host.js';
import { commandName, VERBS } from '../../src/cli/verbs.js';
import { ckptIn, stateBytes } from './run-ckpt.js';

/** every command line that has a help of its own: each verb, and each sub-verb the table of verbs names */
const PATHS: string[][] = VERBS.flatMap((v) => [[v.name], ...Object.keys(v.subverbs ?? {}).map((s) => [v.name, s])]);

/** yargsHelp is the help yargs prints for `path`, from the verb's own command module: what the parser accepts. */
async function yargsHelp(path: readonly string[]): Promise<string> {
  const entry = VERBS.find((v) => v.name === path[0])!;
  const ctx = { out: () => undefined, err: () => undefined, setExitCode: () => undefined };
  const module = [await entry.load(ctx)].flat().find((m) => commandName(m) === entry.name)!;
  const args = [...path, '--help'];
  let text = '';
  await commandParser(yargs, args, module, entry.usage).parseAsync(args, {}, (_e: unknown, _a: unknown, output: string) => {
    text = output;
  });
  return text;
}

interface Entry {
  /** the description, its words joined by single spaces */
  text: string;
  /** the bracketed annotations: [string] [required] [choices: ...] [default: ...] */
  notes: string[];
}

const NOTE = /\[(?:string|boolean|required|choices: [^\]]*|default: [^\]]*)\]/g;

/**
 * entries reads a help's options (every flag, in whichever section) and positionals, each with its
 * description and annotations; a row's wrapped lines are indented further than any flag column.
 */
function entries(help: string): { options: Map<string, Entry>; positionals: Map<string, Entry> } {
  const options = new Map<string, Entry>();
  const positionals = new Map<string, Entry>();
  let section = '';
  let current: { key: string; into: Map<string, Entry>; body: string[] } | null = null;
  const flush = (): void => {
    if (!current) return;
    const body = current.body.join(' ');
    current.into.set(current.key, { text: body.replace(NOTE, '').split(/\s+/).filter(Boolean).join(' '), notes: body.match(NOTE) ?? [] });
    current = null;
  };
  for (const line of help.split('\n')) {
    if (/^\S.*:$/.test(line)) {
      flush();
      section = line;
      continue;
    }
    const flag = /^(?: {2}-(\w), | {6})--([\w-]+)(.*)$/.exec(line);
    const positional = section === 'Positionals:' ? /^ {2}(\w+)(.*)$/.exec(line) : null;
    if (flag && /options(?: \(.*\))?:$/i.test(section)) {
      flush();
      current = { key: `${flag[1] ? `-${flag[1]} ` : ''}--${flag[2]}`, into: options, body: [flag[3]!] };
    } else if (positional) {
      flush();
      current = { key: positional[1]!, into: positionals, body: [positional[2]!] };
    } else if (line.trim() === '') flush();
    else current?.body.push(line);
  }
  flush();
  return { options, positionals };
}

describe('a verb\'s help is the parser\'s', () => {
  it('covers every verb, and the table of verbs and the options as data name the same verbs and sub-verbs', () => {
    expect(Object.keys(SPECS).sort()).toEqual(VERBS.map((v) => v.name).sort());
    for (const v of VERBS) expect([v.name, (SPECS[v.name]!.subcommands ?? []).map((s) => s.name)]).toEqual([v.name, Object.keys(v.subverbs ?? {})]);
    expect(PATHS.length).toBeGreaterThan(VERBS.length);
  });

  it('names the architectures arch/registry.ts has', () => {
    expect([...ARCH_NAMES]).toEqual(archNames());
  });

  for (const path of PATHS) {
    it(`ckpt ${path.join(' ')} --help lists every option and positional the parser accepts, as yargs describes them`, { timeout: 30_000 }, async () => {
      const ours = await ckptIn(mkdtempSync(join(tmpdir(), 'ckpt-help-')), [...path, '--help']);
      expect(ours.code).toBe(0);
      expect(ours.err).toBe('');
      const mine = entries(ours.out);
      const theirs = entries(await yargsHelp(path));
      expect(theirs.options.size).toBeGreaterThan(2);
      expect(Object.fromEntries(mine.options)).toEqual(Object.fromEntries(theirs.options));
      expect(Object.fromEntries(mine.positionals)).toEqual(Object.fromEntries(theirs.positionals));
      // and it names the command and shows its examples
      expect(ours.out.split('\n')[0]).toMatch(new RegExp(`^ckpt ${path.join(' ')}\\b`));
      for (const [example] of SPECS[path[0]!]!.subcommands?.find((s) => s.name === path[1])?.examples ?? SPECS[path[0]!]!.examples) expect(ours.out).toContain(example);
    });
  }

  it('reads what it compares (a help missing an option would be caught)', () => {
    const help = ['Options:', '  -o, --output   the file', '                 it writes        [string] [required]', '      --json     as JSON  [boolean] [default: false]', ''].join('\n');
    const { options } = entries(help);
    expect(Object.fromEntries(options)).toEqual({
      '-o --output': { text: 'the file it writes', notes: ['[string]', '[required]'] },
      '--json': { text: 'as JSON', notes: ['[boolean]', '[default: false]'] },
    });
  });
});

describe('--help and --version change nothing', () => {
  let dir: string;
  let root: string;


  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ckpt-help-'));
    root = join(dir, 'state');
    expect((await ckptIn(root, ['run', 'web', 'images/workloads/nested.wl', '--steps', '5'])).code).toBe(0);
    writeFileSync(join(dir, 'marker'), 'x');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for every verb and sub-verb, whatever else the command line says, and touches nothing', { timeout: 60_000 }, async () => {
    const before = stateBytes(dir);
    const out = join(dir, 'out.tar');
    for (const argv of [
      ...PATHS.map((p) => [...p, '--help']),
      ['dump', 'web', '-o', out, '--help'],
      ['rm', 'web', '--force', '--help'],
      ['host', 'rm', 'default', '--help'],
      ['kill', 'web', '--sig', 'STOP', '--help'],
      ['dump', 'web', '-o', out, '--version'],
      ['host', 'create', 'x', '--version'],
    ]) {
      const r = await ckptIn(root, argv);
      expect([argv.join(' '), r.code, r.err]).toEqual([argv.join(' '), 0, '']);
      expect(r.out.length).toBeGreaterThan(0);
    }
    expect(existsSync(out)).toBe(false);
    expect(stateBytes(dir)).toBe(before);
  });

  it('ckpt --help lists the options that may come before a verb, and each is taken there', { timeout: 60_000 }, async () => {
    const { options } = entries((await ckptIn(root, ['--help'])).out);
    const listed = [...options.keys()].filter((k) => !/--(help|version)$/.test(k));
    expect(listed.sort()).toEqual(['--debug', '--host', '--json', '--root', '-q --quiet']);
    for (const key of listed) {
      const flag = key.split(' ').pop()!;
      const before = flag === '--root' ? [flag, root] : flag === '--host' ? [flag, 'default'] : [flag];
      const r = await ckptIn(root, [...before, 'ps']);
      expect([key, r.code, r.err]).toEqual([key, 0, '']);
      expect(r.out).toContain(flag === '--json' ? '"container"' : 'web');
    }
  });

  it('-h is --help after a verb as before it', async () => {
    expect((await ckptIn(root, ['dump', '-h'])).out).toBe((await ckptIn(root, ['dump', '--help'])).out);
  });

  it('a sub-verb\'s help is its own, the parent\'s lists the sub-verbs', async () => {
    const create = (await ckptIn(root, ['host', 'create', '--help'])).out;
    expect(create).toContain('--pid-max');
    const host = (await ckptIn(root, ['host', '--help'])).out;
    for (const s of Object.keys(VERBS.find((v) => v.name === 'host')!.subverbs!)) expect(host).toMatch(new RegExp(`^  ckpt host ${s}\\b`, 'm'));
    expect(host).not.toContain('--pid-max');
    expect((await ckptIn(root, ['host', '--root', root, 'create', '--help'])).out).toBe(create);
  });
});

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));

describe('what a help loads', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ckpt-help-load-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** loadedBy runs the built command line with a module hook that lists every module it resolves. */
  async function loadedBy(argv: readonly string[]): Promise<string[]> {
    const hook = join(dir, 'hook.mjs');
    writeFileSync(hook, 'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write(`LOADED ${r.url}\\n`); return r; }\n');
    const register = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(`file://${hook}`)})`;
    const r = await execa(process.execPath, ['--import', register, BIN, ...argv], { reject: false, env: { CKPT_ROOT: join(dir, 'state') } });
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice('LOADED '.length));
  }

  /** yargs, the verbs' code and the model (kernel/personality.js, the names of the kernel personalities, is a few constants) */
  const heavy = (url: string): boolean => /\/node_modules\/yargs\/|\/cli\/commands\/|\/src\/(store|container|image|program|oci|linux|arch)\/|\/src\/kernel\/(?!personality\.js)/.test(url);

  it.skipIf(!built)('no verb\'s --help loads yargs, a verb\'s code or the model (needs npm run build: skipped without dist/)', { timeout: 120_000 }, async () => {
    // the check itself works: running a verb loads them
    expect((await loadedBy(['host', 'list'])).filter(heavy).length).toBeGreaterThan(0);
    for (const argv of [['--help'], ['--version'], ...PATHS.map((p) => [...p, '--help'])]) {
      expect([argv.join(' '), (await loadedBy(argv)).filter(heavy)]).toEqual([argv.join(' '), []]);
    }
  });
});
