/**
 * The OCI 1.1 artifact manifest that carries one ckpt image: artifactType
 * CKPT_IMAGE, the empty config descriptor, the image as its one layer, and
 * annotations a person or a registry UI can read. Pure: the same facts give
 * the same bytes, so exporting an image twice writes nothing new.
 */
import { ANNOTATION, CKPT_IMAGE, EMPTY_DIGEST, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST } from './media-types.js';

/** CheckpointFacts: what the annotations say about the image. */
export interface CheckpointFacts {
  container: string;
  arch: string;
  /** the kernel personality of the source host */
  kernel: string;
  tasks: number;
  /** pid levels inside the container (the deepest task's) */
  pidLevels: number;
  formatVersion: number;
  /** RFC 3339: when the image file was written */
  created: string;
  /** the image's file name */
  title: string;
}

export interface BlobRef {
  digest: string;
  size: number;
}

/** annotationsFor: the manifest's annotations, in a fixed order. */
export function annotationsFor(f: CheckpointFacts): Record<string, string> {
  return {
    [ANNOTATION.created]: f.created,
    [ANNOTATION.title]: f.title,
    [ANNOTATION.container]: f.container,
    [ANNOTATION.criuContainerName]: f.container,
    [ANNOTATION.arch]: f.arch,
    [ANNOTATION.kernel]: f.kernel,
    [ANNOTATION.tasks]: String(f.tasks),
    [ANNOTATION.pidLevels]: String(f.pidLevels),
    [ANNOTATION.format]: String(f.formatVersion),
  };
}

/** artifactManifest: the manifest's JSON bytes (compact, fixed key order). */
export function artifactManifest(layer: BlobRef, f: CheckpointFacts): Uint8Array {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: CKPT_IMAGE,
    config: { mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: EMPTY_JSON.length, data: Buffer.from(EMPTY_JSON).toString('base64') },
    // the layer's title is the file name tools such as oras give the blob when they pull it
    layers: [{ mediaType: CKPT_IMAGE, digest: layer.digest, size: layer.size, annotations: { [ANNOTATION.title]: f.title } }],
    annotations: annotationsFor(f),
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}
