/**
 * Issue 21, hostile layouts: a layout from anyone gets the guarantees a tar
 * image gets. Every case below must be refused with an ImageError carrying
 * a stable code, or (for a harmless change) give back exactly the exported
 * image; never an exception of another kind, never a read or a write
 * outside the layout's directory. An outside directory holds a *valid*
 * layout of another image, so following any trick out of the layout would
 * succeed, and be seen.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../../src/image/format.js';
import { MAX_BLOBS_VISITED, MAX_INDEX_DEPTH } from '../../src/oci/layout-reader.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.js';
import { exportToLayout, importFromLayout } from '../../src/oci/transfer.js';

const IMAGE = 'images/golden/i386-nested.tar';
const OTHER = 'images/golden/ppc-nested.tar';
const imageBytes = new Uint8Array(readFileSync(IMAGE));

let work: string;
/** a pristine layout of IMAGE tagged t, copied for each case */
let pristine: string;
/** a valid layout of OTHER, outside every case's layout */
let outside: string;
let caseNo = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ckpt-hostile-oci-'));
  pristine = join(work, 'pristine');
  outside = join(work, 'outside');
  await exportToLayout(IMAGE, { dir: pristine, tag: 't' });
  await exportToLayout(OTHER, { dir: outside, tag: 't' });
}, 30_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/** Layout: a fresh copy of the pristine layout, with helpers to damage it. */
class Layout {
  readonly dir = join(work, `case-${++caseNo}`);
  constructor() {
    cpSync(pristine, this.dir, { recursive: true });
  }
  blob(hex: string): string {
    return join(this.dir, 'blobs', 'sha256', hex);
  }
  get index(): { manifests: Array<Record<string, unknown>> } & Record<string, unknown> {
    return readJson(join(this.dir, 'index.json'));
  }
  set index(v: unknown) {
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify(v));
  }
  get manifestHex(): string {
    return (this.index.manifests[0]!.digest as string).slice(7);
  }
  get manifest(): Record<string, unknown> & { layers: Array<Record<string, unknown>>; config: Record<string, unknown> } {
    return readJson(this.blob(this.manifestHex));
  }
  get layerHex(): string {
    return (this.manifest.layers[0]!.digest as string).slice(7);
  }
  /** put stores a blob under its digest and returns a descriptor for it */
  put(value: unknown, mediaType: string): Record<string, unknown> {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    writeFileSync(this.blob(sha(text)), text);
    return { mediaType, digest: `sha256:${sha(text)}`, size: Buffer.byteLength(text) };
  }
  /** reseal stores a changed manifest and points the index at it, so the change is reached past the digest checks */
  reseal(manifest: unknown): void {
    const d = this.put(manifest, OCI_MANIFEST);
    const index = this.index;
    index.manifests[0] = { ...index.manifests[0], digest: d.digest, size: d.size };
    this.index = index;
  }
}

/** outcome imports the case's layout: a code for a refusal, 'same' for the exported image, and fails the test on anything else. */
async function outcome(dir: string, tag: string | null = 't'): Promise<string> {
  const out = join(work, `out-${caseNo}.tar`);
  try {
    await importFromLayout({ dir, tag: tag ?? undefined }, out);
  } catch (e) {
    if (!(e instanceof ImageError)) throw new Error(`not an ImageError: ${(e as Error).stack}`);
    // nothing from the layout reaches the terminal unescaped
    expect(e.message).toMatch(/^[^\u0000-\u001f\u007f-\u009f]*$/);
    expect(existsSync(out)).toBe(false);
    return e.code;
  }
  const got = new Uint8Array(readFileSync(out));
  rmSync(out);
  if (Buffer.compare(got, imageBytes) !== 0) throw new Error(`imported something other than the exported image (${got.length} bytes)`);
  return 'same';
}

describe('hostile layouts: paths and files', { timeout: 30_000 }, () => {
  it('a symbolic link for a blob, for blobs/, blobs/sha256/ or index.json is not followed (it leads to a valid layout outside)', async () => {
    const links: Array<[string, (l: Layout) => void]> = [
      ['layer blob', (l) => {
        const hex = l.layerHex;
        rmSync(l.blob(hex));
        // the outside layout's copy of the *same* image: only following the link could make this succeed
        writeFileSync(join(outside, 'same-image'), imageBytes);
        symlinkSync(join(outside, 'same-image'), l.blob(hex));
      }],
      ['manifest blob', (l) => {
        const hex = l.manifestHex;
        cpSync(l.blob(hex), join(outside, 'manifest-copy'));
        rmSync(l.blob(hex));
        symlinkSync(join(outside, 'manifest-copy'), l.blob(hex));
      }],
      ['blobs/', (l) => {
        renameSync(join(l.dir, 'blobs'), join(outside, `blobs-${caseNo}`));
        symlinkSync(join(outside, `blobs-${caseNo}`), join(l.dir, 'blobs'));
      }],
      ['blobs/sha256/', (l) => {
        renameSync(join(l.dir, 'blobs', 'sha256'), join(outside, `sha256-${caseNo}`));
        symlinkSync(join(outside, `sha256-${caseNo}`), join(l.dir, 'blobs', 'sha256'));
      }],
      ['index.json', (l) => {
        renameSync(join(l.dir, 'index.json'), join(outside, `index-${caseNo}.json`));
        symlinkSync(join(outside, `index-${caseNo}.json`), join(l.dir, 'index.json'));
      }],
    ];
    for (const [what, damage] of links) {
      const l = new Layout();
      damage(l);
      expect(await outcome(l.dir), what).toBe('CKPT_BAD_LAYOUT');
    }
  });

  it('digests that are not sha256 with 64 lowercase hex digits never become paths', async () => {
    for (const digest of ['sha256:../../outside/blobs/sha256/x', `sha256:${'A'.repeat(64)}`, `sha512:${'0'.repeat(128)}`, 'sha256:', `sha256:${'0'.repeat(63)}/`, `sha256:${'0'.repeat(65)}`]) {
      const l = new Layout();
      const index = l.index;
      index.manifests[0]!.digest = digest;
      l.index = index;
      expect(await outcome(l.dir), digest).toMatch(/^CKPT_BAD_LAYOUT$/);
      const m = new Layout();
      const manifest = m.manifest;
      manifest.layers[0]!.digest = digest;
      m.reseal(manifest);
      expect(await outcome(m.dir), `layer ${digest}`).toBe('CKPT_BAD_LAYOUT');
    }
  });

  it('a FIFO, a directory or a device for a blob is refused without waiting or reading it', async () => {
    for (const kind of ['fifo', 'dir', 'device']) {
      const l = new Layout();
      const p = l.blob(l.layerHex);
      rmSync(p);
      if (kind === 'fifo') execFileSync('mkfifo', [p]);
      else if (kind === 'dir') mkdirSync(p);
      else symlinkSync('/dev/zero', p);
      expect(await outcome(l.dir), kind).toBe('CKPT_BAD_LAYOUT');
    }
  });

  it('a tag or a key with control characters is shown escaped', async () => {
    const l = new Layout();
    const index = l.index;
    index.manifests.push({ ...index.manifests[0], annotations: { 'org.opencontainers.image.ref.name': '\u001b]0;pwned\u0007' } });
    l.index = index;
    const err = await importFromLayout({ dir: l.dir, tag: 'nope' }, join(work, 'x.tar')).catch((e: Error) => e);
    expect((err as Error).message).toBe(`nope: no manifest is tagged nope (its tags: t, "\\u001b]0;pwned\\u0007")`.replace(/^/, `oci:${l.dir}:`));
    const m = new Layout();
    const manifest = m.manifest;
    (manifest.annotations as Record<string, unknown>)['\u009b2J'] = 7;
    m.reseal(manifest);
    expect(await outcome(m.dir)).toBe('CKPT_BAD_LAYOUT');
  });

  it('missing pieces: the directory, oci-layout, index.json, blobs/, a blob', async () => {
    expect(await outcome(join(work, 'nowhere'))).toBe('CKPT_BAD_LAYOUT');
    writeFileSync(join(work, 'a-file'), 'x');
    expect(await outcome(join(work, 'a-file'))).toBe('CKPT_BAD_LAYOUT');
    for (const part of ['oci-layout', 'index.json', 'blobs']) {
      const l = new Layout();
      rmSync(join(l.dir, part), { recursive: true });
      expect(await outcome(l.dir), part).toBe('CKPT_BAD_LAYOUT');
    }
    const l = new Layout();
    rmSync(l.blob(l.layerHex));
    expect(await outcome(l.dir)).toBe('CKPT_BAD_LAYOUT');
  });
});

describe('hostile layouts: sizes and digests', { timeout: 30_000 }, () => {
  it('sizes: negative, fractional, huge, or not the blob\'s; contents not the digest\'s', async () => {
    const cases: Array<[string, (l: Layout) => void, string]> = [
      ['negative manifest size', (l) => { const i = l.index; i.manifests[0]!.size = -1; l.index = i; }, 'CKPT_BAD_LAYOUT'],
      ['fractional size', (l) => { const i = l.index; i.manifests[0]!.size = 10.5; l.index = i; }, 'CKPT_BAD_LAYOUT'],
      ['manifest claims 1 TiB', (l) => { const i = l.index; i.manifests[0]!.size = 2 ** 40; l.index = i; }, 'CKPT_BAD_LAYOUT'],
      ['manifest size off by one', (l) => { const i = l.index; i.manifests[0]!.size = (i.manifests[0]!.size as number) + 1; l.index = i; }, 'CKPT_BAD_CHECKSUM'],
      ['layer claims 2^53 bytes', (l) => { const m = l.manifest; m.layers[0]!.size = 2 ** 53; l.reseal(m); }, 'CKPT_BAD_LAYOUT'],
      ['layer claims 5 GiB', (l) => { const m = l.manifest; m.layers[0]!.size = 5 * 2 ** 30; l.reseal(m); }, 'CKPT_BAD_LAYOUT'],
      ['layer size one short', (l) => { const m = l.manifest; m.layers[0]!.size = (m.layers[0]!.size as number) - 1; l.reseal(m); }, 'CKPT_BAD_CHECKSUM'],
      ['layer bytes changed', (l) => { const p = l.blob(l.layerHex); const b = readFileSync(p); b[b.length - 3000]! ^= 4; writeFileSync(p, new Uint8Array(b)); }, 'CKPT_BAD_CHECKSUM'],
      ['manifest bytes changed', (l) => { const p = l.blob(l.manifestHex); writeFileSync(p, readFileSync(p, 'utf8').replace('nested', 'nestee')); }, 'CKPT_BAD_CHECKSUM'],
      ['index.json of 5 MiB', (l) => writeFileSync(join(l.dir, 'index.json'), ' '.repeat(5 * 2 ** 20)), 'CKPT_BAD_LAYOUT'],
      ['index.json nested a million deep', (l) => { const i = JSON.stringify(l.index); writeFileSync(join(l.dir, 'index.json'), `${i.slice(0, -1)},"x":${'['.repeat(1e6)}${']'.repeat(1e6)}}`); }, 'CKPT_BAD_LAYOUT'],
      ['index.json nested 65 deep', (l) => { const i = JSON.stringify(l.index); writeFileSync(join(l.dir, 'index.json'), `${i.slice(0, -1)},"x":${'['.repeat(64)}${']'.repeat(64)}}`); }, 'CKPT_BAD_LAYOUT'],
      ['harmless: index.json nested 64 deep, brackets in strings', (l) => { const i = JSON.stringify(l.index); writeFileSync(join(l.dir, 'index.json'), `${i.slice(0, -1)},"x":${'['.repeat(63)}"]]\\\"[[["${']'.repeat(63)}}`); }, 'same'],
      ['another image behind the right digest', (l) => { const other = new Uint8Array(readFileSync(OTHER)); const m = l.manifest; m.layers[0]!.digest = `sha256:${sha(other)}`; m.layers[0]!.size = other.length; writeFileSync(l.blob(sha(other)), other); l.reseal(m); }, 'other'],
    ];
    for (const [what, damage, code] of cases) {
      const l = new Layout();
      damage(l);
      if (code === 'other') {
        // a consistent layout of another image is no attack: it is read, and is that image
        await expect(outcome(l.dir), what).rejects.toThrow(/imported something other than the exported image/);
      } else expect(await outcome(l.dir), what).toBe(code);
    }
  });

  it('not a checkpoint: another artifactType, config or layer type, two layers, an index holding none', async () => {
    const cases: Array<[string, (m: Record<string, unknown> & { layers: Array<Record<string, unknown>>; config: Record<string, unknown> }) => void, string]> = [
      ['artifactType', (m) => { m.artifactType = 'application/vnd.example+json'; }, 'CKPT_NOT_AN_IMAGE'],
      ['no artifactType', (m) => { delete m.artifactType; }, 'CKPT_NOT_AN_IMAGE'],
      ['config type', (m) => { m.config.mediaType = 'application/vnd.oci.image.config.v1+json'; }, 'CKPT_BAD_LAYOUT'],
      ['config data', (m) => { m.config.data = 'e319'; }, 'CKPT_BAD_LAYOUT'],
      ['layer type', (m) => { m.layers[0]!.mediaType = 'application/vnd.oci.image.layer.v1.tar'; }, 'CKPT_BAD_LAYOUT'],
      ['two layers', (m) => { m.layers.push(m.layers[0]!); }, 'CKPT_BAD_LAYOUT'],
      ['no layers', (m) => { m.layers = []; }, 'CKPT_BAD_LAYOUT'],
      ['schemaVersion 1', (m) => { m.schemaVersion = 1; }, 'CKPT_BAD_LAYOUT'],
      ['an index mediaType', (m) => { m.mediaType = OCI_INDEX; }, 'CKPT_BAD_LAYOUT'],
      ['harmless: an unknown field and an annotation', (m) => { m['x-extra'] = [1, 2]; (m.annotations as Record<string, string>)['com.example'] = 'y'; }, 'same'],
    ];
    for (const [what, change, code] of cases) {
      const l = new Layout();
      const m = l.manifest;
      change(m);
      l.reseal(m);
      expect(await outcome(l.dir), what).toBe(code);
    }
    const l = new Layout();
    const index = l.index;
    index.manifests[0] = l.put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }, OCI_INDEX);
    l.index = index;
    expect(await outcome(l.dir, null)).toBe('CKPT_NOT_AN_IMAGE');
  });

  it('nested indexes: found through a few, refused past the depth bound, a cycle stopped by its digest, a wide fan-out bounded', async () => {
    const nest = (l: Layout, levels: number): void => {
      let d: Record<string, unknown> = { mediaType: OCI_MANIFEST, digest: l.index.manifests[0]!.digest, size: l.index.manifests[0]!.size };
      for (let k = 0; k < levels; k++) d = l.put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [d] }, OCI_INDEX);
      l.index = { schemaVersion: 2, manifests: [{ ...d, annotations: { 'org.opencontainers.image.ref.name': 't' } }] };
    };
    const shallow = new Layout();
    nest(shallow, MAX_INDEX_DEPTH);
    expect(await outcome(shallow.dir)).toBe('same');
    const deep = new Layout();
    nest(deep, MAX_INDEX_DEPTH + 1);
    expect(await outcome(deep.dir)).toBe('CKPT_BAD_LAYOUT');
    // an index that names itself: stored under the digest it names, which cannot be its own
    const cycle = new Layout();
    const self = `sha256:${'ab'.repeat(32)}`;
    const text = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_INDEX, digest: self, size: 0 }] });
    const selfDescriptor = { mediaType: OCI_INDEX, digest: self, size: Buffer.byteLength(text) };
    writeFileSync(cycle.blob(self.slice(7)), JSON.stringify({ schemaVersion: 2, manifests: [selfDescriptor] }).padEnd(selfDescriptor.size));
    cycle.index = { schemaVersion: 2, manifests: [{ ...selfDescriptor, annotations: { 'org.opencontainers.image.ref.name': 't' } }] };
    expect(await outcome(cycle.dir)).toMatch(/^CKPT_BAD_(CHECKSUM|LAYOUT)$/);
    // many entries that are other artifacts: reading stops at the bound
    const wide = new Layout();
    const others = Array.from({ length: MAX_BLOBS_VISITED + 10 }, (_, k) => {
      const m = { ...wide.manifest, artifactType: 'application/vnd.example+json', annotations: { n: String(k) } };
      return wide.put(m, OCI_MANIFEST);
    });
    const fan = wide.put({ schemaVersion: 2, manifests: [...others, { mediaType: OCI_MANIFEST, digest: wide.index.manifests[0]!.digest, size: wide.index.manifests[0]!.size }] }, OCI_INDEX);
    wide.index = { schemaVersion: 2, manifests: [{ ...fan, annotations: { 'org.opencontainers.image.ref.name': 't' } }] };
    expect(await outcome(wide.dir)).toBe('CKPT_BAD_LAYOUT');
  });
});

describe('hostile layouts: writing', { timeout: 30_000 }, () => {
  it('export never writes through a symbolic link out of the layout', async () => {
    const target = join(work, 'target');
    mkdirSync(target);
    for (const [what, damage] of [
      ['blobs/', (l: Layout) => { rmSync(join(l.dir, 'blobs'), { recursive: true }); symlinkSync(target, join(l.dir, 'blobs')); }],
      ['blobs/sha256/', (l: Layout) => { rmSync(join(l.dir, 'blobs', 'sha256'), { recursive: true }); symlinkSync(target, join(l.dir, 'blobs', 'sha256')); }],
      ['index.json nested a million deep', (l: Layout) => { const i = JSON.stringify(l.index); writeFileSync(join(l.dir, 'index.json'), `${i.slice(0, -1)},"x":${'['.repeat(1e6)}${']'.repeat(1e6)}}`); }],
      ['index.json', (l: Layout) => { writeFileSync(join(target, 'index.json'), readFileSync(join(l.dir, 'index.json'), 'utf8')); rmSync(join(l.dir, 'index.json')); symlinkSync(join(target, 'index.json'), join(l.dir, 'index.json')); }],
    ] as const) {
      const l = new Layout();
      damage(l);
      const before = readdirSync(target).map((f) => [f, sha(new Uint8Array(readFileSync(join(target, f))))]);
      await expect(exportToLayout(OTHER, { dir: l.dir, tag: 'u' }), what).rejects.toMatchObject({ code: 'CKPT_BAD_LAYOUT' });
      expect(readdirSync(target).map((f) => [f, sha(new Uint8Array(readFileSync(join(target, f))))]), what).toEqual(before);
    }
  });
});

/** JSON paths a mutation may touch, in index.json and in the manifest */
const INDEX_PATHS = [['schemaVersion'], ['mediaType'], ['manifests'], ['manifests', 0], ['manifests', 0, 'mediaType'], ['manifests', 0, 'digest'], ['manifests', 0, 'size'], ['manifests', 0, 'annotations'], ['manifests', 0, 'annotations', 'org.opencontainers.image.ref.name'], ['manifests', 0, 'artifactType'], ['manifests', 1]];
const MANIFEST_PATHS = [['schemaVersion'], ['mediaType'], ['artifactType'], ['config'], ['config', 'mediaType'], ['config', 'digest'], ['config', 'size'], ['config', 'data'], ['layers'], ['layers', 0], ['layers', 0, 'mediaType'], ['layers', 0, 'digest'], ['layers', 0, 'size'], ['layers', 1], ['annotations'], ['subject']];
const INTERESTING = fc.constantFrom<unknown>(
  null, true, 0, -1, 1.5, 2 ** 31, 2 ** 53, 1e300, '', 'x', [], {}, 't',
  'sha256:../../outside/index.json', `sha256:${'0'.repeat(64)}`, `sha256:${'F'.repeat(64)}`, `sha512:${'0'.repeat(128)}`, `sha256:${sha('{}')}`,
  OCI_INDEX, OCI_MANIFEST, 'application/vnd.oci.empty.v1+json', 'application/vnd.example+json', 'text/plain', 'application/vnd.ckpt.image.v1.tar', '../../../../etc/passwd',
  '\u001b]0;pwned\u0007', '\u009b2J', { '\u001b[2J': 1 }, { 'org.opencontainers.image.ref.name': '\u001b[31mt' },
);

function setPath(root: unknown, path: ReadonlyArray<string | number>, value: unknown, remove: boolean): void {
  let at = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) {
    if (at === null || typeof at !== 'object' || !(k in at)) return;
    at = at[k] as Record<string | number, unknown>;
  }
  if (at === null || typeof at !== 'object') return;
  const last = path[path.length - 1]!;
  if (remove) delete at[last];
  else at[last] = value;
}

describe('hostile layouts: fuzzed', { timeout: 30_000 }, () => {
  it('300 fixed-seed mutations of index.json, the manifest (resealed or not) and the blobs: refused with a code, or the same image', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('json' as const), file: fc.constantFrom('index', 'manifest'), path: fc.nat(100), value: fc.oneof({ arbitrary: INTERESTING, weight: 3 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 }), remove: fc.boolean(), reseal: fc.boolean() }),
      // a manifest made into another kind of thing, resealed so the change is reached
      fc.record({ kind: fc.constant('retype' as const), path: fc.constantFrom(['artifactType'], ['mediaType'], ['config', 'mediaType'], ['layers', 0, 'mediaType']), value: fc.constantFrom(OCI_INDEX, OCI_MANIFEST, 'application/vnd.example+json', 'application/vnd.oci.image.config.v1+json', 'application/vnd.oci.image.layer.v1.tar+gzip') }),
      fc.record({ kind: fc.constant('bytes' as const), file: fc.constantFrom('oci-layout', 'index.json', 'manifest', 'layer', 'config'), op: fc.constantFrom('flip', 'truncate', 'append', 'empty'), at: fc.nat() }),
    );
    const tally = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (muts) => {
        const l = new Layout();
        for (const m of muts) {
          if (m.kind === 'retype') {
            try {
              const doc = l.manifest;
              setPath(doc, m.path, m.value, false);
              l.reseal(doc);
            } catch {
              continue; // an earlier mutation left the manifest or the index unreadable
            }
          } else if (m.kind === 'json') {
            const isIndex = m.file === 'index';
            let doc: unknown;
            try {
              doc = isIndex ? l.index : l.manifest;
            } catch {
              continue; // an earlier mutation left it unreadable
            }
            const paths = isIndex ? INDEX_PATHS : MANIFEST_PATHS;
            setPath(doc, paths[m.path % paths.length]!, m.value, m.remove);
            if (isIndex) l.index = doc;
            else if (m.reseal) {
              try {
                l.reseal(doc);
              } catch {
                continue; // the index no longer has an entry to point
              }
            } else writeFileSync(l.blob(l.manifestHex), JSON.stringify(doc));
          } else {
            let p: string;
            try {
              p = m.file === 'oci-layout' || m.file === 'index.json' ? join(l.dir, m.file) : l.blob(m.file === 'manifest' ? l.manifestHex : m.file === 'layer' ? l.layerHex : sha('{}'));
            } catch {
              continue;
            }
            if (!existsSync(p) || !statSync(p).isFile()) continue; // an earlier mutation made the name point elsewhere
            const b = new Uint8Array(readFileSync(p));
            const at = b.length === 0 ? 0 : m.at % b.length;
            if (m.op === 'flip' && b.length > 0) b[at]! ^= 1 << (m.at % 8);
            writeFileSync(p, m.op === 'truncate' ? b.subarray(0, at) : m.op === 'append' ? new Uint8Array([...b, 0x20, 0x7b]) : m.op === 'empty' ? new Uint8Array(0) : b);
          }
        }
        const code = await outcome(l.dir);
        tally.set(code, (tally.get(code) ?? 0) + 1);
        rmSync(l.dir, { recursive: true, force: true });
      }),
      { numRuns: 300, seed: 20261203 },
    );
    // the mutations reach past the first checks: digests, schemas and checkpoint checks all refuse some
    for (const code of ['CKPT_BAD_LAYOUT', 'CKPT_BAD_CHECKSUM', 'CKPT_NOT_AN_IMAGE', 'same']) expect(tally.get(code) ?? 0, `${code} in ${JSON.stringify([...tally])}`).toBeGreaterThan(0);
  }, 120_000);
});
