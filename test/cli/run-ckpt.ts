/** ckptIn runs the command line in-process against a state directory and captures its output. */
import { run } from '../../src/cli/main.js';

export async function ckptIn(root: string, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...argv, '--root', root], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
