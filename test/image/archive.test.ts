/**
 * Image format v1: golden images restore and re-encode byte for byte;
 * broken images are refused with a stable code before anything changes.
 */
import { readFileSync } from 'node:fs';
import { decode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { tarBytes, untar } from '../../src/image/archive.js';
import { dumpContainer } from '../../src/image/dump.js';
import { ImageError } from '../../src/image/format.js';
import { decodeImage, encodeImage } from '../../src/image/image-codec.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { GOLDEN_ARCHES, goldenImage } from '../fixtures/make-golden-images.js';

const golden = (arch: string) => new Uint8Array(readFileSync(`images/golden/${arch}-nested.tar`));

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ImageError) return e.code;
    throw e;
  }
  return 'accepted';
}

describe.each(GOLDEN_ARCHES)('golden image %s', (arch) => {
  it('decodes and re-encodes to the same bytes', () => {
    const bytes = golden(arch);
    const img = decodeImage(untar(bytes));
    expect(tarBytes(encodeImage(img, { embedPrograms: true }))).toEqual(bytes);
  });

  it('is what the committed generator makes', () => {
    expect(goldenImage(process.cwd(), arch)).toEqual(golden(arch));
  });

  it('restores, with identical pids at every container level, and runs to completion', () => {
    const img = decodeImage(untar(golden(arch)));
    // the golden images predate personalities: they are 2.6.32 images
    const { machine, container } = restoreAtomically(Machine.create('t', arch, undefined, '2.6.32'), img);
    expect(machine.tasksOf(container).map((t) => t.nspids.slice(1)).sort()).toEqual(img.tasks.map((t) => t.numbers).sort());
    machine.scheduler.runUntilIdle(10_000);
    expect(container.console.text).toContain('L1 init: no children left\n');
  });
});

describe('broken images are refused with a stable code', () => {
  const base = () => [...untar(golden('x86_64')).entries()];
  const rebuild = (entries: Array<[string, Uint8Array]>) => tarBytes(entries);
  const cases: Array<[string, () => Uint8Array, string]> = [
    ['a flipped byte in tasks.cbor', () => rebuild(base().map(([n, b]) => [n, n === 'tasks.cbor' ? b.map((x, i) => (i === 40 ? x ^ 1 : x)) : b])), 'CKPT_BAD_CHECKSUM'],
    ['an entry missing', () => rebuild(base().filter(([n]) => n !== 'memory.cbor')), 'CKPT_BAD_ARCHIVE'],
    ['an unexpected entry', () => rebuild([...base(), ['../evil', new Uint8Array(3)]]), 'CKPT_BAD_ARCHIVE'],
    ['an entry twice', () => rebuild([...base(), base()[1]!]), 'CKPT_BAD_ARCHIVE'],
    ['the manifest not first', () => rebuild(base().reverse()), 'CKPT_BAD_ARCHIVE'],
    ['truncated', () => golden('x86_64').slice(0, 1000), 'CKPT_BAD_ARCHIVE'],
    ['not an image at all', () => rebuild([['manifest.cbor', new Uint8Array([0xa1, 0x61, 0x78, 0x01])]]), 'CKPT_NOT_AN_IMAGE'],
  ];
  for (const [what, make, code] of cases) it(what, () => expect(codeOf(() => decodeImage(untar(make())))).toBe(code));

  it('a program referred to by path that the target does not have', () => {
    const m = Machine.create('s', 'ppc');
    const c = m.run('c', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
    const entries = untar(tarBytes(encodeImage(dumpContainer(m, c))));
    expect(codeOf(() => decodeImage(entries))).toBe('CKPT_MISSING_PROGRAM');
    expect(codeOf(() => decodeImage(entries, () => 'program main\nend\n'))).toBe('CKPT_MISSING_PROGRAM');
    expect(codeOf(() => decodeImage(entries, () => readFileSync('images/workloads/nested.wl', 'utf8')))).toBe('accepted');
  });
});

describe('the kernel personality in the manifest', () => {
  const nested = readFileSync('images/workloads/nested.wl', 'utf8');
  const dumped = (kernel: 'mainline' | '2.6.32') => {
    const m = Machine.create('s', 'x86_64', undefined, kernel);
    const c = m.run('c', 'images/workloads/nested.wl', nested);
    m.scheduler.run(30);
    return dumpContainer(m, c);
  };
  const manifestOf = (img: ReturnType<typeof dumped>) => decode(untar(tarBytes(encodeImage(img, { embedPrograms: true }))).get('manifest.cbor')!) as Record<string, unknown>;

  it('a mainline host\'s image says mainline; a 2.6.32 host\'s leaves it out, as images written before personalities do', () => {
    expect(manifestOf(dumped('mainline')).kernel).toBe('mainline');
    expect('kernel' in manifestOf(dumped('2.6.32'))).toBe(false);
    const back = decodeImage(untar(tarBytes(encodeImage(dumped('mainline'), { embedPrograms: true }))));
    expect(back.kernel).toBe('mainline');
  });

  it('last_pid -1 (a mainline namespace before any automatic pid) is kept; in a 2.6.32 image it is inconsistent', () => {
    for (const kernel of ['mainline', '2.6.32'] as const) {
      const img = dumped(kernel);
      img.pidNs[1]![2] = -1;
      const bytes = tarBytes(encodeImage(img, { embedPrograms: true }));
      if (kernel === 'mainline') expect(decodeImage(untar(bytes)).pidNs[1]![2]).toBe(-1);
      else expect(codeOf(() => decodeImage(untar(bytes)))).toBe('CKPT_INCONSISTENT');
    }
  });
});
