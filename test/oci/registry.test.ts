/**
 * Issue 21, through a real registry: Debian's docker-registry on
 * 127.0.0.1 and skopeo. A container is dumped, pushed, pulled back and
 * restored on another host with every pid identical. Skipped, with the
 * reason in the title, when either tool is not installed (.ci/run installs
 * both when it runs as root).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION, CKPT_IMAGE, OCI_INDEX } from '../../src/oci/media-types.js';
import { exportToLayout } from '../../src/oci/transfer.js';
import { ckptIn } from '../cli/run-ckpt.js';
import { missingTools, startRegistry, type Registry } from './registry.js';

const missing = await missingTools();

describe.skipIf(missing !== null)(`push and pull through a registry on 127.0.0.1${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let root: string;
  let registry: Registry;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ckpt-reg-'));
    registry = await startRegistry();
  }, 30_000);
  afterAll(async () => {
    await registry?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 30_000);
  const ckpt = (...argv: string[]) => ckptIn(root, argv);

  it('dump, push, pull back byte for byte, restore on another host with identical pids', async () => {
    expect((await ckpt('run', 'web', 'images/workloads/nested.wl', '--steps', '60')).code).toBe(0);
    // every pid inside the container (the host level, above it, is the target's choice without --host-pids)
    const pids = (out: string) => JSON.parse(out).map((r: { nspids: number[] }) => r.nspids.slice(1));
    const before = pids((await ckpt('ps', 'web', '--json')).out);
    expect(before.length).toBeGreaterThan(3);
    const image = join(root, 'web.tar');
    expect((await ckpt('dump', 'web', '-o', image)).code).toBe(0);
    const target = `docker://${registry.host}/ckpt/web:1`;
    const pushed = await ckpt('push', image, target, '--no-tls-verify', '--json');
    expect(pushed.err).toBe('');
    expect(pushed.code).toBe(0);
    // what the registry holds: the artifact manifest ckpt wrote, annotations kept
    const raw = await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', target]);
    const manifest = JSON.parse(raw.stdout);
    expect(`sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`).toBe(JSON.parse(pushed.out).manifest);
    expect(manifest.artifactType).toBe(CKPT_IMAGE);
    expect(manifest.annotations[ANNOTATION.criuContainerName]).toBe('web');
    expect(manifest.annotations[ANNOTATION.arch]).toBe('x86_64');

    const back = join(root, 'back.tar');
    const pulled = await ckpt('pull', target, '-o', back, '--no-tls-verify');
    expect(pulled.err).toBe('');
    expect(pulled.out).toMatch(/^pulled web \(x86_64, \d+ tasks\) from docker:\/\/127\.0\.0\.1:\d+\/ckpt\/web:1 to /);
    expect(Buffer.compare(new Uint8Array(readFileSync(back)), new Uint8Array(readFileSync(image)))).toBe(0);
    expect((await ckpt('host', 'create', 'other', '--arch', 'x86_64')).code).toBe(0);
    const restored = await ckpt('restore', back, '--host', 'other');
    expect(restored.err).toBe('');
    expect(pids((await ckpt('ps', 'web', '--json', '--host', 'other')).out)).toEqual(before);
  }, 60_000);

  it('a tag the registry does not have: one line with skopeo\'s reason, exit 1, no file written', async () => {
    const out = join(root, 'none.tar');
    const r = await ckpt('pull', `docker://${registry.host}/ckpt/web:nope`, '-o', out, '--no-tls-verify');
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^ckpt: skopeo inspect docker:\/\/127\.0\.0\.1:\d+\/ckpt\/web:nope failed: .*manifest unknown.* \[CKPT_TRANSFER_FAILED\]$/);
    expect(() => readFileSync(out)).toThrow();
  }, 60_000);

  it('an artifact of another kind, or an index, is refused from its manifest, before any blob is downloaded; a checkpoint named by digest is pulled', async () => {
    // a layout whose manifest says it is something else, pushed with skopeo itself
    const layout = join(root, 'other');
    await exportToLayout('images/golden/i386-nested.tar', { dir: layout, tag: 'x' });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    manifest.artifactType = 'application/vnd.example.thing.v1';
    const text = JSON.stringify(manifest);
    const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    writeFileSync(blob(digest), text);
    index.manifests[0] = { ...index.manifests[0], digest, size: Buffer.byteLength(text), artifactType: manifest.artifactType };
    writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
    const target = `docker://${registry.host}/other/thing:1`;
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:x`, target]);
    const out = join(root, 'thing.tar');
    const r = await ckpt('pull', target, '-o', out, '--no-tls-verify');
    expect(r).toMatchObject({ code: 1, err: `ckpt: ${target} is not a ckpt checkpoint: its artifactType is application/vnd.example.thing.v1, not ${CKPT_IMAGE} [CKPT_NOT_AN_IMAGE]` });
    expect(() => readFileSync(out)).toThrow();
    // an image index (here around a real checkpoint) is not followed either
    const good = join(root, 'good');
    await exportToLayout('images/golden/i386-nested.tar', { dir: good, tag: 'x' });
    const entry = JSON.parse(readFileSync(join(good, 'index.json'), 'utf8')).manifests[0];
    const indexText = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: entry.mediaType, digest: entry.digest, size: entry.size, platform: { architecture: 'amd64', os: 'linux' } }] });
    const indexDigest = `sha256:${createHash('sha256').update(indexText).digest('hex')}`;
    writeFileSync(join(good, 'blobs', 'sha256', indexDigest.slice(7)), indexText);
    writeFileSync(join(good, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_INDEX, digest: indexDigest, size: Buffer.byteLength(indexText), annotations: { [ANNOTATION.refName]: 'idx' } }] }));
    const indexTarget = `docker://${registry.host}/other/index:1`;
    await execa('skopeo', ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${good}:idx`, indexTarget]);
    const viaIndex = await ckpt('pull', indexTarget, '-o', out, '--no-tls-verify');
    expect(viaIndex.code).toBe(1);
    expect(viaIndex.err).toBe(`ckpt: ${indexTarget} is an image index, not a ckpt checkpoint (ckpt push makes one manifest; name a checkpoint's own by its digest, REPO@sha256:...) [CKPT_NOT_AN_IMAGE]`);
    // named by its digest, the checkpoint inside comes out
    const byDigest = await ckpt('pull', `docker://${registry.host}/other/index@${entry.digest}`, '-o', out, '--no-tls-verify');
    expect(byDigest.err).toBe('');
    expect(Buffer.compare(new Uint8Array(readFileSync(out)), new Uint8Array(readFileSync('images/golden/i386-nested.tar')))).toBe(0);
  }, 60_000);
});
