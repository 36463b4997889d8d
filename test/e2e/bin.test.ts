/** The installed binary, spawned as a user would. Needs the build (npm test runs it first). */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));

describe.skipIf(!built)('bin/ckpt', () => {
  it('runs the demo and exits 0', async () => {
    const r = await execa('node', [BIN, 'demo', '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).identical).toBe(true);
  });

  it('exits 2 on bad usage with one line on stderr', async () => {
    const r = await execa('node', [BIN, 'nope'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('ckpt: Unknown argument: nope');
  });
});

it('the build exists when the suite runs (npm test builds first)', () => {
  expect(built, 'dist/ is missing: run npm run build (npm test does it)').toBe(true);
});
