/**
 * Runs one ckpt command in this process and prints its peak resident
 * memory: `node dist/bench/peak-memory.js ARGV...` writes the command's own
 * output, then a last line `peak-rss-bytes N`.
 */
import { run } from '../src/cli/main.js';

const code = await run(process.argv.slice(2), { out: () => undefined });
process.stdout.write(`peak-rss-bytes ${process.resourceUsage().maxRSS * 1024}\n`);
process.exitCode = code;
