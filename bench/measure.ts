/** Timing helpers for the benchmarks: wall time of a function, best of a few runs or every run. */

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number; unit: string };
  ratio?: number;
  target?: string;
  /** every run's value, when the figure summarises several (the median of them) */
  runs?: number[];
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
