/**
 * Issue 5, privilege through restore: an image cannot give a task
 * capabilities in a user namespace above its container's, cannot choose who
 * owns the container's user namespace on the target, and --host-pids needs
 * a restoring context privileged in the host's root namespaces (eclone:
 * CAP_SYS_ADMIN, docs/semantics.md §4.4 step 7; clone3: CAP_CHECKPOINT_RESTORE
 * or CAP_SYS_ADMIN, §5.3). The CLI test drops every capability and so needs root.
 */
import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_CAPS, CAP_SYS_ADMIN } from '../../src/abi/capabilities.js';
import { Machine } from '../../src/container/machine.js';
import { tarChunks } from '../../src/image/archive.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { dumpContainer } from '../../src/image/dump.js';
import { ImageError } from '../../src/image/format.js';
import { encodeImage } from '../../src/image/image-codec.js';
import { preflight, restoreAtomically } from '../../src/image/restore.js';
import { writeFileAtomically } from '../../src/disk/atomic-file.js';
import { throughBytes } from './container-tree.js';

const NESTED = readFileSync('images/workloads/nested.wl', 'utf8');

function image(): ContainerImage {
  const m = Machine.create('src', 'x86_64');
  const c = m.run('c', 'images/workloads/nested.wl', NESTED);
  m.scheduler.run(40);
  return dumpContainer(m, c);
}


function refusal(img: ContainerImage): [string, string] {
  try {
    throughBytes(img);
  } catch (e) {
    if (e instanceof ImageError) return [e.code, e.message];
    throw e;
  }
  return ['accepted', ''];
}

describe('an image cannot grant more than its container had', () => {
  it('a task in the host user namespace (full capabilities there) is refused', () => {
    const img = image();
    img.tasks[1]!.cred[3] = -1;
    expect(refusal(img)).toEqual(['CKPT_PRIVILEGE', 'task 1 would run in the host\'s user namespace, with its capabilities there']);
  });

  it('a second user namespace hung from the host\'s is refused', () => {
    const img = image();
    img.userNs.push([-1, 0]);
    img.tasks[1]!.cred[3] = img.userNs.length - 1;
    expect(refusal(img)).toEqual(['CKPT_PRIVILEGE', "user namespace 1 hangs directly from the host's: only the container's own user namespace may"]);
  });

  it('a pid namespace owned by the host user namespace is refused', () => {
    const img = image();
    img.pidNs[0]![1] = -1;
    expect(refusal(img)[0]).toBe('CKPT_PRIVILEGE');
  });

  it('capabilities outside the permitted set, or bits the kernel does not define, are refused', () => {
    const img = image();
    img.tasks[0]!.cred[4] = ALL_CAPS;
    img.tasks[0]!.cred[5] = 2 ** CAP_SYS_ADMIN;
    expect(refusal(img)).toEqual(['CKPT_PRIVILEGE', 'task 0 has effective capabilities outside its permitted set']);
    img.tasks[0]!.cred[4] = img.tasks[0]!.cred[5] = 2 ** 45;
    expect(refusal(img)).toEqual(['CKPT_PRIVILEGE', 'task 0 has capability bits the kernel does not define']);
  });

  it("the container's user namespace belongs to the restorer, whatever owner the image names", () => {
    const img = image();
    img.userNs[0]![1] = 1234; // a host uid that would become capable over the container (cap_capable's owner rule)
    const { machine, container } = restoreAtomically(Machine.create('t', 'x86_64'), throughBytes(img));
    const ns = container.init.creds.userNs;
    expect(ns.parent).toBe(machine.host.rootUserNs);
    expect(ns.ownerUid).toBe(machine.host.init.creds.euid);
  });

  it('an unchanged image restores (the rules refuse only what a dump cannot produce)', () => {
    expect(() => restoreAtomically(Machine.create('t', 'x86_64'), throughBytes(image()))).not.toThrow();
  });
});

describe('--host-pids needs a privileged restoring context', () => {
  it('refused without privilege, through either interface, with the capability named; allowed with it', () => {
    const img = image();
    const target = Machine.create('t', 'x86_64');
    for (const via of ['eclone', 'clone3'] as const) {
      expect(preflight(target, img, { hostPids: true, via, privileged: false })).toEqual([
        {
          code: 'CKPT_PRIVILEGE',
          message: `--host-pids names pids in host t's root pid namespace, which needs ${via === 'clone3' ? 'CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)' : 'CAP_SYS_ADMIN'} there; the restoring context does not have it`,
        },
      ]);
      expect(preflight(target, img, { hostPids: true, via, privileged: true })).toEqual([]);
      // without --host-pids the target's kernel picks the host pids: no privilege over them is needed
      expect(preflight(target, img, { via, privileged: false })).toEqual([]);
    }
  });

  const root = process.getuid?.() === 0;
  const built = existsSync(new URL('../../dist/src/cli/main.js', import.meta.url));
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  // Root with every capability dropped (its bounding set emptied, so exec grants none) is as unprivileged as
  // a restorer gets, and, unlike another uid, can still read the clone wherever it sits (a mode-700 directory).
  const why = !root ? ': not root, skipped' : !setpriv ? ': no setpriv (util-linux), skipped' : '';
  describe.skipIf(!root || !built || !setpriv)(`through the CLI with no capabilities (needs root and setpriv to drop them${why})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-priv-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('ckpt restore --host-pids run without capabilities is refused with CKPT_PRIVILEGE and changes nothing; without it the restore works', async () => {
      chmodSync(dir, 0o777);
      const file = join(dir, 'c.tar');
      writeFileAtomically(file, tarChunks(encodeImage(image(), { embedPrograms: true })));
      chmodSync(file, 0o644);
      const BIN = new URL('../../bin/ckpt.js', import.meta.url).pathname;
      const asNobody = (...argv: string[]) => execa(setpriv!, ['--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--', process.execPath, BIN, ...argv, '--root', join(dir, 'state')], { reject: false, env: { HOME: dir } });
      const r = await asNobody('restore', file, '--host-pids');
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe("ckpt: --host-pids names pids in host default's root pid namespace, which needs CAP_SYS_ADMIN there; the restoring context does not have it [CKPT_PRIVILEGE]");
      const check = await asNobody('check', file, '--host-pids', '--via', 'clone3', '--json');
      expect(JSON.parse(check.stdout).reasons.map((p: { code: string }) => p.code)).toEqual(['CKPT_PRIVILEGE']);
      // nothing was made, not even the default host
      expect(existsSync(join(dir, 'state', 'hosts', 'default.host'))).toBe(false);
      const ok = await asNobody('restore', file);
      expect(ok.exitCode, ok.stderr).toBe(0);
      // and root may
      const asRoot = await execa('node', [BIN, 'restore', file, '--host-pids', '--name', 'c2', '--root', join(dir, 'state2')], { reject: false });
      expect(asRoot.exitCode, asRoot.stderr).toBe(0);
    }, 30_000);
  });
});
