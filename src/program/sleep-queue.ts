/**
 * SleepQueue holds tasks asleep in nanosleep by the tick they wake at: a
 * binary min-heap, so the scheduler finds the next wake-up and takes the due
 * sleepers in O(log n) each, and never looks at a sleeper before its tick.
 */
import type { Task } from '../kernel/task.js';

/** one sleeper: the task and the tick it was queued to wake at */
export interface Sleeper {
  readonly task: Task;
  readonly until: number;
}

export class SleepQueue {
  private readonly heap: Sleeper[] = [];

  /** peek is the sleeper that wakes first, or undefined. */
  peek(): Sleeper | undefined {
    return this.heap[0];
  }

  push(task: Task, until: number): void {
    const heap = this.heap;
    heap.push({ task, until });
    let i = heap.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (heap[up]!.until <= heap[i]!.until) break;
      [heap[up], heap[i]] = [heap[i]!, heap[up]!];
      i = up;
    }
  }

  /** pop takes the sleeper that wakes first. */
  pop(): Sleeper | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let least = i;
        if (l < heap.length && heap[l]!.until < heap[least]!.until) least = l;
        if (r < heap.length && heap[r]!.until < heap[least]!.until) least = r;
        if (least === i) break;
        [heap[least], heap[i]] = [heap[i]!, heap[least]!];
        i = least;
      }
    }
    return top;
  }
}
