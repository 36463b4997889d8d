/**
 * runFuzz drives the image fuzzer: fast-check generates (seed image,
 * mutation) pairs from a fixed seed, the oracle judges each one, and the
 * tally says what every kind of mutation led to. The test suite runs it with
 * a fixed seed; `npm run fuzz -- --cases N --seed S` runs longer ones.
 */
import fc from 'fast-check';
import { loadSeeds, Targets, verdict } from './fuzz-oracle.js';
import { mutationArb, type Mutation } from './image-mutations.js';

export interface FuzzReport {
  cases: number;
  seed: number;
  /** "kind[/case] -> code or result" → how many times */
  tally: Map<string, number>;
  /** the first failing case, shrunk by fast-check, or null */
  failure: string | null;
}

const label = (m: Mutation): string => (m.kind === 'semantic' ? `semantic/${m.which}` : m.kind === 'cbor-bomb' ? `cbor-bomb/${m.bomb}` : m.kind);

export function runFuzz(root: string, cases: number, seed: number, onCase?: (done: number) => void): FuzzReport {
  const seeds = loadSeeds(root);
  const targets = new Targets(root);
  const tally = new Map<string, number>();
  let done = 0;
  const property = fc.property(fc.nat({ max: seeds.length - 1 }), mutationArb, (s, m) => {
    const { outcome, problem } = verdict(seeds[s]!, m, targets);
    if (problem) throw new Error(`${seeds[s]!.name}: ${problem}`);
    const key = `${label(m)} -> ${outcome.result === 'rejected' ? outcome.code : outcome.result}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    onCase?.(++done);
  });
  const details = fc.check(property, { seed, numRuns: cases });
  const failure = details.failed ? `${fc.defaultReportMessage(details) ?? 'failed'}\n${String((details.errorInstance as Error | undefined)?.message ?? '')}` : null;
  return { cases: details.numRuns, seed, tally, failure };
}
