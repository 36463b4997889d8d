/**
 * The four moves of a checkpoint: export to and import from a layout, push
 * to and pull from a registry (through skopeo and a private temporary
 * layout). Every image is checked in full on the way in and on the way out.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomically } from '../disk/atomic-file.js';
import { ImageError } from '../image/format.js';
import { MAX_JSON_BYTES, parseJson, writeFailed } from './layout-files.js';
import { checkpointManifest, readLayoutImage, type Artifact } from './layout-reader.js';
import { checkImageBytes, readCheckedImage, type CheckedImage } from './checked-image.js';
import { exportImage, type ExportResult } from './layout-writer.js';
import { formatLayoutReference, type LayoutReference } from './reference.js';
import { haveSkopeo, INSTALL_SKOPEO, skopeoCopy, skopeoManifest, type CopyOptions } from './skopeo.js';

/** the tag of the private layout push and pull go through */
const STAGING_TAG = 'ckpt';

export interface Imported {
  image: CheckedImage;
  artifact: Artifact;
  bytes: number;
}

/** exportToLayout checks the image file and writes it into the layout. */
export async function exportToLayout(imagePath: string, ref: LayoutReference): Promise<ExportResult & { image: CheckedImage }> {
  const img = await readCheckedImage(imagePath);
  return { ...(await exportImage(imagePath, img, ref)), image: img };
}

/** writeImageBytes writes a checked image to `path` atomically. */
function writeImageBytes(path: string, bytes: Uint8Array): void {
  try {
    writeFileAtomically(path, bytes);
  } catch (e) {
    writeFailed(`image ${path}`, e);
  }
}

/** importFromLayout reads the checkpoint a reference names, checks it as an image and writes it to `out`, byte for byte. */
export async function importFromLayout(ref: LayoutReference, out: string): Promise<Imported> {
  const { bytes, artifact } = await readLayoutImage(ref);
  const image = checkImageBytes(bytes);
  writeImageBytes(out, bytes);
  return { image, artifact, bytes: bytes.length };
}

async function requireSkopeo(): Promise<void> {
  if (!(await haveSkopeo())) throw new ImageError('CKPT_NO_SKOPEO', INSTALL_SKOPEO);
}

/** withStaging runs `fn` with a fresh private directory (mode 0700) for a layout, removed afterwards. */
async function withStaging<T>(fn: (ref: LayoutReference) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-oci-'));
  try {
    // skopeo ends the directory of oci:DIR:TAG at the first colon
    if (dir.includes(':')) throw new ImageError('CKPT_WRITE_FAILED', `the temporary directory ${dir} has a colon in its path, which skopeo cannot name; set TMPDIR to another directory`);
    return await fn({ dir: join(dir, 'layout'), tag: STAGING_TAG });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** pushImage checks the image and copies it to the registry as an OCI artifact. */
export async function pushImage(imagePath: string, registryRef: string, opts: CopyOptions): Promise<ExportResult & { image: CheckedImage }> {
  await requireSkopeo();
  const img = await readCheckedImage(imagePath);
  return withStaging(async (ref) => {
    const r = await exportImage(imagePath, img, ref);
    await skopeoCopy(formatLayoutReference(ref), registryRef, opts);
    return { ...r, image: img };
  });
}

/** pullImage copies a checkpoint from the registry, checks the layout and the image, and writes the image to `out`. */
export async function pullImage(registryRef: string, out: string, opts: CopyOptions): Promise<Imported> {
  await requireSkopeo();
  // Not a checkpoint (an ordinary container image, say): refused before a blob is downloaded.
  // The copy is then checked in full as any layout.
  const raw = parseJson(await skopeoManifest(registryRef, opts, MAX_JSON_BYTES), `the manifest of ${registryRef}`);
  if (Array.isArray((raw as { manifests?: unknown } | null)?.manifests)) throw new ImageError('CKPT_NOT_AN_IMAGE', `${registryRef} is an image index, not a ckpt checkpoint (ckpt push makes one manifest; name a checkpoint's own by its digest, REPO@sha256:...)`);
  checkpointManifest(raw, registryRef);
  return withStaging(async (ref) => {
    await skopeoCopy(registryRef, formatLayoutReference(ref), opts);
    return importFromLayout(ref, out);
  });
}
