/** Issue 5, crash safety of dump and restore, killed at random moments (see kill-trials.ts): a dump's output is absent or complete. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { built, crashBed, killTrials, TRIALS_PER_VERB } from './kill-trials.js';

describe.skipIf(!built)('crash safety: SIGKILL during dump and restore', () => {
  const bed = crashBed();
  afterAll(() => rmSync(bed.dir, { recursive: true, force: true }));

  it(`dump: ${TRIALS_PER_VERB} kills, each leaving the state before or after and the image absent or whole`, () => killTrials(bed, 'dump', (root) => ['dump', 'small', '-o', join(root, 'out.tar')], 3), 120_000);
  it(`restore: ${TRIALS_PER_VERB} kills, each leaving the state before or after`, () => killTrials(bed, 'restore', () => ['restore', bed.image, '--name', 'back'], 4), 120_000);
});
