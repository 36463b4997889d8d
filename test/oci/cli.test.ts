/** export, import, and oci:DIR[:TAG] references to restore, check and inspect, through the command line. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ckptIn } from '../cli/run-ckpt.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ckpt-ocicli-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const ckpt = (...argv: string[]) => ckptIn(root, argv);

describe('checkpoints in OCI layouts through the CLI', { timeout: 30_000 }, () => {
  it('dump, export, restore straight from oci:DIR:TAG with the same pids; inspect and check read it too; import gives the file back', async () => {
    expect((await ckpt('run', 'web', 'images/workloads/nested.wl', '--steps', '40')).code).toBe(0);
    const ps = async (...more: string[]) => JSON.parse((await ckpt('ps', 'web', '--json', ...more)).out).map((r: { nspids: number[] }) => r.nspids.slice(1));
    const before = await ps();
    const image = join(root, 'web.tar');
    expect((await ckpt('dump', 'web', '-o', image)).code).toBe(0);
    const layout = `oci:${join(root, 'ckpts')}:web-1`;
    const exported = await ckpt('export', image, layout);
    expect(exported.code).toBe(0);
    expect(exported.out).toMatch(/^exported web \(x86_64, \d+ tasks\) to oci:.*:web-1: manifest sha256:[0-9a-f]{64}, 3 blobs written$/);
    expect((await ckpt('export', image, layout)).out).toMatch(/no new blob \(the layout had this image\)$/);
    expect((await ckpt('inspect', layout)).out).toMatch(/^container web: x86_64, kernel mainline, pid_max 32768, \d+ tasks/);
    expect((await ckpt('check', layout, '--host', 'other', '--json')).out).toContain('"restorable":false');
    await ckpt('host', 'create', 'other', '--arch', 'x86_64');
    const check = await ckpt('check', layout, '--host', 'other');
    expect(check).toMatchObject({ code: 0, out: `${layout} would restore on host other` });
    expect((await ckpt('restore', layout, '--host', 'other')).code).toBe(0);
    expect(await ps('--host', 'other')).toEqual(before);
    const back = join(root, 'back.tar');
    const imported = await ckpt('import', `oci:${join(root, 'ckpts')}`, '-o', back, '--json');
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({ container: 'web', arch: 'x86_64', bytes: readFileSync(image).length });
    expect(Buffer.compare(new Uint8Array(readFileSync(back)), new Uint8Array(readFileSync(image)))).toBe(0);
  });

  it('bad references are bad usage (exit 2), one line, nothing written', async () => {
    for (const [argv, message] of [
      [['export', 'images/golden/i386-nested.tar', 'oci:'], 'ckpt: "oci:" names no directory: write oci:DIR or oci:DIR:TAG'],
      [['export', 'images/golden/i386-nested.tar', `oci:${root}/l:../../etc`], 'ckpt: "../../etc" is not a valid tag: letters and digits, joined by . _ - : @ + or / (image-layout ref.name grammar), at most 255 characters'],
      [['export', 'images/golden/i386-nested.tar', `${root}/l`], `ckpt: "${root}/l" is not an OCI layout reference: write oci:DIR or oci:DIR:TAG`],
      [['import', `oci:${root}/l:`, '-o', `${root}/x.tar`], 'ckpt: "" is not a valid tag: letters and digits, joined by . _ - : @ + or / (image-layout ref.name grammar), at most 255 characters'],
      [['push', 'images/golden/i386-nested.tar', 'docker://Example.com/UPPER:1'], 'ckpt: "docker://Example.com/UPPER:1" is not a valid registry reference: write docker://REGISTRY[:PORT]/REPO[:TAG], with a lowercase repository'],
      [['pull', 'https://example.com/x', '-o', `${root}/x.tar`], 'ckpt: "https://example.com/x" is not a registry reference: write docker://REGISTRY/REPO:TAG'],
    ] as const) {
      const r = await ckpt(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.split('\n'), argv.join(' ')).toEqual([message, `Try: ckpt ${argv[0]} --help`]);
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('a tag the layout does not have, and a layout with several and no latest: exit 1 with the tags there', async () => {
    const l = join(root, 'l');
    await ckpt('export', 'images/golden/i386-nested.tar', `oci:${l}:a`);
    await ckpt('export', 'images/golden/ppc-nested.tar', `oci:${l}:b`);
    expect(await ckpt('import', `oci:${l}:c`, '-o', join(root, 'x.tar'))).toMatchObject({ code: 1, err: `ckpt: oci:${l}:c: no manifest is tagged c (its tags: a, b) [CKPT_TAG_NOT_FOUND]` });
    expect(await ckpt('inspect', `oci:${l}`)).toMatchObject({ code: 1, err: `ckpt: oci:${l}: the layout has 2 manifests and none is tagged latest; name one with oci:DIR:TAG (its tags: a, b) [CKPT_TAG_NOT_FOUND]` });
    const check = await ckpt('check', `oci:${l}:c`, '--json');
    expect(JSON.parse(check.out).reasons.map((r: { code: string }) => r.code)).toEqual(['CKPT_TAG_NOT_FOUND']);
    expect(existsSync(join(root, 'x.tar'))).toBe(false);
  });

  it('push and pull without skopeo: one line saying how to install it, exit 1 with CKPT_NO_SKOPEO, nothing written', async () => {
    const path = process.env.PATH;
    process.env.PATH = mkdtempSync(join(tmpdir(), 'ckpt-nopath-'));
    try {
      const push = await ckpt('push', 'images/golden/i386-nested.tar', 'docker://127.0.0.1:5000/ckpt/web:1');
      const pull = await ckpt('pull', 'docker://127.0.0.1:5000/ckpt/web:1', '-o', join(root, 'x.tar'));
      for (const r of [push, pull]) {
        expect(r.code).toBe(1);
        expect(r.err).toBe('ckpt: skopeo is not installed: install it (Debian/Ubuntu: apt-get install skopeo; Fedora: dnf install skopeo) and run the command again [CKPT_NO_SKOPEO]');
      }
    } finally {
      rmSync(process.env.PATH, { recursive: true, force: true });
      process.env.PATH = path;
    }
    expect(readdirSync(root)).toEqual([]);
  });
});
