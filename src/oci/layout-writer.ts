/**
 * Writing a checkpoint into an OCI image layout (creating the layout, or
 * adding to one): the image's blob, the empty config and the artifact
 * manifest first, each content-addressed and written atomically, then
 * index.json replaced atomically, so the index never names a blob that is
 * not there. Exporting the same image again writes no blob, and index.json
 * changes only to move or add the tag.
 */
import { mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { ImageError } from '../image/format.js';
import { artifactManifest, type BlobRef } from './artifact-manifest.js';
import { factsOf, type CheckedImage } from './checked-image.js';
import { badLayout, LayoutFiles, sha256Hex, writeFailed } from './layout-files.js';
import { withLayoutLock } from './layout-lock.js';
import { LayoutReader, type Artifact } from './layout-reader.js';
import { ANNOTATION, CKPT_IMAGE, EMPTY_JSON, LAYOUT_VERSION, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import { DEFAULT_TAG, type LayoutReference } from './reference.js';
import type { Descriptor } from './spec-schemas.js';

/** how many of the layout's checkpoints are looked at for one with the same image, to reuse its manifest */
const MAX_REUSE_CANDIDATES = 64;
export interface ExportResult {
  manifest: BlobRef;
  layer: BlobRef;
  tag: string;
  /** blobs written (0 when the layout had them all) */
  blobsWritten: number;
  indexChanged: boolean;
}

/** emptyIndex is the index.json of a new layout. */
function emptyIndex(): Record<string, unknown> & { manifests: Descriptor[] } {
  return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
}

/**
 * openForWriting makes the layout's directory ready: created if missing;
 * an existing one must be a layout already, or empty (ckpt does not write
 * into a directory that holds something else).
 */
async function openForWriting(files: LayoutFiles): Promise<LayoutReader | undefined> {
  const dir = files.dir;
  let exists: { layout: boolean; index: boolean; empty: boolean };
  try {
    exists = { layout: await files.exists('oci-layout'), index: await files.exists('index.json'), empty: await files.isEmpty() };
  } catch (e) {
    writeFailed(`layout directory ${dir}`, e);
  }
  if (exists.layout) {
    // an existing layout is read with every check a reader makes, so ckpt never adds to a layout it would refuse
    if (exists.index) return LayoutReader.open(dir);
    await LayoutReader.checkLayoutFile(files);
    return undefined;
  }
  if (!exists.empty) badLayout(`${dir} holds files but is not an OCI image layout (no oci-layout); ckpt writes a layout only into an empty or new directory`);
  await files.writeAtomically(files.path('oci-layout'), new TextEncoder().encode(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })), `${dir}/oci-layout`);
  return undefined;
}

/** sameImageIn looks for a checkpoint of the layout whose layer is this image: its manifest is reused. */
async function sameImageIn(reader: LayoutReader, layer: BlobRef): Promise<Artifact | undefined> {
  // entries other tools wrote (skopeo's) may not say their artifactType
  const candidates = reader.index.manifests.filter((d) => d.mediaType === OCI_MANIFEST && (d.artifactType === undefined || d.artifactType === CKPT_IMAGE)).slice(0, MAX_REUSE_CANDIDATES);
  for (const d of candidates) {
    try {
      const a = await reader.resolve(d);
      if (a && a.layer.digest === layer.digest && a.layer.size === layer.size) return a;
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      // a damaged entry is not reused; the export writes its own
    }
  }
  return undefined;
}

/**
 * exportImage writes the checked image `img` (read from `path`) into the
 * layout `ref` names, tagged `ref.tag` (default `latest`).
 */
export async function exportImage(path: string, img: CheckedImage & { mtime: Date }, ref: LayoutReference): Promise<ExportResult> {
  const files = new LayoutFiles(ref.dir);
  if (!(await files.isDirectory())) {
    try {
      await mkdir(ref.dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      writeFailed(`layout directory ${ref.dir}`, e);
    }
  }
  return withLayoutLock(ref.dir, () => exportLocked(files, path, img, ref.tag ?? DEFAULT_TAG));
}

/** exportLocked is exportImage's work, done holding the layout's lock. */
async function exportLocked(files: LayoutFiles, path: string, img: CheckedImage & { mtime: Date }, tag: string): Promise<ExportResult> {
  const reader = await openForWriting(files);
  await files.makeBlobDirectories();
  await files.sweepTemporaries();
  const layer: BlobRef = { digest: `sha256:${sha256Hex(img.bytes)}`, size: img.bytes.length };
  const reused = reader ? await sameImageIn(reader, layer) : undefined;
  let blobsWritten = 0;
  if (await files.writeBlob(img.bytes)) blobsWritten++;
  if (await files.writeBlob(EMPTY_JSON)) blobsWritten++;
  let manifest: BlobRef;
  if (reused) {
    manifest = { digest: reused.manifestDigest, size: reused.manifestSize };
  } else {
    const bytes = artifactManifest(layer, factsOf(img, basename(path), img.mtime));
    if (await files.writeBlob(bytes)) blobsWritten++;
    manifest = { digest: `sha256:${sha256Hex(bytes)}`, size: bytes.length };
  }
  // the index as it was read, so entries ckpt does not touch keep their bytes
  const index = reader ? (reader.rawIndex as ReturnType<typeof emptyIndex>) : emptyIndex();
  const tagged = index.manifests.filter((d) => d.annotations?.[ANNOTATION.refName] === tag);
  const unchanged = tagged.length === 1 && tagged[0]!.digest === manifest.digest;
  if (!unchanged) {
    const entry: Descriptor = { mediaType: OCI_MANIFEST, artifactType: CKPT_IMAGE, digest: manifest.digest, size: manifest.size, annotations: { [ANNOTATION.refName]: tag } };
    index.manifests = [...index.manifests.filter((d) => d.annotations?.[ANNOTATION.refName] !== tag), entry];
    await files.writeAtomically(files.path('index.json'), new TextEncoder().encode(JSON.stringify(index)), `${files.dir}/index.json`);
  }
  return { manifest, layer, tag, blobsWritten, indexChanged: !unchanged };
}
