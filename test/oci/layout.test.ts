/**
 * Issue 21: images exported into OCI image layouts. Every file of a written
 * layout is checked against the image-spec schemas (as zod) and every
 * descriptor against the blob it names; export then import gives back the
 * image byte for byte; exporting again writes nothing new.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'cbor-x';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tarBytes, untar } from '../../src/image/archive.js';
import { ENTRIES } from '../../src/image/format.js';
import { manifestDigest } from '../../src/image/image-codec.js';
import { ANNOTATION, CKPT_IMAGE, EMPTY_DIGEST, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.js';
import { parseLayoutReference } from '../../src/oci/reference.js';
import { descriptorSchema, indexSchema, layoutFileSchema, manifestSchema } from '../../src/oci/spec-schemas.js';
import { exportToLayout, importFromLayout } from '../../src/oci/transfer.js';

const GOLDEN = readdirSync('images/golden').filter((f) => f.endsWith('.tar')).map((f) => join('images/golden', f));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ckpt-oci-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** listing: every file under a directory with its bytes' digest, to compare before and after. */
function listing(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const p = join(rel, name);
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else out.set(p, sha(new Uint8Array(readFileSync(join(root, p)))));
    }
  };
  walk('');
  return out;
}

/** checkLayout validates a layout against the image-spec schemas and checks every descriptor against its blob; returns the manifests by tag. */
function checkLayout(layout: string): Map<string, ReturnType<typeof manifestSchema.parse>> {
  expect(layoutFileSchema.parse(json(join(layout, 'oci-layout')))).toEqual({ imageLayoutVersion: '1.0.0' });
  const index = indexSchema.parse(json(join(layout, 'index.json')));
  const blob = (d: { digest: string; size: number }): Uint8Array => {
    const bytes = new Uint8Array(readFileSync(join(layout, 'blobs', 'sha256', d.digest.slice('sha256:'.length))));
    expect(sha(bytes)).toBe(d.digest);
    expect(bytes.length).toBe(d.size);
    return bytes;
  };
  const byTag = new Map<string, ReturnType<typeof manifestSchema.parse>>();
  for (const entry of index.manifests) {
    expect(entry.mediaType).toBe(OCI_MANIFEST);
    // ckpt writes the artifactType into the entry; other tools (skopeo) may leave it out
    expect([undefined, CKPT_IMAGE]).toContain(entry.artifactType);
    const m = manifestSchema.parse(JSON.parse(new TextDecoder().decode(blob(entry))));
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(m.artifactType).toBe(CKPT_IMAGE);
    expect(m.config).toMatchObject({ mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: 2 });
    expect(new TextDecoder().decode(blob(m.config))).toBe('{}');
    expect(m.layers).toHaveLength(1);
    expect(m.layers[0]!.mediaType).toBe(CKPT_IMAGE);
    blob(m.layers[0]!);
    byTag.set(entry.annotations![ANNOTATION.refName]!, m);
  }
  return byTag;
}

describe('the image-spec schemas, as zod', { timeout: 30_000 }, () => {
  const d = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 32654, digest: 'sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0' };

  it('accept the spec examples of a descriptor, a manifest with an artifactType and an index', () => {
    expect(descriptorSchema.safeParse(d).success).toBe(true);
    expect(descriptorSchema.safeParse({ ...d, urls: ['https://example.com/x'], annotations: { 'com.example.key': 'v' }, data: 'e30=', artifactType: 'application/vnd.example+type' }).success).toBe(true);
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example+type', config: { mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: 2 }, layers: [d], annotations: { 'org.opencontainers.image.created': '2023-01-02T03:04:05Z' } };
    expect(manifestSchema.safeParse(manifest).success).toBe(true);
    expect(indexSchema.safeParse({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...d, mediaType: OCI_MANIFEST, platform: { architecture: 'amd64', os: 'linux' } }] }).success).toBe(true);
    expect(indexSchema.safeParse({ schemaVersion: 2, manifests: [] }).success).toBe(true);
  });

  it('refuse what the spec schemas refuse', () => {
    const { mediaType: _m, ...noMediaType } = d;
    for (const bad of [noMediaType, { ...d, size: 1.5 }, { ...d, size: '1' }, { ...d, digest: 'sha256' }, { ...d, digest: 'SHA256:abc' }, { ...d, digest: 'sha256:ab/cd' }, { ...d, mediaType: 'text' }, { ...d, annotations: { k: 1 } }, { ...d, data: 'not base64!' }]) {
      expect(descriptorSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    const manifest = { schemaVersion: 2, config: d, layers: [d] };
    expect(manifestSchema.safeParse(manifest).success).toBe(true);
    expect(manifestSchema.safeParse({ ...manifest, schemaVersion: 1 }).success).toBe(false);
    expect(manifestSchema.safeParse({ ...manifest, layers: [] }).success).toBe(false);
    expect(manifestSchema.safeParse({ schemaVersion: 2, layers: [d] }).success).toBe(false);
    expect(indexSchema.safeParse({ schemaVersion: 2 }).success).toBe(false);
    expect(layoutFileSchema.safeParse({ imageLayoutVersion: '2.0.0' }).success).toBe(false);
  });
});

describe('export and import', { timeout: 30_000 }, () => {
  it('every golden image: a layout valid against the spec schemas, and import gives back the image byte for byte', async () => {
    for (const [k, image] of GOLDEN.entries()) {
      const ref = parseLayoutReference(`oci:${join(dir, 'layout')}:g${k}`);
      const r = await exportToLayout(image, ref);
      const m = checkLayout(ref.dir).get(`g${k}`)!;
      expect(m.layers[0]!.digest).toBe(r.layer.digest);
      const out = join(dir, `back-${k}.tar`);
      await importFromLayout(ref, out);
      expect(Buffer.compare(new Uint8Array(readFileSync(out)), new Uint8Array(readFileSync(image)))).toBe(0);
    }
    // one layout holds them all, each under its tag
    expect(checkLayout(join(dir, 'layout')).size).toBe(GOLDEN.length);
  });

  it('annotations: created, title, container (also as CRIU names it), arch, kernel, tasks, pid levels and format', async () => {
    const image = 'images/golden/ppc64-nested.tar';
    await exportToLayout(image, { dir: join(dir, 'l'), tag: undefined });
    const m = checkLayout(join(dir, 'l')).get('latest')!;
    expect(m.annotations).toEqual({
      [ANNOTATION.created]: statSync(image).mtime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      [ANNOTATION.title]: 'ppc64-nested.tar',
      [ANNOTATION.container]: 'nested',
      [ANNOTATION.criuContainerName]: 'nested',
      [ANNOTATION.arch]: 'ppc64',
      // the golden images record no personality: they are 2.6.32's
      [ANNOTATION.kernel]: '2.6.32',
      [ANNOTATION.tasks]: '6',
      [ANNOTATION.pidLevels]: '3',
      [ANNOTATION.format]: '1',
    });
    expect(m.layers[0]!.annotations).toEqual({ [ANNOTATION.title]: 'ppc64-nested.tar' });
  });

  it('the kernel personality an image records is the one annotated', async () => {
    const entries = untar(new Uint8Array(readFileSync('images/golden/x86_64-nested.tar')));
    const manifest = { ...(decode(entries.get('manifest.cbor')!) as object), kernel: 'mainline' };
    const cbor = new Uint8Array(encode(manifest));
    const rewritten = ENTRIES.map((name): [string, Uint8Array] => [name, name === 'manifest.cbor' ? cbor : name === 'manifest.sha256' ? manifestDigest(cbor) : entries.get(name)!]);
    const image = join(dir, 'old.tar');
    writeFileSync(image, tarBytes(rewritten));
    await exportToLayout(image, { dir: join(dir, 'l'), tag: 'old' });
    expect(checkLayout(join(dir, 'l')).get('old')!.annotations![ANNOTATION.kernel]).toBe('mainline');
  });

  it('exporting the same image again writes nothing; under another tag only index.json changes, by one entry', async () => {
    const image = 'images/golden/s390x-nested.tar';
    const ref = { dir: join(dir, 'l'), tag: 'one' };
    const first = await exportToLayout(image, ref);
    expect(first.blobsWritten).toBe(3);
    const before = listing(ref.dir);
    const again = await exportToLayout(image, ref);
    expect(again).toMatchObject({ blobsWritten: 0, indexChanged: false, manifest: first.manifest });
    expect(listing(ref.dir)).toEqual(before);
    // a copy of the image (another file, another mtime) is the same image: its manifest is reused
    const copy = join(dir, 'copy.tar');
    writeFileSync(copy, new Uint8Array(readFileSync(image)));
    const other = await exportToLayout(copy, { ...ref, tag: 'two' });
    expect(other).toMatchObject({ blobsWritten: 0, indexChanged: true, manifest: first.manifest });
    const after = listing(ref.dir);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const index = json(join(ref.dir, 'index.json'));
    expect(index.manifests.map((d: { digest: string; annotations: Record<string, string> }) => [d.digest, d.annotations[ANNOTATION.refName]])).toEqual([
      [first.manifest.digest, 'one'],
      [first.manifest.digest, 'two'],
    ]);
  });

  it('adding to a layout keeps every entry it does not touch byte for byte, and moving a tag replaces its entry', async () => {
    const l = join(dir, 'l');
    await exportToLayout('images/golden/i386-nested.tar', { dir: l, tag: 'a' });
    // another tool's entry, with its own key order and fields
    const index = json(join(l, 'index.json'));
    const foreign = { size: index.manifests[0].size, digest: index.manifests[0].digest, mediaType: OCI_MANIFEST, annotations: { [ANNOTATION.refName]: 'x', 'com.example': 'kept' } };
    index.manifests.push(foreign);
    index.annotations = { 'com.example.note': 'top-level' };
    writeFileSync(join(l, 'index.json'), JSON.stringify(index));
    await exportToLayout('images/golden/ppc-nested.tar', { dir: l, tag: 'a' });
    const after = json(join(l, 'index.json'));
    expect(JSON.stringify(after.manifests[0])).toBe(JSON.stringify(foreign));
    expect(after.annotations).toEqual({ 'com.example.note': 'top-level' });
    expect(after.manifests).toHaveLength(2);
    expect(checkLayout(l).get('a')!.annotations![ANNOTATION.arch]).toBe('ppc');
  });

  it('a directory that holds something else is not written into; nothing is added to it', async () => {
    const l = join(dir, 'notes');
    mkdirSync(l);
    writeFileSync(join(l, 'todo.txt'), 'x');
    await expect(exportToLayout('images/golden/i386-nested.tar', { dir: l, tag: 'a' })).rejects.toMatchObject({ code: 'CKPT_BAD_LAYOUT' });
    expect(readdirSync(l)).toEqual(['todo.txt']);
    // a layout of a version this ckpt does not know is not added to either
    const future = join(dir, 'future');
    mkdirSync(future);
    writeFileSync(join(future, 'oci-layout'), '{"imageLayoutVersion":"9.0.0"}');
    await expect(exportToLayout('images/golden/i386-nested.tar', { dir: future, tag: 'a' })).rejects.toMatchObject({ code: 'CKPT_BAD_LAYOUT' });
    expect(readdirSync(future)).toEqual(['oci-layout']);
    // a file where the directory should be
    writeFileSync(join(dir, 'file'), 'x');
    await expect(exportToLayout('images/golden/i386-nested.tar', { dir: join(dir, 'file'), tag: 'a' })).rejects.toMatchObject({ code: 'CKPT_WRITE_FAILED' });
  });

  it('a damaged image is not exported, and leaves no layout behind', async () => {
    const bytes = new Uint8Array(readFileSync('images/golden/i386-nested.tar'));
    bytes[bytes.length - 2000]! ^= 1;
    const image = join(dir, 'bad.tar');
    writeFileSync(image, bytes);
    await expect(exportToLayout(image, { dir: join(dir, 'l'), tag: 'a' })).rejects.toMatchObject({ name: 'ImageError' });
    expect(readdirSync(dir)).toEqual(['bad.tar']);
  });
});

describe('concurrent exports', { timeout: 30_000 }, () => {
  it('eight exports into one layout at once: every tag lands, none lost', async () => {
    const l = join(dir, 'l');
    await Promise.all(GOLDEN.concat(GOLDEN.slice(0, 2)).map((image, k) => exportToLayout(image, { dir: l, tag: `t${k}` })));
    expect([...checkLayout(l).keys()].sort()).toEqual(Array.from({ length: GOLDEN.length + 2 }, (_, k) => `t${k}`).sort());
  });
});

describe('the layout lock', { timeout: 30_000 }, () => {
  it('a lock left by a process that is gone is taken over; a live one is waited for, up to CKPT_LOCK_TIMEOUT', async () => {
    const l = join(dir, 'l');
    mkdirSync(l);
    // a pid that was a process and is no more
    const gone = spawnSync('true').pid!;
    writeFileSync(join(l, '.ckpt-lock'), String(gone));
    await exportToLayout('images/golden/i386-nested.tar', { dir: l, tag: 'a' });
    expect(readdirSync(l).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    writeFileSync(join(l, '.ckpt-lock'), String(process.pid));
    const timeout = process.env.CKPT_LOCK_TIMEOUT;
    process.env.CKPT_LOCK_TIMEOUT = '0.3';
    try {
      await expect(exportToLayout('images/golden/ppc-nested.tar', { dir: l, tag: 'b' })).rejects.toMatchObject({ code: 'CKPT_WRITE_FAILED', message: `layout ${l} is locked by process ${process.pid} (${join(l, '.ckpt-lock')}); waited 0.3 s (CKPT_LOCK_TIMEOUT)` });
    } finally {
      if (timeout === undefined) delete process.env.CKPT_LOCK_TIMEOUT;
      else process.env.CKPT_LOCK_TIMEOUT = timeout;
    }
    expect([...checkLayout(l).keys()]).toEqual(['a']);
  });
});

describe('temporary files a killed writer left', { timeout: 30_000 }, () => {
  it("the next export removes a dead writer's temporaries and keeps a live one's; the layout stays valid", async () => {
    const l = join(dir, 'l');
    await exportToLayout('images/golden/i386-nested.tar', { dir: l, tag: 'a' });
    const blobs = join(l, 'blobs', 'sha256');
    const gone = spawnSync('true').pid!;
    const dead = [join(l, `.ckpt-${gone}-0a1b2c.tmp`), join(blobs, `.ckpt-${gone}-3d4e5f.tmp`)];
    const live = join(blobs, `.ckpt-${process.pid}-abcdef.tmp`);
    for (const f of [...dead, live]) writeFileSync(f, 'half a blob');
    await exportToLayout('images/golden/ppc-nested.tar', { dir: l, tag: 'b' });
    expect(readdirSync(l).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(blobs).filter((f) => f.endsWith('.tmp'))).toEqual([`.ckpt-${process.pid}-abcdef.tmp`]);
    expect([...checkLayout(l).keys()].sort()).toEqual(['a', 'b']);
  });
});
