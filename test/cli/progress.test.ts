/** Progress bars only on a terminal that can redraw a line. */
import { describe, expect, it } from 'vitest';
import { terminalTakesProgress } from '../../src/cli/progress.js';

describe('progress output', () => {
  it('is shown on a terminal, not on a dumb one, not off a terminal', () => {
    expect(terminalTakesProgress({ TERM: 'xterm-256color' }, { isTTY: true })).toBe(true);
    expect(terminalTakesProgress({ TERM: 'dumb' }, { isTTY: true })).toBe(false);
    expect(terminalTakesProgress({ TERM: 'xterm' }, { isTTY: false })).toBe(false);
    expect(terminalTakesProgress({ TERM: 'xterm' }, {})).toBe(false);
  });
});
