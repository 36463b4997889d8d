#!/usr/bin/env node
/**
 * Compiles the real-kernel helper (src/linux/helper/ckpt-helper.c) with the
 * system C compiler into dist/linux/ckpt-helper. Run by the package's install
 * script and by `npm run build`. Without a compiler it says so in one line and
 * succeeds: everything but the real-kernel features still works.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'linux', 'helper', 'ckpt-helper.c');
const output = join(root, 'dist', 'linux', 'ckpt-helper');

const probe = spawnSync('cc', ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  console.log('ckpt: no C compiler (cc); real-kernel features disabled');
  process.exit(0);
}
if (process.arch !== 'x64' || process.platform !== 'linux') {
  console.log(`ckpt: the real-kernel helper is written for Linux x86_64, not ${process.platform} ${process.arch}; real-kernel features disabled`);
  process.exit(0);
}
mkdirSync(dirname(output), { recursive: true });
// Linked statically (a position-independent executable, so that it lies far from the low
// addresses a workload's mappings take) where the C library allows it: every clone copies its
// creator's mappings, and a static helper has a third as many (no dynamic loader, no shared C
// library, whose file mappings every clone also adds to that file's shared list), so that
// restoring a process costs its creator less. Else dynamically, with -z now: every library symbol
// bound at start, so that no agent (a copy of the helper) binds one itself, writing (and so
// copying) the relocation pages it shares with the others.
const flags = ['-O2', '-Wall', '-Wextra', '-o', output, source];
let cc = spawnSync('cc', ['-static-pie', ...flags], { stdio: 'ignore' });
if (cc.status !== 0) cc = spawnSync('cc', ['-Wl,-z,now', ...flags], { stdio: 'inherit' });
if (cc.status !== 0) {
  console.log('ckpt: the real-kernel helper did not compile; real-kernel features disabled');
  process.exit(0);
}
