/**
 * Issue 5, hostile images: a fixed-seed run of the mutation fuzzer (10,000
 * cases) and two exhaustive sweeps, truncation at every length and a bit
 * flip in every byte of a golden image. Every hostile image must be refused
 * with an ImageError or RestoreError carrying a stable code before the
 * target host changes; an image accepted must restore and run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { untar } from '../../src/image/archive.js';
import { ImageError } from '../../src/image/format.js';
import { decodeImage } from '../../src/image/image-codec.js';
import { runFuzz } from './fuzz-run.js';
import { CBOR_BOMBS, SEMANTIC_CASES } from './image-mutations.js';

const FUZZ_CASES = 10_000;
const FUZZ_SEED = 20261123;

function codeOf(bytes: Uint8Array): string {
  try {
    decodeImage(untar(bytes));
    return 'accepted';
  } catch (e) {
    if (e instanceof ImageError) return e.code;
    return `crash: ${(e as Error).stack}`;
  }
}

describe('hostile images', () => {
  it(`${FUZZ_CASES} fixed-seed mutations of the golden images: no crash, every hostile one refused with a code, the target unchanged`, () => {
    const report = runFuzz(process.cwd(), FUZZ_CASES, FUZZ_SEED);
    expect(report.failure).toBeNull();
    expect(report.cases).toBe(FUZZ_CASES);
    // every kind of mutation was tried, so a kind cannot silently drop out of the generator
    const kinds = new Set([...report.tally.keys()].map((k) => k.split(' -> ')[0]!));
    for (const kind of ['flip', 'truncate', 'reorder', 'duplicate', 'drop', 'extra-entry', 'header-type', 'header-path', 'header-size', 'trailing', 'wrong-type', 'unsealed', 'random-value']) expect(kinds).toContain(kind);
    for (const c of SEMANTIC_CASES) expect(kinds).toContain(`semantic/${c}`);
    for (const b of CBOR_BOMBS) expect(kinds).toContain(`cbor-bomb/${b}`);
  }, 120_000);

  const golden = new Uint8Array(readFileSync('images/golden/i386-nested.tar'));

  it('truncated at every length, an image is refused as truncated (cut to nothing: not an image)', () => {
    const codes = new Map<string, number>();
    for (let n = 0; n < golden.length; n++) {
      const code = codeOf(golden.subarray(0, n));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes).toEqual(new Map([['CKPT_NOT_AN_IMAGE', 1], ['CKPT_TRUNCATED', golden.length - 1]]));
  }, 60_000);

  it('with any one bit flipped, an image is refused: every byte is covered by a checksum or must be zero', () => {
    const codes = new Map<string, number>();
    const copy = golden.slice();
    for (let at = 0; at < copy.length; at++) {
      const bit = 1 << (at % 8);
      copy[at]! ^= bit;
      const code = codeOf(copy);
      copy[at]! ^= bit;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes.get('accepted')).toBeUndefined();
    expect([...codes.keys()].filter((c) => !c.startsWith('CKPT_'))).toEqual([]);
  }, 60_000);
});
