/**
 * Startup of the command line: `ckpt --help`, `ckpt --version` and every
 * verb's and sub-verb's `--help` load neither yargs nor any verb's code
 * (the help is rendered from the options as data, src/cli/options), so
 * each should cost little more than starting Node itself. Beside them, a
 * verb that does run (`ckpt ps` on a host of one small container): what
 * loading yargs and the verb's code costs on every command. Each is run as
 * a process, interleaved with `node -e 0` (the baseline) so that all see
 * the same load; the median of the runs counts, and each figure's ratio is
 * to the baseline's median in the same run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaSync } from 'execa';
import { VERBS } from '../src/cli/verbs.js';
import { median, type Figure } from './measure.js';

const RUNS = 15;

/** startsPerSecond runs each command `runs` times, interleaved, and returns each one's rates. */
function startsPerSecond(commands: ReadonlyArray<readonly string[]>, runs: number): number[][] {
  const seconds = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    commands.forEach((argv, k) => {
      const t0 = process.hrtime.bigint();
      execaSync(process.execPath, [...argv]);
      seconds[k]!.push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  return seconds.map((s) => s.map((x) => 1 / x));
}

/** helpCommands: every command line whose help the user can ask for, from the table of verbs. */
export function helpCommands(): string[][] {
  return [['--help'], ['--version'], ...VERBS.flatMap((v) => [[v.name, '--help'], ...Object.keys(v.subverbs ?? {}).map((s) => [v.name, s, '--help'])])];
}

export function startupFigures(binPath: string, runs = RUNS): Figure[] {
  const root = mkdtempSync(join(tmpdir(), 'ckpt-bench-startup-'));
  try {
    const workload = join(root, 'idle.wl');
    writeFileSync(workload, 'program main\n  sleep 100000000\nend\n');
    execaSync(process.execPath, [binPath, 'run', 'c', workload, '--root', root]);
    const ps = ['ps', '--root', root];
    const commands = [...helpCommands(), ps];
    const [node, ...rates] = startsPerSecond([['-e', '0'], ...commands.map((c) => [binPath, ...c])], runs);
    const baseline = { name: 'node -e 0', value: median(node!), unit: 'starts/s' };
    const target = { atLeast: 0.5, of: 'ratio' as const, text: 'within 2x of node -e 0' };
    return commands.map((c, k) => ({
      name: c === ps ? 'ckpt ps, a host of one small container (a verb that runs: yargs and its code loaded)' : `ckpt ${c.join(' ')}`,
      value: median(rates[k]!),
      unit: 'starts/s',
      runs: rates[k]!,
      baseline,
      ...(c === ps ? {} : { target }),
    }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
