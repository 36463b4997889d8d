/**
 * The names ckpt's OCI artifacts use (images/FORMAT.md, "OCI artifacts").
 * The image-spec names are from opencontainers/image-spec v1.1.0
 * (media-types.md, manifest.md, annotations.md, image-layout.md).
 */
import { FORMAT_VERSION } from '../image/format.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
/** the empty config blob: the two bytes `{}` (image-spec v1.1 manifest.md, "Guidance for an Empty Descriptor") */
export const EMPTY_JSON = new TextEncoder().encode('{}');
export const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/**
 * CKPT_IMAGE is both the manifest's artifactType and the layer's mediaType:
 * the artifact is one ckpt image and the layer is that image, byte for
 * byte. `.tar` after the version follows OCI's own
 * `application/vnd.oci.image.layer.v1.tar` (`+tar` is not a registered
 * structured-syntax suffix, RFC 6838 §4.2.8).
 */
export const CKPT_IMAGE = `application/vnd.ckpt.image.v${FORMAT_VERSION}.tar`;

export const LAYOUT_VERSION = '1.0.0';

/** annotation keys: the image-spec's, CRIU's (checkpointctl) and ckpt's own under its vendor prefix */
export const ANNOTATION = {
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
  refName: 'org.opencontainers.image.ref.name',
  criuContainerName: 'org.criu.checkpoint.container.name',
  container: 'vnd.ckpt.image.container',
  arch: 'vnd.ckpt.image.arch',
  kernel: 'vnd.ckpt.image.kernel',
  tasks: 'vnd.ckpt.image.tasks',
  pidLevels: 'vnd.ckpt.image.pid-levels',
  format: 'vnd.ckpt.image.format',
} as const;
