import { describe, expect, it } from 'vitest';
import { median, targetMet, type Figure } from '../../bench/measure.js';

describe('bench targets', () => {
  const eclone: Figure = { name: 'eclone', value: 499_999, unit: 'calls/s' };
  const pages: Figure = { name: 'pages', value: 400, unit: 'MB/s', baseline: { name: 'cat', value: 800, unit: 'MB/s' } };

  it('judges a value target against the figure itself', () => {
    const target = { atLeast: 500_000, of: 'value', text: '>= 500,000 calls/s' } as const;
    expect(targetMet(eclone, target)).toBe(false);
    expect(targetMet({ ...eclone, value: 500_000 }, target)).toBe(true);
  });

  it('judges a ratio target against the baseline measured in the same run', () => {
    const target = { atLeast: 0.5, of: 'ratio', text: '>= 0.5x cat' } as const;
    expect(targetMet(pages, target)).toBe(true);
    expect(targetMet({ ...pages, value: 399 }, target)).toBe(false);
  });

  it('never calls a ratio target met without a baseline', () => {
    expect(targetMet({ name: 'x', value: 10, unit: 'x' }, { atLeast: 0.5, of: 'ratio', text: '' })).toBe(false);
  });

  it('takes the median of an even count as the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, 1, 3])).toBe(3);
  });
});
