/** Issue 5, crash safety of the commands that change a host's state: run and step, killed at random moments (see kill-trials.ts). */
import { rmSync } from 'node:fs';
import { afterAll, describe, it } from 'vitest';
import { built, crashBed, killTrials, TRIALS_PER_VERB } from './kill-trials.js';

describe.skipIf(!built)('crash safety: SIGKILL during run and step', () => {
  const bed = crashBed();
  afterAll(() => rmSync(bed.dir, { recursive: true, force: true }));

  it(`run: ${TRIALS_PER_VERB} kills, each leaving the state before or after`, () => killTrials(bed, 'run', () => ['run', 'extra', 'images/workloads/nested.wl', '--steps', '30'], 1), 120_000);
  it(`step: ${TRIALS_PER_VERB} kills, each leaving the state before or after`, () => killTrials(bed, 'step', () => ['step', '--all', '--steps', '60'], 2), 120_000);
});
