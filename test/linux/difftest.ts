/**
 * npm run difftest -- --cases N --seed S: the differential suite at any size.
 * Runs every hand case and N generated scenarios on the machine and on a
 * mainline model host; on a disagreement prints the shrunk scenario and both
 * outputs, and exits 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { compare, report, verdict } from './compare.js';
import { findDisagreement } from './generate.js';
import { HAND_CASES } from './hand-cases.js';

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .option('cases', { type: 'number', default: 1000, describe: 'generated scenarios to run' })
    .option('seed', { type: 'number', default: 18, describe: 'fast-check seed' })
    .option('hand', { type: 'boolean', default: true, describe: 'run the hand cases too' })
    .option('userns', { type: 'boolean', default: true, describe: 'generate ops that make or enter user namespaces (--no-userns to explore past a known disagreement)' })
    .option('pid-max', { type: 'boolean', default: true, describe: 'generate reads and writes of pid_max (--no-pid-max to explore past a known disagreement)' })
    .strict()
    .parse();
  const support = await probeLinux();
  if (!support.ok) {
    console.log(`difftest: skipped: ${support.reason}`);
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-difftest-'));
  const h = HelperSession.start(dir);
  let failed = 0;
  try {
    if (argv.hand) {
      for (const hc of HAND_CASES) {
        const c = await compare(h, hc.scenario);
        const why = verdict(hc, c);
        console.log(`${why ? 'FAIL' : 'ok  '} class ${String(hc.issueClass).padStart(2)}: ${hc.name}${why ? `: ${why}` : ''}`);
        if (why) {
          failed++;
          console.log(report(c));
        }
      }
    }
    const t0 = process.hrtime.bigint();
    const found = await findDisagreement(h, argv.cases, argv.seed, { userns: argv.userns, pidMax: argv.pidMax });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (found) {
      failed++;
      console.log(`generated: disagreement after ${found.runs} scenarios (seed ${argv.seed}); shrunk:`);
      console.log(report(found.comparison));
    } else {
      console.log(`generated: ${argv.cases} scenarios (seed ${argv.seed}) agree, ${seconds.toFixed(1)} s`);
    }
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code));
