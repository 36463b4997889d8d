/**
 * The checkpoint image format, version 1 (images/FORMAT.md): a tar archive
 * whose entries do not grow in number with the container. The manifest comes
 * first and carries the SHA-256 of every other entry.
 */
export const IMAGE_MAGIC = 'CKPT-IMAGE';
export const FORMAT_VERSION = 1;
export const TOOL_VERSION = 'ckpt 0.1.0';

/** ENTRIES: every entry of a v1 image, in archive order (manifest.sha256 makes every byte of an image checked). */
export const ENTRIES = ['manifest.cbor', 'manifest.sha256', 'namespaces.cbor', 'tasks.cbor', 'memory.cbor', 'files.cbor', 'programs.cbor', 'scheduler.cbor', 'pages.bin'] as const;
export type EntryName = (typeof ENTRIES)[number];

/** ImageError codes are stable: scripts may match on them. */
export type ImageErrorCode =
  | 'CKPT_NOT_AN_IMAGE'
  | 'CKPT_BAD_VERSION'
  | 'CKPT_BAD_ARCHIVE'
  | 'CKPT_BAD_CHECKSUM'
  | 'CKPT_BAD_RECORD'
  | 'CKPT_INCONSISTENT'
  | 'CKPT_PRIVILEGE'
  | 'CKPT_MISSING_PROGRAM'
  | 'CKPT_WRITE_FAILED'
  /** an OCI image layout that is malformed or unsafe to read (src/oci) */
  | 'CKPT_BAD_LAYOUT'
  /** an oci:DIR[:TAG] or docker:// reference that cannot be parsed */
  | 'CKPT_BAD_REFERENCE'
  /** a tag (or a default one) that names no checkpoint in the layout */
  | 'CKPT_TAG_NOT_FOUND'
  /** push or pull without skopeo installed */
  | 'CKPT_NO_SKOPEO'
  /** skopeo could not copy to or from the registry */
  | 'CKPT_TRANSFER_FAILED'
  | 'CKPT_READ_FAILED'
  | 'CKPT_TRUNCATED'
  | 'CKPT_OUTPUT_EXISTS'
  | 'CKPT_NO_ZSTD';

/** ImageError: an image that cannot be read (or written), with a stable code and a message naming what is wrong. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    /** every problem of this kind, when there are several (each program missing) */
    readonly problems?: ReadonlyArray<{ code: ImageErrorCode; message: string }>,
  ) {
    super(message);
  }
}
