/**
 * perAbi memoises something made once per ABI (compiled register accessors,
 * a syscall table). The last ABI asked for is checked first: every syscall
 * asks, a host runs one ABI, and the WeakMap lookups showed in the eclone
 * profile.
 */
import type { Arch } from './arch.js';

export function perAbi<T>(make: (abi: Arch) => T): (abi: Arch) => T {
  const made = new WeakMap<Arch, T>();
  let lastAbi: Arch | null = null;
  let last: T | undefined;
  return (abi) => {
    if (abi !== lastAbi) {
      let value = made.get(abi);
      if (value === undefined) made.set(abi, (value = make(abi)));
      lastAbi = abi;
      last = value;
    }
    return last!;
  };
}
