/**
 * The differential suite's scenario throughput: the same generated scenarios
 * (test/linux/generate.ts, fixed seed) run on a mainline model host and on the
 * real kernel through the C helper, each in a fresh pid namespace. The ratio
 * says how much faster the model answers a scenario than Linux does, agents,
 * channels and settling included (that is what a real scenario costs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { HelperSession, probeLinux } from '../src/linux/helper.js';
import { scenarioArb } from '../test/linux/generate.js';
import { comparable, runModel } from '../test/linux/run-model.js';
import { runReal } from '../test/linux/run-real.js';
import type { Figure } from './measure.js';

export async function differentialFigure(count = 300): Promise<Figure | null> {
  const support = await probeLinux();
  if (!support.ok) {
    console.log(`differential scenarios: skipped, ${support.reason}`);
    return null;
  }
  const scenarios = fc.sample(scenarioArb(), { seed: 18, numRuns: count }).map(comparable);
  const t0 = process.hrtime.bigint();
  for (const s of scenarios) runModel(s);
  const model = Number(process.hrtime.bigint() - t0) / 1e9;
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-bench-diff-'));
  const h = HelperSession.start(dir);
  let real: number;
  try {
    const t1 = process.hrtime.bigint();
    for (const s of scenarios) await runReal(h, s);
    real = Number(process.hrtime.bigint() - t1) / 1e9;
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const steps = scenarios.reduce((n, s) => n + s.steps.length, 0);
  return {
    name: `differential scenarios (${count}, ${steps} steps), mainline model`,
    value: count / model,
    unit: 'scenarios/s',
    baseline: { name: 'same scenarios on Linux through the helper', value: count / real, unit: 'scenarios/s' },
  };
}
