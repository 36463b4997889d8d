/** Timing helpers for the benchmarks: wall time of a function, best of a few runs or every run. */

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number; unit: string };
  ratio?: number;
  /** what the issue asks of the figure: at least `atLeast` (at most `atMost`) of its value, or of its ratio to the baseline */
  target?: Target;
  /** whether this run met the target (set when the figure is recorded) */
  met?: boolean;
  /** every run's value, when the figure summarises several (the median of them) */
  runs?: number[];
}

export interface Target {
  /** the least the value (or ratio) may be; or, for a time or a size, atMost: the most */
  atLeast?: number;
  atMost?: number;
  of: 'value' | 'ratio';
  /** the target as the issue states it, e.g. ">= 500,000 calls/s" */
  text: string;
}

/** targetMet reports whether `f`'s value, or its ratio to its baseline, reaches its target. */
export function targetMet(f: Figure, target: Target): boolean {
  const measured = target.of === 'value' ? f.value : f.baseline ? f.value / f.baseline.value : NaN;
  return (target.atLeast === undefined || measured >= target.atLeast) && (target.atMost === undefined || measured <= target.atMost);
}

/** time returns the seconds `fn` takes, the best of `runs`. */
export function time(fn: () => void, runs = 3): number {
  return Math.min(...timeEach(fn, runs));
}

/** timeEach returns the seconds each of `runs` calls of `fn` takes, in order. */
export function timeEach(fn: () => void, runs: number): number[] {
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return seconds;
}

/** median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** timeAsync is time for work that waits on I/O. */
export async function timeAsync(fn: () => Promise<void>, runs = 3): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < best) best = s;
  }
  return best;
}
