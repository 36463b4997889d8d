/**
 * progressBar shows a bar on a terminal for work over many tasks (cli-progress);
 * off a terminal, in --json mode or for small work it shows nothing.
 */
import { SingleBar, Presets } from 'cli-progress';

/** PROGRESS_THRESHOLD: below this many tasks the work is too quick to need a bar. */
const PROGRESS_THRESHOLD = 2000;

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(label: string, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  let bar: SingleBar | null = null;
  return {
    update(done, total) {
      if (total < PROGRESS_THRESHOLD) return;
      if (!bar) {
        bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} tasks`, stream: process.stderr, hideCursor: true, synchronousUpdate: true }, Presets.shades_classic);
        bar.start(total, 0);
      }
      bar.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
