/** The command line in-process: run(argv) with captured output. */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';

async function ckpt(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('ckpt demo', () => {
  it('shows identical pids at every level on four architectures and both interfaces', async () => {
    const r = await ckpt('demo');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/nested init\s+1001\/100\/1\s+1001\/100\/1\s+1001\/100\/1\s+1001\/100\/1\s+1001\/100\/1/);
    expect(r.out).toContain('eclone reports EBUSY, clone3 reports EEXIST; host unchanged');
  });

  it('--json gives data a script can use', async () => {
    const r = await ckpt('demo', '--json');
    expect(r.code).toBe(0);
    const data = JSON.parse(r.out);
    expect(data.identical).toBe(true);
    expect(data.eclone.ppc64[2]).toEqual({ role: 'worker a', nspids: [2000, 200, 10] });
    expect(data.collision).toEqual({ eclone: 'EBUSY', clone3: 'EEXIST', unchanged: true });
  });

  it('--help teaches with an example', async () => {
    const r = await ckpt('demo', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ckpt demo --json');
  });
});

describe('bad usage', () => {
  it('an unknown command is one clear line and exit 2, with no stack trace', async () => {
    const r = await ckpt('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe('ckpt: Unknown argument: frobnicate');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('no command at all is exit 2 with a hint', async () => {
    const r = await ckpt();
    expect(r.code).toBe(2);
    expect(r.err).toContain('try: ckpt demo');
  });
});
