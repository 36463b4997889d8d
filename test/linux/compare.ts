/** One scenario on both sides, and what a hand case expects of the comparison. */
import type { HelperSession } from '../../src/linux/helper.js';
import { comparable, runModel } from './run-model.js';
import { runReal } from './run-real.js';
import { firstDifference, scenarioText, type HandCase, type Scenario } from './scenario.js';

export interface Comparison {
  /** the scenario as run: set_tid arrays cut to the comparable levels */
  scenario: Scenario;
  real: string[];
  model: string[];
  /** index of the first line that differs, -1 if none */
  at: number;
}

export async function compare(h: HelperSession, given: Scenario): Promise<Comparison> {
  const s = comparable(given);
  const real = await runReal(h, s);
  const model = runModel(s);
  return { scenario: s, real, model, at: firstDifference(real, model) };
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
