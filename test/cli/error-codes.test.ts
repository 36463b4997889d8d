/**
 * One table of error codes and exit statuses (src/cli/error-codes.ts): the
 * README's table says the same, every CKPT_ code anywhere in src/ is in it,
 * and the exit status of an error follows from its code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, EXIT, exitStatusOf } from '../../src/cli/error-codes.js';
import { Interrupted } from '../../src/cli/interrupts.js';
import { CliError, UsageError } from '../../src/cli/usage-error.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('the table of error codes', () => {
  it("is the README's table, code for code and exit for exit", () => {
    const readme = readFileSync('README.md', 'utf8');
    const rows = [...readme.matchAll(/^\| `(CKPT_\w+)` \| ([\d, ]+) \| (.+) \|$/gm)].map((m) => [m[1], m[2]] as const);
    const expected = Object.entries(ERROR_CODES).map(([code, { exit }]) => [code, code === 'CKPT_INTERRUPTED' ? `${EXIT.SIGINT}, ${EXIT.SIGTERM}` : String(exit)] as const);
    expect(rows).toEqual(expected);
  });

  it('holds every code the sources use', () => {
    const used = new Set<string>();
    for (const file of files('src')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?<!env\[)'(CKPT_[A-Z_]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(25);
    expect([...used].filter((c) => !(c in ERROR_CODES)).sort()).toEqual([]);
  });

  it('decides the exit status of an error by its code', () => {
    expect(exitStatusOf(new UsageError('x'))).toBe(2);
    expect(exitStatusOf(new CliError('CKPT_BAD_NAME', 'x'))).toBe(2);
    expect(exitStatusOf(new CliError('CKPT_NO_CONTAINER', 'x'))).toBe(1);
    expect(exitStatusOf(new Interrupted('SIGINT', 'x'))).toBe(130);
    expect(exitStatusOf(new Interrupted('SIGTERM', 'x'))).toBe(143);
    expect(exitStatusOf(new TypeError('bug'))).toBe(70);
  });
});
