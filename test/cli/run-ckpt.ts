/** ckptIn runs the command line in-process against a state directory and captures its output. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/cli/main.js';

export async function ckptIn(root: string, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...argv, '--root', root], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** stateBytes fingerprints every file under a directory, names and contents: equal before and after means nothing changed. */
export function stateBytes(d: string): string {
  const h = createHash('sha256');
  const walk = (p: string): void => {
    for (const name of readdirSync(p).sort()) {
      const f = join(p, name);
      h.update(`${f}\n`);
      if (statSync(f).isDirectory()) walk(f);
      else h.update(new Uint8Array(readFileSync(f)));
    }
  };
  walk(d);
  return h.digest('hex');
}
