/**
 * restorerIsPrivileged says whether this ckpt process could name pids in a
 * real host's root pid namespace: eclone needs CAP_SYS_ADMIN, clone3's
 * set_tid CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (docs/semantics.md §4.4
 * step 7, §5.3), read from the effective set in /proc/self/status.
 */
import { readFileSync } from 'node:fs';
import { CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN } from '../abi/capabilities.js';

/** effectiveCaps reads CapEff as a bigint; null where /proc is not there. */
function effectiveCaps(): bigint | null {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    return line ? BigInt(`0x${line.slice('CapEff:'.length).trim()}`) : null;
  } catch {
    return null;
  }
}

export function restorerIsPrivileged(via: 'eclone' | 'clone3'): boolean {
  const caps = effectiveCaps();
  if (caps === null) return process.geteuid?.() === 0;
  const has = (cap: number): boolean => (caps >> BigInt(cap)) % 2n === 1n;
  return has(CAP_SYS_ADMIN) || (via === 'clone3' && has(CAP_CHECKPOINT_RESTORE));
}
