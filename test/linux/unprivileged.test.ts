/**
 * --host linux without root (issue 20 point 3): a user who is not root runs, dumps and restores a
 * real container, whose levels live in a user namespace of its own (its root is that user outside,
 * the one mapping an unprivileged owner may write). The command line runs as uid 65534 inside a
 * Sandbox (which reaps a container's init and takes everything left when it ends), from a copy of
 * what it needs in a directory that user can read (the clone may sit in a mode-700 one). Checked:
 * every process is that user's, with the same ps and console, at the container's levels, as a model
 * host running the workload straight through, across a dump and a restore; another image restored
 * --into it comes back one level deeper, that user's too; --host-pids is refused with the reason;
 * rm leaves nothing.
 * Needs root (to become uid 65534 and make the sandbox), setpriv, the compiled helper, and a machine
 * that lets unprivileged users make user namespaces; skipped with the reason otherwise.
 */
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PsRow } from '../../src/cli/ps-view.js';
import { linuxUnavailable } from '../../src/linux/real-containers.js';
import { ckptIn } from '../cli/run-ckpt.js';
import { Sandbox } from './sandbox.js';

const NOBODY = 65534;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** whyNot says why the test cannot run here, or null */
async function whyNot(): Promise<string | null> {
  const first = Sandbox.unavailable() ?? (await linuxUnavailable());
  if (first) return first;
  if (!SETPRIV) return 'no setpriv (util-linux) to become another user';
  const asNobody = await execa(SETPRIV, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'unshare', '--user', '--pid', '--fork', 'true'], { reject: false });
  if (asNobody.exitCode !== 0) return `this machine does not let an unprivileged user make a user namespace (unshare --user as uid ${NOBODY}: ${asNobody.stderr.trim() || `exit ${asNobody.exitCode}`})`;
  return null;
}

const why = await whyNot();
if (why) console.log(`test/linux: --host linux without root skipped: ${why}`);

type Row = Omit<PsRow, 'container'>;
const inside = (rows: Row[]) => rows.map((r) => ({ nspids: r.nspids.slice(1), threads: r.threads, thread: r.thread, state: r.state, command: r.command }));

/** copyApp copies what `node bin/ckpt.js` needs (the launcher, the build, the helper, the runtime dependencies) under `to` */
async function copyApp(to: string): Promise<void> {
  for (const p of ['bin', 'package.json', 'dist/src', 'dist/linux']) cpSync(p, join(to, p), { recursive: true });
  const deps = await execa('npm', ['ls', '--omit=dev', '--parseable', '--all'], { reject: false });
  for (const dir of new Set(deps.stdout.split('\n').slice(1).filter(Boolean))) {
    const rel = relative(process.cwd(), dir);
    mkdirSync(join(to, dirname(rel)), { recursive: true });
    cpSync(dir, join(to, rel), { recursive: true });
  }
}

describe.skipIf(why !== null)(`--host linux without root${why ? ` (skipped: ${why})` : ''}`, () => {
  let dir: string;
  let box: Sandbox;
  const state = () => join(dir, 'state');
  // from the copy's directory: the clone's may be closed to other users (a mode-700 mktemp -d), and node needs a working directory it can enter
  const asNobody = (args: string) => box.sh(`cd ${dir} && ${SETPRIV} --reuid=${NOBODY} --regid=${NOBODY} --clear-groups env HOME=${dir} ${process.execPath} ${join(dir, 'app/bin/ckpt.js')} --root ${state()} ${args}`);
  const json = async (args: string) => {
    const r = await asNobody(`${args} --json 2>/dev/null`);
    return { code: r.code, value: JSON.parse(r.out) as unknown };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ckpt-unprivileged-'));
    await copyApp(join(dir, 'app'));
    cpSync(resolve('images/workloads/nested.wl'), join(dir, 'nested.wl'));
    mkdirSync(state());
    chownSync(state(), NOBODY, NOBODY);
    // readable (and the directories enterable) by everyone, as an installed copy would be
    const open = (p: string): void => {
      chmodSync(p, 0o755);
      for (const e of readdirSync(p, { withFileTypes: true })) {
        if (e.isDirectory()) open(join(p, e.name));
        else if (!e.isSymbolicLink()) chmodSync(join(p, e.name), 0o755);
      }
    };
    open(join(dir, 'app'));
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'nested.wl'), 0o644);
    box = Sandbox.start();
  }, 120_000);
  afterAll(async () => {
    await box?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`uid ${NOBODY} runs, dumps and restores a real container in a user namespace of its own, as a model host runs it`, { timeout: 120_000 }, async () => {
    const model = mkdtempSync(join(tmpdir(), 'ckpt-unprivileged-model-'));
    try {
      const onModel = async (...argv: string[]) => expect((await ckptIn(model, argv)).code).toBe(0);
      await onModel('host', 'create', 'model', '--arch', 'x86_64');
      await onModel('run', 'c', join(dir, 'nested.wl'), '--host', 'model', '--steps', '15');
      const same = async (): Promise<Row[]> => {
        const real = await json('ps c --host linux');
        expect(real.code).toBe(0);
        const want = JSON.parse((await ckptIn(model, ['ps', 'c', '--host', 'model', '--json'])).out) as Row[];
        expect(inside(real.value as Row[])).toEqual(inside(want));
        expect((await json('logs c --host linux')).value).toEqual(JSON.parse((await ckptIn(model, ['logs', 'c', '--host', 'model', '--json'])).out));
        return real.value as Row[];
      };
      const ownedByNobody = async (rows: Row[]) => {
        const lines = (await box.sh(rows.map((r) => `grep -E '^(Uid|NSpid):' /proc/${r.nspids[0]}/status`).join('; '))).out;
        expect(lines.split('\n').filter((l) => l.startsWith('Uid:'))).toEqual(rows.map(() => `Uid:\t${NOBODY}\t${NOBODY}\t${NOBODY}\t${NOBODY}`));
        expect(lines.split('\n').filter((l) => l.startsWith('NSpid:')).map((l) => l.split(/\s+/).slice(1).map(Number))).toEqual(rows.map((r) => r.nspids));
      };

      expect((await asNobody(`run c ${join(dir, 'nested.wl')} --host linux --steps 15`)).code).toBe(0);
      await ownedByNobody(await same());
      const image = join(state(), 'c.tar');
      const dumped = await asNobody(`dump c --host linux -o ${image}`);
      expect(dumped.out).toMatch(/^dumped c \(x86_64, \d+ tasks\) to .*; it was removed$/);
      expect(await box.processes()).toEqual([]);
      // naming the machine's own pids is what stays privileged: refused, saying why, nothing made
      const named = await asNobody(`restore ${image} --host linux --host-pids --name named`);
      expect(named.code).not.toBe(0);
      expect(named.out).toMatch(/--host-pids names pids in host linux's root pid namespace, which needs CAP_CHECKPOINT_RESTORE \(or CAP_SYS_ADMIN\) there; the restoring context does not have it/);
      expect(await box.processes()).toEqual([]);
      expect((await asNobody(`restore ${image} --host linux`)).out).toMatch(/^restored c on the machine \(--host linux\) with clone3: /);
      // the restored init is in a user namespace of its own too, its root this user outside
      const rows = await same();
      await ownedByNobody(rows);
      expect((await box.sh(`cat /proc/${rows[0]!.nspids[0]}/uid_map`)).out.trim().split(/\s+/)).toEqual(['0', String(NOBODY), '1']);
      expect((await asNobody('step c --host linux --steps 15')).code).toBe(0);
      await onModel('step', 'c', '--host', 'model', '--steps', '15');
      await same();
      // and another restored inside it (--into): made by its init, in its user namespace, one level deeper
      const pod = join(dir, 'pod.tar');
      expect((await ckptIn(model, ['dump', 'c', '--host', 'model', '-o', pod, '--leave-running'])).code).toBe(0);
      chmodSync(pod, 0o644);
      expect((await asNobody(`restore ${pod} --host linux --into c --name pod`)).out).toMatch(/^restored pod on the machine \(--host linux\) with clone3: /);
      const pods = (await json('ps pod --host linux')).value as Row[];
      expect(pods.map((r) => r.nspids.length)).toEqual(rows.map((r) => r.nspids.length + 1));
      await ownedByNobody(pods);
      expect((await asNobody('rm pod --host linux --force')).code).toBe(0);
      expect((await asNobody('rm c --host linux --force')).code).toBe(0);
      expect(await box.processes()).toEqual([]);
      expect(readdirSync(join(state(), 'linux', 'agents'))).toEqual([]);
    } finally {
      rmSync(model, { recursive: true, force: true });
    }
  });
});
