/**
 * Startup of the command line: `ckpt --help` and `ckpt --version` load no
 * verb's code, so they should cost little more than starting Node itself.
 * Each is run as a process, interleaved with `node -e 0` (the baseline) so
 * that both see the same load; the median of the runs counts.
 */
import { execaSync } from 'execa';
import { median, type Figure } from './measure.js';

const RUNS = 15;

/** startsPerSecond runs each command `RUNS` times, interleaved, and returns each one's median rate. */
function startsPerSecond(commands: ReadonlyArray<readonly string[]>): number[][] {
  const seconds = commands.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) {
    commands.forEach((argv, k) => {
      const t0 = process.hrtime.bigint();
      execaSync(process.execPath, [...argv]);
      seconds[k]!.push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  return seconds.map((s) => s.map((x) => 1 / x));
}

export function startupFigures(binPath: string): Figure[] {
  const [node, help, version, verbHelp] = startsPerSecond([['-e', '0'], [binPath, '--help'], [binPath, '--version'], [binPath, 'dump', '--help']]);
  const baseline = { name: 'node -e 0', value: median(node!), unit: 'starts/s' };
  const target = { atLeast: 0.5, of: 'ratio' as const, text: 'within 2x of node -e 0' };
  return [
    { name: 'ckpt --help', value: median(help!), unit: 'starts/s', runs: help!, baseline, target },
    { name: 'ckpt --version', value: median(version!), unit: 'starts/s', runs: version!, baseline, target },
    { name: 'ckpt dump --help (loads yargs and that verb)', value: median(verbHelp!), unit: 'starts/s', runs: verbHelp!, baseline },
  ];
}
