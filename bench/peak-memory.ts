/**
 * Runs one ckpt command in this process and prints its peak resident
 * memory: `node dist/bench/peak-memory.js ARGV...` writes the command's own
 * output, then a last line `peak-rss-bytes N`. The peak is VmHWM of this
 * process's own address space (/proc/self/status), not getrusage's maxrss:
 * Linux carries the RSS of the process that forked us across exec into
 * maxrss (fs/exec.c, setmax_mm_hiwater_rss), so a large parent would be
 * counted as our peak.
 */
import { readFileSync } from 'node:fs';
import { run } from '../src/cli/main.js';

/** peakResident reads VmHWM (kB) from /proc/self/status, in bytes. */
function peakResident(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmHWM in /proc/self/status');
  return Number(m[1]) * 1024;
}

const code = await run(process.argv.slice(2), { out: () => undefined });
process.stdout.write(`peak-rss-bytes ${peakResident()}\n`);
process.exitCode = code;
