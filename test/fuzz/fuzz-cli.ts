/**
 * npm run fuzz -- --cases N --seed S: a longer run of the hostile-image
 * fuzzer than the test suite's; prints the tally and exits 1 on a failure.
 */
import { parseArgs } from 'node:util';
import { repoRoot } from '../fixtures/make-golden-images.js';
import { runFuzz } from './fuzz-run.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: String(Date.now() % 2 ** 31) } } });
const cases = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isSafeInteger(cases) || cases < 1 || !Number.isSafeInteger(seed)) {
  process.stderr.write('usage: npm run fuzz -- [--cases N] [--seed S]\n');
  process.exit(2);
}
process.stdout.write(`fuzzing ${cases} hostile images, seed ${seed}\n`);
const started = Date.now();
const report = runFuzz(repoRoot(), cases, seed, (done) => {
  if (done % 1000 === 0) process.stdout.write(`  ${done} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
});
for (const [key, n] of [...report.tally].sort()) process.stdout.write(`${String(n).padStart(8)}  ${key}\n`);
if (report.failure) {
  process.stdout.write(`FAILED (replay with --seed ${seed}):\n${report.failure}\n`);
  process.exit(1);
}
process.stdout.write(`${report.cases} cases, no crash, every hostile image refused with a code (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
