/**
 * The differential suite: every hand case of issue 18 and a fixed-seed batch
 * of generated scenarios, each run on the real kernel (in a fresh pid
 * namespace, through the C helper) and on a mainline model host, compared
 * line by line. Needs root; skipped with the reason otherwise. More:
 * `npm run difftest -- --cases N --seed S`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelperSession, probeLinux } from '../../src/linux/helper.js';
import { compare, report, verdict } from './compare.js';
import { findDisagreement } from './generate.js';
import { HAND_CASES } from './hand-cases.js';

/** The fixed batch npm test runs: at least 300 scenarios. */
const BATCH = { cases: 300, seed: 18 };

const support = await probeLinux();
if (!support.ok) console.log(`test/linux: differential suite skipped: ${support.reason}`);
const onLinux = support.ok ? describe : describe.skip;

onLinux(`the mainline model against Linux${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let dir = '';
  let h: HelperSession;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ckpt-difftest-'));
    h = HelperSession.start(dir);
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
    // every process the suite made is gone: nothing left behind
    expect(h.leftovers()).toEqual([]);
  });

  for (const hc of HAND_CASES) {
    const mark = hc.expect.kind === 'agree' ? '' : ` [${hc.expect.kind}]`;
    it(`class ${hc.issueClass}: ${hc.name}${mark}`, async () => {
      const c = await compare(h, hc.scenario);
      const why = verdict(hc, c);
      expect(why, why ? `${why}\n${report(c)}` : '').toBeNull();
    }, 30_000);
  }

  it(`${BATCH.cases} generated scenarios (seed ${BATCH.seed}) agree`, async () => {
    const found = await findDisagreement(h, BATCH.cases, BATCH.seed);
    expect(found, found ? `disagreement after ${found.runs} scenarios, shrunk:\n${report(found.comparison)}` : '').toBeNull();
  }, 300_000);
});
