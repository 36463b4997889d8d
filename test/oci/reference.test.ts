/** oci:DIR[:TAG] and docker:// references: what parses, and what is refused. */
import { describe, expect, it } from 'vitest';
import { formatLayoutReference, isValidTag, parseLayoutReference, parseRegistryReference } from '../../src/oci/reference.js';

describe('references', { timeout: 30_000 }, () => {
  it('oci:DIR[:TAG]: the directory ends at the first colon (as skopeo reads it); the rest is the tag', () => {
    expect(parseLayoutReference('oci:ckpts')).toEqual({ dir: 'ckpts', tag: undefined });
    expect(parseLayoutReference('oci:/srv/ckpts:web-1')).toEqual({ dir: '/srv/ckpts', tag: 'web-1' });
    expect(parseLayoutReference('oci:../up:v1.0')).toEqual({ dir: '../up', tag: 'v1.0' });
    expect(parseLayoutReference('oci:d:team/web:2@x')).toEqual({ dir: 'd', tag: 'team/web:2@x' });
    expect(formatLayoutReference(parseLayoutReference('oci:d:a'))).toBe('oci:d:a');
    for (const bad of ['oci:', 'oci::t', 'ocid:x', 'x', 'oci:d:', 'oci:d:../x', 'oci:d:a b', 'oci:d:a\u001b[2J', 'oci:a\0b']) {
      expect(() => parseLayoutReference(bad), bad).toThrow(expect.objectContaining({ code: 'CKPT_BAD_REFERENCE' }));
    }
  });

  it('tags follow image-layout.md\'s ref.name grammar', () => {
    for (const ok of ['latest', 'v1.0', 'a--b', 'a_b', 'a+b', 'a@b', 'a:b', 'team/web', 'X9']) expect(isValidTag(ok), ok).toBe(true);
    for (const bad of ['', '-a', 'a-', 'a..b', '.a', 'a/', '/a', 'a//b', 'a---b', 'a b', 'ä', 'x'.repeat(256)]) expect(isValidTag(bad), bad).toBe(false);
  });

  it('docker://: a registry host (with a port) or none, lowercase repository components, a tag and/or a sha256 digest', () => {
    for (const ok of ['docker://127.0.0.1:5000/ckpt/web:1', 'docker://registry.example.com/team/web', 'docker://ubuntu', 'docker://localhost:5000/a_b/c-d:T.1', `docker://r.io/x@sha256:${'a'.repeat(64)}`, `docker://r.io/x:1@sha256:${'b'.repeat(64)}`]) {
      expect(parseRegistryReference(ok), ok).toBe(ok);
    }
    for (const bad of ['docker://', 'docker:///x', 'docker://-x/y', 'docker://r.io/Web', 'docker://r.io/x:-1', 'docker://r.io/x y', 'docker://r.io/x@sha256:abc', 'oci:x', 'https://r.io/x', `docker://r.io/${'x/'.repeat(3000)}x`]) {
      expect(() => parseRegistryReference(bad), bad).toThrow(expect.objectContaining({ code: 'CKPT_BAD_REFERENCE' }));
    }
  });
});
