/** Capability numbers (include/uapi/linux/capability.h) the model checks. */
export const CAP_KILL = 5;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;
export const CAP_CHECKPOINT_RESTORE = 40;
/** CAP_LAST_CAP in the model's capability space. */
export const CAP_LAST_CAP = 40;
/** _LINUX_CAPABILITY_VERSION_3: capset's header version for two 32-bit data words. */
export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** Capability sets are bitmasks held in a number: caps up to 40 fit in 2^53 exactly. */
export type CapSet = number;
export const ALL_CAPS: CapSet = 2 ** (CAP_LAST_CAP + 1) - 1;

/** hasCap reports whether `set` holds capability `cap`. */
export function hasCap(set: CapSet, cap: number): boolean {
  // >>> takes the low 32 bits of the set: integer shifts instead of a power and a division on every check.
  return cap < 32 ? ((set >>> cap) & 1) === 1 : ((Math.floor(set / 2 ** 32) >>> (cap - 32)) & 1) === 1;
}

/** capsFromWords joins capset's two 32-bit words (low, high) into one set. */
export function capsFromWords(low: number, high: number): CapSet {
  return (low >>> 0) + (high >>> 0) * 2 ** 32;
}

/** capsToWords splits a set into capget's two 32-bit words. */
export function capsToWords(set: CapSet): [number, number] {
  return [set % 2 ** 32 >>> 0, Math.floor(set / 2 ** 32) >>> 0];
}

/** isSubset reports whether every capability of `a` is in `b`. */
export function isSubset(a: CapSet, b: CapSet): boolean {
  const [al, ah] = capsToWords(a);
  const [bl, bh] = capsToWords(b);
  return ((al & ~bl) >>> 0) === 0 && ((ah & ~bh) >>> 0) === 0;
}
