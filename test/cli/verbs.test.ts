/** Every container and host verb, in-process, against a temporary state directory. */
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { machineArch } from '../../src/linux/linux-facts.js';
import { run } from '../../src/cli/main.js';
import { ckptIn } from './run-ckpt.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ckpt-test-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const ckpt = (...argv: string[]) => ckptIn(root, argv);
const NESTED = 'images/workloads/nested.wl';

describe('host verbs', () => {
  it('create, list, show and rm', async () => {
    expect((await ckpt('host', 'create', 'z', '--arch', 's390x', '--pid-max', '4194304')).out).toBe('created host z (s390x, kernel mainline, pid_max 4194304)');
    expect((await ckpt('host', 'create', 'p', '--arch', 'powerpc', '--kernel', '2.6.32')).out).toBe('created host p (ppc, kernel 2.6.32, pid_max 32768)');
    const list = JSON.parse((await ckpt('host', 'list', '--json')).out);
    // the machine itself (--host linux) is always listed, last, saying whether real containers can run here
    expect(list.map((h: { name: string; arch: string; kernel: string }) => [h.name, h.arch, h.kernel])).toEqual([
      ['p', 'ppc', '2.6.32'],
      ['z', 's390x', 'mainline'],
      ['linux', machineArch() ?? 'x86_64', 'mainline'],
    ]);
    expect(typeof list[2].real.available).toBe('boolean');
    expect((await ckpt('host', 'list')).out.split('\n')[1]).toMatch(/^p +ppc +2\.6\.32 +32768 /);
    expect((await ckpt('host', 'show', 'z')).out).toBe('host z: s390x, kernel mainline, pid_max 4194304, clock 0, 1 task');
    expect((await ckpt('host', 'show', 'p', '--json')).out).toContain('"kernel":"2.6.32"');
    expect((await ckpt('host', 'rm', 'z')).code).toBe(0);
    expect((await ckpt('host', 'list')).out).toContain('p ');
    expect((await ckpt('host', 'list')).out).not.toContain('z ');
  });

  it('refuses bad input with one line and a non-zero exit', async () => {
    const cases: Array<[string[], number, string]> = [
      [['host', 'create', 'x', '--arch', 'sparc'], 2, 'ckpt: unknown architecture "sparc": expected one of i386, x86_64, s390, s390x, ppc, ppc64 (or x86, powerpc)'],
      [['host', 'create', 'x', '--arch', 'i386', '--pid-max', '4194304'], 2, 'ckpt: --pid-max 4194304 is outside 301..32768 for i386'],
      [['host', 'create', 'x', '--arch', 'i386', '--kernel', '3.0'], 2, 'ckpt: --kernel 3.0 is not one of mainline, 2.6.32'],
      [['host', 'create', '../evil', '--arch', 'i386'], 2, 'ckpt: bad host name "../evil": use letters, digits, \'.\', \'_\' and \'-\' (at most 64, not starting with \'.\' or \'-\') [CKPT_BAD_NAME]'],
      [['host', 'show', 'ghost'], 1, `ckpt: no host named ghost (looked for ${join(root, 'hosts', 'ghost.host')}); create it with: ckpt host create ghost --arch x86_64 [CKPT_HOST_MISSING]`],
      [['host', 'rm', 'ghost'], 1, 'ckpt: no host named ghost [CKPT_HOST_MISSING]'],
    ];
    for (const [argv, code, line] of cases) {
      const r = await ckpt(...argv);
      expect([argv.join(' '), r.code, r.err.split('\n')[0]]).toEqual([argv.join(' '), code, line]);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    await ckpt('host', 'create', 'dup', '--arch', 'i386');
    expect((await ckpt('host', 'create', 'dup', '--arch', 'i386')).err).toBe(`ckpt: host dup already exists (${join(root, 'hosts', 'dup.host')}) [CKPT_HOST_EXISTS]`);
  });

  it('names a truncated host file and leaves it alone', async () => {
    await ckpt('run', 'c', NESTED, '--steps', '10');
    const file = join(root, 'hosts', 'default.host');
    truncateSync(file, 100);
    const r = await ckpt('ps');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^ckpt: host file ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is unreadable \\(.*\\); it was left as it is \\[CKPT_HOST_CORRUPT\\]$`));
    expect(readFileSync(file).length).toBe(100);
  });
});

describe('container verbs', () => {
  it('run, ps, step, logs, kill and rm on the default host', async () => {
    const started = await ckpt('run', 'web', NESTED, '--json');
    expect(JSON.parse(started.out)).toEqual({ container: 'web', host: 'default', initPid: 2, steps: 0 });
    expect((await ckpt('step', 'web', '--steps', '40')).out).toMatch(/^ran 40 steps; clock is 40$/);
    const ps = JSON.parse((await ckpt('ps', 'web', '--json')).out);
    expect(ps[0]).toEqual({ container: 'web', nspids: [2, 1], tgid: 2, ppid: 1, pgid: 1, sid: 1, threads: 1, thread: false, state: 'runnable', abi: 'x86_64', command: 'nested.wl:main', wait: null, comm: 'main' });
    expect(ps.some((r: { nspids: number[] }) => r.nspids.length === 4)).toBe(true);
    const table = (await ckpt('ps')).out.split('\n');
    expect(table[0]).toMatch(/^CONTAINER\s+NSPID\s+PPID\s+PGID\s+SID\s+THR\s+ABI\s+S\s+WAIT\s+COMMAND$/);
    expect(table[1]).toMatch(/^web\s+2\/1\s+1\s+1\s+1\s+1\s+x86_64\s+R\s+-\s+nested\.wl:main$/);
    expect((await ckpt('step', '--all', '--until-idle')).code).toBe(0);
    const logs = await ckpt('logs', 'web');
    expect(logs.out.split('\n')[0]).toBe('L1 init: pid 1 ppid 0');
    expect(logs.out).toContain('L1 init: no children left');
    expect((await ckpt('rm', 'web')).out).toBe('removed container web');
    expect((await ckpt('logs', 'web')).err).toBe('ckpt: no container web on host default [CKPT_NO_CONTAINER]');
  });

  it('kill and rm --force', async () => {
    await ckpt('run', 'p', 'images/workloads/pidcache.wl', '--steps', '20');
    expect((await ckpt('kill', 'p', '--signal', 'STOP')).out).toBe('sent signal 19 to p; its init is stopped');
    // the hint acts on the same state directory, given here with --root (mkdtemp names need no quoting)
    expect((await ckpt('rm', 'p')).err).toBe(`ckpt: container p is still running: stop it with ckpt kill p --root ${root}, or use --force [CKPT_CONTAINER_RUNNING]`);
    // from $CKPT_ROOT, which the next command sees too, it adds nothing
    const saved = process.env['CKPT_ROOT'];
    process.env['CKPT_ROOT'] = root;
    try {
      const err: string[] = [];
      expect(await run(['rm', 'p'], { out: () => undefined, err: (l) => err.push(l) })).toBe(1);
      expect(err).toEqual(['ckpt: container p is still running: stop it with ckpt kill p, or use --force [CKPT_CONTAINER_RUNNING]']);
    } finally {
      if (saved === undefined) delete process.env['CKPT_ROOT'];
      else process.env['CKPT_ROOT'] = saved;
    }
    expect((await ckpt('kill', 'p', '--signal', 'BOGUS')).err).toBe('ckpt: unknown signal "BOGUS": use a number 1..64 or one of KILL, TERM, STOP, CONT, INT, HUP\nTry: ckpt kill --help');
    expect((await ckpt('rm', 'p', '--force')).code).toBe(0);
    const host = JSON.parse((await ckpt('host', 'show', 'default', '--json')).out);
    expect(host.tasks).toBe(1);
  });

  it('reports workload problems precisely', async () => {
    expect((await ckpt('run', 'x', 'no/such/file.wl')).err).toBe('ckpt: cannot read workload no/such/file.wl: ENOENT [CKPT_READ_FAILED]');
    const bad = join(root, 'bad.wl');
    (await import('node:fs')).writeFileSync(bad, 'program main\n  kill(1)\nend\n');
    const r = await ckpt('run', 'x', bad);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`ckpt: ${bad}:2:3: expected 2 arguments for kill, found 1 [CKPT_PARSE_ERROR]`);
    expect((await ckpt('step')).err.split('\n')[0]).toBe('ckpt: name a container or give --all');
  });
});
