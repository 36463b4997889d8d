/**
 * Registries through skopeo (the Debian package), driven with execa: ckpt
 * speaks no registry protocol itself. Push exports to a private temporary
 * layout and copies it to the registry; pull copies into one and reads it
 * back with every check a layout from anyone gets.
 */
import { ImageError } from '../image/format.js';

export const INSTALL_SKOPEO = 'skopeo is not installed: install it (Debian/Ubuntu: apt-get install skopeo; Fedora: dnf install skopeo) and run the command again';

export interface CopyOptions {
  /** false: the registry may be plain HTTP or have a certificate that is not trusted (a registry on 127.0.0.1) */
  tlsVerify: boolean;
}

/** lastLine is the last non-empty line skopeo printed, its error: the msg="..." of a logrus line, else the line. */
function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines[lines.length - 1] ?? '';
  const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line);
  const said = msg ? msg[1]!.replace(/\\(.)/g, '$1') : line;
  return said.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

/**
 * skopeoCopy runs `skopeo copy` from `src` to `dst` (oci:... and docker://...
 * references, checked by the caller). A missing skopeo is CKPT_NO_SKOPEO; a
 * failed copy is CKPT_TRANSFER_FAILED with skopeo's own last line.
 */
export async function skopeoCopy(src: string, dst: string, opts: CopyOptions): Promise<void> {
  const { execa } = await import('execa');
  const tls = src.startsWith('docker://') ? '--src-tls-verify' : '--dest-tls-verify';
  const r = await execa('skopeo', ['copy', '--quiet', `${tls}=${String(opts.tlsVerify)}`, '--', src, dst], { reject: false, stdin: 'ignore', stripFinalNewline: true });
  if ((r as { code?: string }).code === 'ENOENT') throw new ImageError('CKPT_NO_SKOPEO', INSTALL_SKOPEO);
  if (r.failed) throw new ImageError('CKPT_TRANSFER_FAILED', `skopeo copy ${src.startsWith('docker://') ? src : dst} failed: ${lastLine(String(r.stderr)) || (r.shortMessage ?? 'no message')}`);
}

/**
 * skopeoManifest fetches the manifest a registry reference names (`skopeo
 * inspect --raw`), at most `max` bytes, so a pull can refuse what is not a
 * checkpoint before downloading any blob.
 */
export async function skopeoManifest(ref: string, opts: CopyOptions, max: number): Promise<Uint8Array> {
  const { execa } = await import('execa');
  const r = await execa('skopeo', ['inspect', '--raw', `--tls-verify=${String(opts.tlsVerify)}`, '--', ref], { reject: false, stdin: 'ignore', encoding: 'buffer', maxBuffer: max });
  if ((r as { code?: string }).code === 'ENOENT') throw new ImageError('CKPT_NO_SKOPEO', INSTALL_SKOPEO);
  if ((r as { isMaxBuffer?: boolean }).isMaxBuffer) throw new ImageError('CKPT_BAD_LAYOUT', `the manifest of ${ref} is more than the ${max} bytes this ckpt reads`);
  if (r.failed) throw new ImageError('CKPT_TRANSFER_FAILED', `skopeo inspect ${ref} failed: ${lastLine(new TextDecoder().decode(r.stderr as Uint8Array)) || (r.shortMessage ?? 'no message')}`);
  return r.stdout as Uint8Array;
}

/** haveSkopeo: whether skopeo can be run (push and pull check this before doing any work). */
export async function haveSkopeo(): Promise<boolean> {
  const { execa } = await import('execa');
  const r = await execa('skopeo', ['--version'], { reject: false, stdin: 'ignore' });
  return !r.failed;
}
