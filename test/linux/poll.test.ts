/** Waiting for /proc to catch up: both forms ask again until the condition holds, and give up when the time is up. */
import { describe, expect, it } from 'vitest';
import { until, waitUntil } from '../../src/linux/poll.js';

describe('polling', () => {
  it('waitUntil asks again until the condition holds, and says false once the time is up', () => {
    let asked = 0;
    expect(waitUntil(() => ++asked === 4, 10_000)).toBe(true);
    expect(asked).toBe(4);
    const start = Date.now();
    expect(waitUntil(() => false, 30)).toBe(false);
    expect(Date.now() - start).toBeGreaterThanOrEqual(30);
  });

  it('until does the same with the event loop free between tries', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      expect(await until(() => ticks >= 3, 10_000)).toBe(true);
      expect(await until(() => false, 30)).toBe(false);
    } finally {
      clearInterval(timer);
    }
  });
});
