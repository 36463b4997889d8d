/**
 * Kill trials for issue 5's crash safety: ckpt is killed with SIGKILL at
 * random moments during a command (kill times spread over the command's own
 * duration). After every kill the host loads, the next command sweeps away
 * what the killed one left, and the host's files (its host file and the
 * parts it names) hold exactly the state before the command or the state
 * after it (the commands are deterministic, so "after" is an uninterrupted
 * run on a copy); a dump's output is absent or complete and identical to an
 * uninterrupted dump.
 */
import { execa } from 'execa';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Machine } from '../../src/container/machine.js';
import { tarChunks, untar } from '../../src/image/archive.js';
import { dumpContainer } from '../../src/image/dump.js';
import { sameBytes } from '../../src/codec/bytes.js';
import { decodeImage, encodeImage } from '../../src/image/image-codec.js';
import { writeFileAtomically } from '../../src/disk/atomic-file.js';
import { HostStore } from '../../src/store/host-store.js';
import { libcOf } from '../../src/program/libc.js';

export const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
export const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));
export const TRIALS_PER_VERB = 14;

/** A host whose file takes a while to load and save: a container of 1,500 sleeping tasks, and a small running one. */
function startingHost(): Machine {
  const m = Machine.create('default', 'x86_64');
  const c = m.run('big', 'sleepers.wl', 'program main\n  sleep 100000000\nend\n');
  m.scheduler.run(1);
  const libc = libcOf(m.host, c.init);
  for (let n = 0; n < 1500; n++) if (!libc.fork().child) throw new Error('fork failed');
  m.run('small', 'images/workloads/nested.wl', readFileSync('images/workloads/nested.wl', 'utf8'));
  m.scheduler.run(20);
  return m;
}

const bytes = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

/** CrashBed is a state directory to copy for every trial, and an image of its small container. */
export interface CrashBed {
  dir: string;
  base: string;
  image: string;
}

export function crashBed(): CrashBed {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-crash-'));
  const base = join(dir, 'base');
  const m = startingHost();
  new HostStore(base).add(m);
  const image = join(dir, 'small.tar');
  writeFileAtomically(image, tarChunks(encodeImage(dumpContainer(m, m.containers.get('small')!), { embedPrograms: true })));
  return { dir, base, image };
}

/** stateOf names every file of the state directory's hosts with the SHA-256 of its bytes: two states are the same exactly when these are. */
export function stateOf(root: string): string[] {
  const hosts = join(root, 'hosts');
  return (readdirSync(hosts, { recursive: true }) as string[])
    .filter((f) => statSync(join(hosts, f)).isFile())
    .sort()
    .map((f) => `${f} ${createHash('sha256').update(bytes(join(hosts, f))).digest('hex')}`);
}

/** the host's files once nothing is left over: its host file and the part files that host file names */
const tidy = (files: string[]): string[] => files.map((f) => f.split(' ')[0]!);

/** killTrials runs `argv` uninterrupted once, then TRIALS_PER_VERB times killed, and checks every outcome. */
export async function killTrials(bed: CrashBed, verb: string, argv: (root: string) => string[], seed: number): Promise<void> {
  const { dir, base } = bed;
  // the reference: the same command, uninterrupted, on a copy
  const ref = join(dir, `${verb}-ref`);
  cpSync(base, ref, { recursive: true });
  const started = Date.now();
  const done = await execa('node', [BIN, ...argv(ref), '--root', ref]);
  const duration = Date.now() - started;
  expect(done.exitCode).toBe(0);
  const before = stateOf(base);
  const after = stateOf(ref);
  expect(after).not.toEqual(before);
  const refImage = verb === 'dump' ? bytes(join(ref, 'out.tar')) : null;

  // kill points in thousandths of the command's duration (up to 1.1x), uniform, from a fixed seed, so they are the same from run to run (the scheduling of the OS is not)
  const points = fc.sample(fc.noBias(fc.integer({ min: 0, max: 1100 })), { seed, numRuns: TRIALS_PER_VERB });
  const seen = { before: 0, after: 0 };
  for (let trial = 0; trial < TRIALS_PER_VERB; trial++) {
    const root = join(dir, `${verb}-${trial}`);
    cpSync(base, root, { recursive: true });
    // the first trial is killed at once, the last one never (it runs to its end); the others at random through the command's run
    const last = trial === TRIALS_PER_VERB - 1;
    const delay = trial === 0 || last ? 0 : Math.floor((points[trial]! * duration) / 1000);
    const child = execa('node', [BIN, ...argv(root), '--root', root], { reject: false });
    if (!last) {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
    }
    await child;

    // the host still loads, even though the killed command may have held its lock, and its leftovers are swept
    expect(new HostStore(root).read('default').containers.has('big')).toBe(true);
    const now = stateOf(root);
    const state = JSON.stringify(now) === JSON.stringify(before) ? 'before' : JSON.stringify(now) === JSON.stringify(after) ? 'after' : 'torn';
    expect(state, `trial ${trial}, ${last ? 'not killed' : `killed after ${delay} ms`}: ${tidy(now).join(', ')}`).not.toBe('torn');
    seen[state as 'before' | 'after']++;
    if (refImage) {
      const out = join(root, 'out.tar');
      if (existsSync(out)) {
        expect(sameBytes(bytes(out), refImage)).toBe(true);
        expect(decodeImage(untar(bytes(out)), null).name).toBe('small');
      }
      // a killed dump may leave its hidden temporary file; the next dump of the same path removes it
      if (readdirSync(root).some((f) => f.endsWith('.tmp'))) {
        await execa('node', [BIN, 'dump', 'big', '-o', out, '--leave-running', '--root', root]);
        expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
  expect(seen.before).toBeGreaterThan(0);
  expect(seen.after).toBeGreaterThan(0);
}
