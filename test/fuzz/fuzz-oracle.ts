/**
 * The fuzzer's oracle: a hostile image must be refused with a typed error
 * carrying a stable code, leaving the target host exactly as it was; an
 * image that is accepted must restore and run without any other exception.
 * Anything else is a crash.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine } from '../../src/container/machine.js';
import { tarBytes, untar } from '../../src/image/archive.js';
import { dumpContainer } from '../../src/image/dump.js';
import { ImageError } from '../../src/image/format.js';
import { decodeImage, encodeImage } from '../../src/image/image-codec.js';
import { restoreAtomically } from '../../src/image/restore.js';
import { RestoreError } from '../../src/image/restore-error.js';
import { GOLDEN_ARCHES } from '../fixtures/make-golden-images.js';
import { applyMutation, mustReject, seedOf, type Mutation, type Seed } from './image-mutations.js';

export type Outcome = { result: 'rejected'; code: string } | { result: 'restored' } | { result: 'crash'; why: string };

/** seeds: the committed golden images, and a threaded container made on the spot (the goldens have no threads). */
export function loadSeeds(root: string): Seed[] {
  const seeds = GOLDEN_ARCHES.map((arch) => seedOf(`${arch}-nested`, new Uint8Array(readFileSync(join(root, 'images', 'golden', `${arch}-nested.tar`)))));
  const m = Machine.create('seed', 's390x');
  const c = m.run('threads', 'images/workloads/threads.wl', readFileSync(join(root, 'images', 'workloads', 'threads.wl'), 'utf8'));
  m.scheduler.run(12);
  seeds.push(seedOf('s390x-threads', tarBytes(encodeImage(dumpContainer(m, c), { embedPrograms: true }))));
  return seeds;
}

/** Targets: one host per architecture, each already running a container, reused (a restore never changes its target). */
export class Targets {
  private readonly hosts = new Map<string, { machine: Machine; snapshot: string }>();

  constructor(private readonly root: string) {}

  of(arch: string): { machine: Machine; snapshot: string } {
    let t = this.hosts.get(arch);
    if (!t) {
      const machine = Machine.create('target', arch);
      machine.run('other', 'images/workloads/pidcache.wl', readFileSync(join(this.root, 'images', 'workloads', 'pidcache.wl'), 'utf8'));
      machine.scheduler.run(25);
      t = { machine, snapshot: JSON.stringify(machine.host.snapshot()) };
      this.hosts.set(arch, t);
    }
    return t;
  }
}

const describe = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e));

/** attempt decodes and restores `bytes` onto the target for `arch`, and says what happened. */
export function attempt(bytes: Uint8Array, arch: string, targets: Targets): Outcome {
  const target = targets.of(arch);
  let img;
  try {
    img = decodeImage(untar(bytes));
  } catch (e) {
    // decoding never sees the target, so only the error's type needs checking here
    if (e instanceof ImageError) return { result: 'rejected', code: e.code };
    return { result: 'crash', why: describe(e) };
  }
  let outcome: Outcome;
  try {
    const { machine } = restoreAtomically(target.machine, img, { name: 'restored' });
    // the restored container must run: an accepted image may not crash the scheduler either
    machine.scheduler.run(40);
    outcome = { result: 'restored' };
  } catch (e) {
    if (e instanceof ImageError || e instanceof RestoreError) outcome = { result: 'rejected', code: e.code };
    else outcome = { result: 'crash', why: describe(e) };
  }
  if (JSON.stringify(target.machine.host.snapshot()) !== target.snapshot) return { result: 'crash', why: 'the target host changed' };
  return outcome;
}

/** verdict applies a mutation and judges the outcome: null when it is as required, else why not. */
export function verdict(seed: Seed, m: Mutation, targets: Targets): { outcome: Outcome; problem: string | null } {
  let bytes: Uint8Array;
  try {
    bytes = applyMutation(seed, m);
  } catch (e) {
    return { outcome: { result: 'crash', why: `the mutation itself failed: ${describe(e)}` }, problem: 'mutation failed' };
  }
  const outcome = attempt(bytes, seed.image.arch, targets);
  if (outcome.result === 'crash') return { outcome, problem: outcome.why };
  if (outcome.result === 'restored' && mustReject(m)) return { outcome, problem: `a ${m.kind} mutation was accepted` };
  return { outcome, problem: null };
}
