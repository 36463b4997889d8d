/** toolVersion is ckpt's version, read from the package.json above this module (src/ in tests, dist/src/ when built). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function toolVersion(): string {
  if (cached) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ckpt' && pkg.version) return (cached = pkg.version);
    } catch {
      // not here: look further up
    }
  }
  return (cached = 'unknown');
}
