/**
 * Typed reads and writes of register and memory fields in either byte order.
 * Hot paths use the number forms (exact below 2^53, which covers every
 * address and value the model produces); round trips use the bigint forms so
 * that any 8-, 10- or 16-byte field survives byte for byte.
 */

const TWO32 = 2 ** 32;

// Offsets are computed into locals before a DataView call: V8 11 (Node 20)
// does not inline dv.getUint32(le ? a : b, le), and calls the builtin, about
// 50 instructions a time, where a local offset gives an inlined load.

/** readUnsigned returns the unsigned value of a 1/2/4/8-byte field as a number (8-byte values above 2^53 lose low bits). */
export function readUnsigned(dv: DataView, offset: number, size: number, le: boolean): number {
  switch (size) {
    case 1:
      return dv.getUint8(offset);
    case 2:
      return dv.getUint16(offset, le);
    case 4:
      return dv.getUint32(offset, le);
    case 8: {
      const hiAt = le ? offset + 4 : offset;
      const loAt = le ? offset : offset + 4;
      return dv.getUint32(hiAt, le) * TWO32 + dv.getUint32(loAt, le);
    }
    default:
      throw new RangeError(`readUnsigned: unsupported field size ${size}`);
  }
}

/** readSigned returns a 4- or 8-byte field as a C `long` of that width (exact within ±2^53). */
export function readSigned(dv: DataView, offset: number, size: number, le: boolean): number {
  const lo = readLow32(dv, offset, size, le);
  if (size !== 8) return lo | 0;
  const hi = readHigh32(dv, offset, size, le);
  return hi >= 0x80000000 ? (hi - TWO32) * TWO32 + lo : hi * TWO32 + lo;
}

/** readLow32 returns the low 32 bits of a 4- or 8-byte field, unsigned: what the kernel sees for an `int` or `u32` argument. */
export function readLow32(dv: DataView, offset: number, size: number, le: boolean): number {
  const at = size === 8 && !le ? offset + 4 : offset;
  return dv.getUint32(at, le);
}

/** readHigh32 returns the high 32 bits of an 8-byte field (0 for a 4-byte one). */
export function readHigh32(dv: DataView, offset: number, size: number, le: boolean): number {
  if (size !== 8) return 0;
  const at = le ? offset + 4 : offset;
  return dv.getUint32(at, le);
}

/**
 * writeWord stores `value` into a 1/2/4/8-byte field. Negative values are
 * stored in two's complement of the field's width, as a C assignment would.
 */
export function writeWord(dv: DataView, offset: number, size: number, le: boolean, value: number): void {
  switch (size) {
    case 1:
      dv.setUint8(offset, value & 0xff);
      return;
    case 2:
      dv.setUint16(offset, value & 0xffff, le);
      return;
    case 4:
      dv.setUint32(offset, value >>> 0, le);
      return;
    case 8: {
      let hi: number;
      let lo: number;
      if (value >= 0 && value < TWO32) {
        // most stores (a pid, a small number, an address of a 32-bit task) need no division
        hi = 0;
        lo = value >>> 0;
      } else if (value >= 0) {
        hi = Math.floor(value / TWO32) >>> 0;
        lo = value >>> 0;
      } else if (value >= -TWO32) {
        hi = 0xffffffff;
        lo = value >>> 0;
      } else {
        const b = BigInt.asUintN(64, BigInt(value));
        hi = Number(b >> 32n);
        lo = Number(b & 0xffffffffn);
      }
      const hiAt = le ? offset + 4 : offset;
      const loAt = le ? offset : offset + 4;
      dv.setUint32(hiAt, hi, le);
      dv.setUint32(loAt, lo, le);
      return;
    }
    default:
      throw new RangeError(`writeWord: unsupported field size ${size}`);
  }
}

/** readBig returns any field of 1..16 bytes as an unsigned bigint in the given byte order. */
export function readBig(bytes: Uint8Array, offset: number, size: number, le: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) {
    const b = bytes[le ? offset + size - 1 - i : offset + i] ?? 0;
    v = (v << 8n) | BigInt(b);
  }
  return v;
}

/** writeBig stores an unsigned bigint (taken modulo 2^(8*size)) into a field of 1..16 bytes. */
export function writeBig(bytes: Uint8Array, offset: number, size: number, le: boolean, value: bigint): void {
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    bytes[le ? offset + i : offset + size - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** toSigned32 reinterprets the low 32 bits of a number as a C `int`. */
export function toSigned32(v: number): number {
  return v | 0;
}
