/**
 * Capability sets are numbers holding bits 0..CAP_LAST_CAP (capability.h).
 * hasCap reads a bit with 32-bit shifts; checked here against BigInt bit
 * arithmetic for every capability, on sets across the whole range.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_CAPS, CAP_LAST_CAP, capsFromWords, capsToWords, hasCap } from '../../src/abi/capabilities.js';

const anySet = fc.bigInt({ min: 0n, max: BigInt(ALL_CAPS) }).map(Number);

describe('capability sets', () => {
  it('hasCap reads bit `cap` of the set, below and above bit 32', () => {
    fc.assert(
      fc.property(anySet, fc.integer({ min: 0, max: CAP_LAST_CAP }), (set, cap) => {
        expect(hasCap(set, cap)).toBe(((BigInt(set) >> BigInt(cap)) & 1n) === 1n);
      }),
      { numRuns: 5000 },
    );
  }, 60_000);

  it('every capability is in ALL_CAPS and none in the empty set', () => {
    for (let cap = 0; cap <= CAP_LAST_CAP; cap++) {
      expect(hasCap(ALL_CAPS, cap)).toBe(true);
      expect(hasCap(0, cap)).toBe(false);
      expect(hasCap(2 ** cap, cap)).toBe(true);
    }
  });

  it('capget\'s two words split and join a set exactly', () => {
    fc.assert(
      fc.property(anySet, (set) => {
        expect(capsFromWords(...capsToWords(set))).toBe(set);
      }),
    );
  }, 60_000);
});
