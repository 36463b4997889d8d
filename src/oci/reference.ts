/**
 * References to where a checkpoint travels: `oci:DIR[:TAG]`, an OCI image
 * layout on disk as skopeo names it (the directory ends at the first colon),
 * and `docker://REGISTRY/REPO[:TAG|@DIGEST]`, a registry. A tag is never
 * used as a path: it only names an entry of the layout's index.json.
 */
import { ImageError } from '../image/format.js';

export interface LayoutReference {
  dir: string;
  /** the ref.name of the manifest; undefined: `latest`, or the layout's only manifest when reading */
  tag: string | undefined;
}

export const DEFAULT_TAG = 'latest';

/**
 * REF_NAME is image-layout.md's grammar for org.opencontainers.image.ref.name:
 * components of alphanumerics joined by [-._:@+] or "--", separated by "/".
 */
const COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const MAX_TAG = 255;

/**
 * DOCKER_REFERENCE follows the distribution reference grammar: a host
 * (with a port) or first path component, lowercase path components joined
 * by separators, then a tag and/or a sha256 digest.
 */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOCKER_REFERENCE = new RegExp(`^docker://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`);
const MAX_DOCKER_REFERENCE = 4096;

function bad(why: string): never {
  throw new ImageError('CKPT_BAD_REFERENCE', why);
}

export function isLayoutReference(s: string): boolean {
  return s.startsWith('oci:');
}

export function isValidTag(tag: string): boolean {
  return tag.length <= MAX_TAG && REF_NAME.test(tag);
}

/** parseLayoutReference reads `oci:DIR[:TAG]`. */
export function parseLayoutReference(s: string): LayoutReference {
  if (!isLayoutReference(s)) bad(`${JSON.stringify(s)} is not an OCI layout reference: write oci:DIR or oci:DIR:TAG`);
  const rest = s.slice('oci:'.length);
  const colon = rest.indexOf(':');
  const dir = colon < 0 ? rest : rest.slice(0, colon);
  const tag = colon < 0 ? undefined : rest.slice(colon + 1);
  if (dir === '') bad(`${JSON.stringify(s)} names no directory: write oci:DIR or oci:DIR:TAG`);
  if (dir.includes('\0')) bad('the directory of an OCI layout reference cannot contain a NUL byte');
  if (tag !== undefined && !isValidTag(tag)) bad(`${JSON.stringify(tag)} is not a valid tag: letters and digits, joined by . _ - : @ + or / (image-layout ref.name grammar), at most ${MAX_TAG} characters`);
  return { dir, tag };
}

/** parseRegistryReference checks `docker://REGISTRY/REPO[:TAG][@sha256:HEX]` and returns it unchanged. */
export function parseRegistryReference(s: string): string {
  if (!s.startsWith('docker://')) bad(`${JSON.stringify(s.slice(0, 200))} is not a registry reference: write docker://REGISTRY/REPO:TAG`);
  if (s.length > MAX_DOCKER_REFERENCE || !DOCKER_REFERENCE.test(s)) bad(`${JSON.stringify(s.slice(0, 200))} is not a valid registry reference: write docker://REGISTRY[:PORT]/REPO[:TAG], with a lowercase repository`);
  return s;
}

export function formatLayoutReference(r: LayoutReference): string {
  return `oci:${r.dir}${r.tag === undefined ? '' : `:${r.tag}`}`;
}
