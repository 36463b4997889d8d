/**
 * Images on their way into or out of a layout are checked in full, as any
 * image a verb reads, and described for the manifest's annotations.
 */
import { decode } from 'cbor-x';
import { MAX_IMAGE_BYTES, untar } from '../image/archive.js';
import type { ContainerImage } from '../image/container-image.js';
import { FORMAT_VERSION } from '../image/format.js';
import { decodeImage } from '../image/image-codec.js';
import type { CheckpointFacts } from './artifact-manifest.js';
import { readRegularFile } from './layout-files.js';

/** the kernel personalities an image may record (src/kernel) */
const KERNELS = new Set(['mainline', '2.6.32']);
/** the personality of an image that records none */
const UNRECORDED_KERNEL = '2.6.32';

/** CheckedImage: an image's bytes, checked as an image, and what it is. */
export interface CheckedImage {
  bytes: Uint8Array;
  image: ContainerImage;
  /** the source host's kernel personality */
  kernel: string;
}

/** checkImageBytes decodes an image's bytes in full (every checksum and record) without looking for its programs. */
export function checkImageBytes(bytes: Uint8Array): CheckedImage {
  const entries = untar(bytes);
  const image = decodeImage(entries, null);
  // Read from the manifest as it is: an image records its personality only when it is not 2.6.32
  // (images written before personalities existed came from 2.6.32-era hosts).
  const raw = decode(entries.get('manifest.cbor')!) as { kernel?: unknown };
  const kernel = typeof raw.kernel === 'string' && KERNELS.has(raw.kernel) ? raw.kernel : UNRECORDED_KERNEL;
  return { bytes, image, kernel };
}

/** readCheckedImage reads and checks an image file. */
export async function readCheckedImage(path: string): Promise<CheckedImage & { mtime: Date }> {
  const { bytes, stats } = await readRegularFile(path, `image ${path}`, { max: MAX_IMAGE_BYTES, noFollow: false, code: 'CKPT_BAD_ARCHIVE' });
  return { ...checkImageBytes(bytes), mtime: stats.mtime };
}

/** factsOf: what the annotations say about an image; `title` its file name, `created` when it was written. */
export function factsOf(img: CheckedImage, title: string, created: Date): CheckpointFacts {
  return {
    container: img.image.name,
    arch: img.image.arch,
    kernel: img.kernel,
    tasks: img.image.tasks.length,
    pidLevels: img.image.tasks.reduce((d, t) => Math.max(d, t.numbers.length), 0),
    formatVersion: FORMAT_VERSION,
    created: created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    title,
  };
}
