/**
 * Reading a checkpoint out of an OCI image layout, which may come from
 * anyone: every JSON file is bounded and validated against the image-spec
 * schemas, every digest must be sha256 with 64 hex digits, every blob is
 * checked against its digest and size before use, nested indexes are
 * followed to a bounded depth and a bounded number of blobs, and no name in
 * the layout becomes a path (layout-files.ts).
 */
import { MAX_IMAGE_BYTES } from '../image/archive.js';
import { ImageError } from '../image/format.js';
import { parseDigest } from './digest.js';
import { badLayout, LayoutFiles, MAX_JSON_BYTES, parseJson } from './layout-files.js';
import { ANNOTATION, CKPT_IMAGE, EMPTY_DIGEST, EMPTY_JSON, LAYOUT_VERSION, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import { DEFAULT_TAG, formatLayoutReference, isValidTag, type LayoutReference } from './reference.js';
import { shown } from './shown.js';
import { indexSchema, layoutFileSchema, manifestSchema, type Descriptor, type Index, type Manifest } from './spec-schemas.js';

/** how deep indexes may nest below index.json */
export const MAX_INDEX_DEPTH = 4;
/** how many manifests and nested indexes one lookup may read */
export const MAX_BLOBS_VISITED = 64;

/** schemaIssue refuses a JSON value that breaks its image-spec schema, naming the first problem. */
function validated<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  badLayout(`${what}: ${issue.path.length === 0 ? '(root)' : shown(issue.path.map(String).join('.'))}: ${issue.message}`);
}

/** checkedDescriptor refuses a descriptor whose digest is not sha256 or whose size is not a byte count within `max`. */
function checkedDescriptor(d: Descriptor, max: number, what: string): Descriptor {
  parseDigest(d.digest);
  if (!Number.isSafeInteger(d.size) || d.size < 0) badLayout(`${what}: size ${d.size} is not a byte count`);
  if (d.size > max) badLayout(`${what}: size ${d.size} is more than the ${max} bytes this ckpt reads for it`);
  return d;
}

/**
 * checkpointManifest checks a manifest is a ckpt checkpoint: the image-spec
 * schema, artifactType, the empty config, one layer of the ckpt media type
 * within the size an image may have. Returns the manifest and its layer.
 */
export function checkpointManifest(value: unknown, what: string): { manifest: Manifest; layer: Descriptor } {
  const manifest = validated(manifestSchema, value, what);
  if (manifest.artifactType !== CKPT_IMAGE) throw new ImageError('CKPT_NOT_AN_IMAGE', `${what} is not a ckpt checkpoint: its artifactType is ${manifest.artifactType ?? '(none)'}, not ${CKPT_IMAGE}`);
  if (manifest.mediaType !== undefined && manifest.mediaType !== OCI_MANIFEST) badLayout(`${what}: its mediaType is ${manifest.mediaType}`);
  const c = manifest.config;
  if (c.mediaType !== OCI_EMPTY || c.digest !== EMPTY_DIGEST || c.size !== EMPTY_JSON.length) badLayout(`${what}: its config is not the empty descriptor (${OCI_EMPTY}, ${EMPTY_DIGEST}, size 2)`);
  if (c.data !== undefined && c.data !== Buffer.from(EMPTY_JSON).toString('base64')) badLayout(`${what}: its config's data is not {}`);
  if (manifest.layers.length !== 1) badLayout(`${what}: a checkpoint has one layer, this manifest has ${manifest.layers.length}`);
  const layer = checkedDescriptor(manifest.layers[0]!, MAX_IMAGE_BYTES, `${what}: layer 0`);
  if (layer.mediaType !== CKPT_IMAGE) badLayout(`${what}: its layer is ${layer.mediaType}, not ${CKPT_IMAGE}`);
  return { manifest, layer };
}

/** Artifact: a ckpt checkpoint found in a layout, with its image layer still to be read. */
export interface Artifact {
  manifestDigest: string;
  manifestSize: number;
  manifest: Manifest;
  layer: Descriptor;
}

/** LayoutReader looks checkpoints up in one layout. */
export class LayoutReader {
  private visited = 0;

  private constructor(
    readonly files: LayoutFiles,
    readonly index: Index,
    /** index.json as parsed, key order and unknown fields kept, for a writer to add to */
    readonly rawIndex: unknown,
  ) {}

  /** checkLayoutFile checks oci-layout: the image-layout version this ckpt knows. */
  static async checkLayoutFile(files: LayoutFiles): Promise<void> {
    const layout = validated(layoutFileSchema, await files.readJson('oci-layout'), `${files.dir}/oci-layout`);
    if (layout.imageLayoutVersion !== LAYOUT_VERSION) badLayout(`${files.dir}/oci-layout: version ${layout.imageLayoutVersion} is not ${LAYOUT_VERSION}`);
  }

  /** open checks the layout's directory, oci-layout, blob directories and index.json. */
  static async open(dir: string): Promise<LayoutReader> {
    const files = new LayoutFiles(dir);
    if (!(await files.isDirectory())) badLayout(`${dir} is not a directory holding an OCI image layout`);
    await LayoutReader.checkLayoutFile(files);
    await files.checkBlobDirectories();
    const raw = await files.readJson('index.json');
    const index = validated(indexSchema, raw, `${dir}/index.json`);
    return new LayoutReader(files, index, raw);
  }

  /** tags: the ref.name of every entry of index.json, in order. */
  tags(): string[] {
    return this.index.manifests.map((d) => d.annotations?.[ANNOTATION.refName]).filter((t): t is string => t !== undefined);
  }

  /** tagList names the layout's tags for a message, any that is not a valid tag quoted and escaped. */
  private tagList(): string {
    const tags = this.tags();
    if (tags.length === 0) return 'it has no tags';
    return `its tags: ${tags.slice(0, 10).map((t) => (isValidTag(t) ? t : shown(t, 40))).join(', ')}${tags.length > 10 ? ', …' : ''}`;
  }

  /**
   * entryFor picks index.json's entry for `tag`; without a tag, `latest`
   * when there is one, else the only entry.
   */
  entryFor(ref: LayoutReference): Descriptor {
    const entries = this.index.manifests;
    const named = (tag: string) => entries.filter((d) => d.annotations?.[ANNOTATION.refName] === tag);
    const tag = ref.tag ?? DEFAULT_TAG;
    const hits = named(tag);
    if (hits.length > 1) badLayout(`${this.files.dir}/index.json has ${hits.length} entries tagged ${tag}; a tag names one`);
    if (hits.length === 1) return hits[0]!;
    if (ref.tag === undefined && entries.length === 1) return entries[0]!;
    const known = this.tagList();
    throw new ImageError('CKPT_TAG_NOT_FOUND', `${formatLayoutReference(ref)}: ${ref.tag === undefined ? `the layout has ${entries.length} manifests and none is tagged ${DEFAULT_TAG}; name one with oci:DIR:TAG` : `no manifest is tagged ${tag}`} (${known})`);
  }

  /** readJsonBlob reads a manifest or nested index as its descriptor describes it. */
  private async readJsonBlob(d: Descriptor, what: string): Promise<unknown> {
    if (++this.visited > MAX_BLOBS_VISITED) badLayout(`${this.files.dir}: looking up the checkpoint reads more than ${MAX_BLOBS_VISITED} manifests and indexes`);
    checkedDescriptor(d, MAX_JSON_BYTES, what);
    return parseJson(await this.files.readBlob(d.digest, d.size, MAX_JSON_BYTES), what);
  }

  /**
   * resolve follows a descriptor to a ckpt artifact: a manifest is checked
   * as one, an index is searched (depth first, bounded) for the first entry
   * that resolves. Returns undefined when a nested index holds none.
   */
  async resolve(d: Descriptor, depth = 0): Promise<Artifact | undefined> {
    const what = `${d.mediaType} ${d.digest}`;
    if (d.mediaType === OCI_MANIFEST) return this.artifactAt(d, what);
    if (d.mediaType !== OCI_INDEX) {
      if (depth === 0) throw new ImageError('CKPT_NOT_AN_IMAGE', `${what} is neither an OCI manifest nor an index`);
      return undefined;
    }
    if (depth >= MAX_INDEX_DEPTH) badLayout(`indexes nest deeper than ${MAX_INDEX_DEPTH} levels below index.json at ${d.digest}`);
    const index = validated(indexSchema, await this.readJsonBlob(d, what), what);
    if (index.mediaType !== undefined && index.mediaType !== OCI_INDEX) badLayout(`${what}: its mediaType is ${index.mediaType}`);
    for (const entry of index.manifests) {
      // only checkpoints are looked for: an entry that says it is something else is not read
      if (entry.artifactType !== undefined && entry.artifactType !== CKPT_IMAGE) continue;
      if (entry.mediaType !== OCI_MANIFEST && entry.mediaType !== OCI_INDEX) continue;
      try {
        const found = await this.resolve(entry, depth + 1);
        if (found) return found;
      } catch (e) {
        // a manifest of something else beside a checkpoint in an index is passed over; damage is not
        if (!(e instanceof ImageError && e.code === 'CKPT_NOT_AN_IMAGE')) throw e;
      }
    }
    if (depth === 0) throw new ImageError('CKPT_NOT_AN_IMAGE', `index ${d.digest} holds no ckpt checkpoint (artifactType ${CKPT_IMAGE})`);
    return undefined;
  }

  /** artifactAt reads a manifest and checks it is a ckpt checkpoint: artifactType, empty config, one image layer. */
  private async artifactAt(d: Descriptor, what: string): Promise<Artifact | undefined> {
    const { manifest, layer } = checkpointManifest(await this.readJsonBlob(d, what), what);
    return { manifestDigest: d.digest, manifestSize: d.size, manifest, layer };
  }

  /** find: the checkpoint a reference names. */
  async find(ref: LayoutReference): Promise<Artifact> {
    const entry = checkedDescriptor(this.entryFor(ref), MAX_JSON_BYTES, `${this.files.dir}/index.json`);
    return (await this.resolve(entry))!;
  }

  /** readImage reads the artifact's image bytes, checked against the layer's digest and size. */
  readImage(a: Artifact): Promise<Uint8Array> {
    return this.files.readBlob(a.layer.digest, a.layer.size, MAX_IMAGE_BYTES);
  }
}

/** readLayoutImage: the image bytes a reference names, every digest and size on the way checked. */
export async function readLayoutImage(ref: LayoutReference): Promise<{ bytes: Uint8Array; artifact: Artifact }> {
  const reader = await LayoutReader.open(ref.dir);
  const artifact = await reader.find(ref);
  return { bytes: await reader.readImage(artifact), artifact };
}
