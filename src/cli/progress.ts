/**
 * progressBar shows a bar on a terminal for long work (cli-progress): over
 * many tasks, or many bytes; off a terminal, on one that cannot move its
 * cursor (TERM=dumb), with --quiet or --json, or for small work it shows
 * nothing.
 */
import { SingleBar, Presets } from 'cli-progress';

/** What a bar counts, shown in `unit`s of `scale`; below `threshold` the work is too quick to need a bar. */
export interface BarUnit {
  unit: string;
  scale: number;
  threshold: number;
}

export const TASKS: BarUnit = { unit: 'tasks', scale: 1, threshold: 2000 };
export const BYTES: BarUnit = { unit: 'MiB', scale: 1024 * 1024, threshold: 64 * 1024 * 1024 };

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(label: string, enabled: boolean, counts: BarUnit = TASKS): Progress {
  if (!enabled || !terminalTakesProgress()) return { update: () => undefined, stop: () => undefined };
  let bar: SingleBar | null = null;
  return {
    update(done, total) {
      if (total < counts.threshold) return;
      if (!bar) {
        bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} ${counts.unit}`, stream: process.stderr, hideCursor: true, synchronousUpdate: true }, Presets.shades_classic);
        bar.start(Math.round(total / counts.scale), 0);
      }
      bar.update(Math.round(done / counts.scale));
    },
    stop() {
      bar?.stop();
    },
  };
}

/** terminalTakesProgress: stderr is a terminal that can redraw a line. */
export function terminalTakesProgress(env: NodeJS.ProcessEnv = process.env, stderr: { isTTY?: boolean } = process.stderr): boolean {
  return stderr.isTTY === true && env['TERM'] !== 'dumb';
}
