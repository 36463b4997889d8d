/** One scenario on both sides, and what a hand case expects of the comparison. */
import type { HelperSession } from '../../src/linux/helper.js';
import { comparable, runModel } from './run-model.js';
import { runReal } from './run-real.js';
import { firstDifference, modelOnly, scenarioText, type HandCase, type Scenario } from './scenario.js';

export interface Comparison {
  /** why the scenario was not run on the machine (an op Linux does not have), if it was not */
  skipped?: string;
  /** the scenario as run: set_tid arrays cut to the comparable levels */
  scenario: Scenario;
  real: string[];
  model: string[];
  /** index of the first line that differs, -1 if none */
  at: number;
}

export async function compare(h: HelperSession, given: Scenario): Promise<Comparison> {
  const s = comparable(given);
  const model = runModel(s);
  const skipped = modelOnly(s);
  if (skipped) return { scenario: s, skipped, real: [], model: model.lines, at: -1 };
  const real = inOrder(await runReal(h, s), model.orderFree);
  const lines = inOrder(model.lines, model.orderFree);
  return { scenario: s, real, model: lines, at: firstDifference(real, lines) };
}

/**
 * inOrder sorts the results within each run of steps whose order Linux does
 * not fix (run-model.ts RaceLog), keeping each line's step prefix: only the
 * set of results is compared there.
 */
export function inOrder(lines: readonly string[], runs: ReadonlyArray<[number, number]>): string[] {
  const out = [...lines];
  for (const [a, b] of runs) {
    const heads = out.slice(a, b + 1).map((l) => l.slice(0, l.indexOf(': ') + 2));
    const results = out.slice(a, b + 1).map((l) => l.slice(l.indexOf(': ') + 2)).sort();
    results.forEach((r, k) => (out[a + k] = `${heads[k]}${r} (order not fixed by Linux)`));
  }
  return out;
}

/** report prints a scenario and both outputs side by side, the first difference marked. */
export function report(c: Comparison): string {
  const n = Math.max(c.real.length, c.model.length);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const mark = c.real[i] === c.model[i] ? ' ' : '!';
    rows.push(`${mark} linux: ${c.real[i] ?? '(none)'}`);
    if (mark === '!') rows.push(`${mark} model: ${c.model[i] ?? '(none)'}`);
  }
  return `${scenarioText(c.scenario)}\n${rows.join('\n')}`;
}

/** verdict says whether a hand case came out as it expects; null if it did, else why not. */
export function verdict(hc: HandCase, c: Comparison): string | null {
  const e = hc.expect;
  if (e.kind === 'agree') return c.at < 0 ? null : `differs at line ${c.at}`;
  if (e.kind === 'expectedToDiffer') return c.at >= 0 ? null : `class ${e.issueClass} is marked expectedToDiffer but now agrees: drop the mark`;
  const line = c.model[e.step] ?? '';
  if (!/^\d+ t\d+: ret=-1 E[A-Z0-9]+/.test(line)) return `the model should refuse step ${e.step}, but printed: ${line}`;
  if (!/^\d+ t\d+: ret=\d+/.test(c.real[e.step] ?? '')) return `linux should accept step ${e.step}, but printed: ${c.real[e.step]}`;
  return null;
}
