/**
 * The one LEB128 varint codec (protobuf's unsigned varint, LevelDB's varint32/64): 7 bits a byte,
 * least significant group first, the high bit set on every byte but the last. etcd's walpb/raftpb
 * messages, the Log's frames, LevelDB WriteBatches, forward batches and the CLI all use it.
 *
 * Reading is split in two so that no call allocates: `scanUvarint` finds where a varint ends (or
 * why it does not), then `getUvarint*` decodes the bytes it has checked. Hot loops (the decoder's
 * and encoders' canonical fast paths) still inline their own byte loops; this is the definition
 * they must agree with (test/unit/varint.test.ts).
 */

/** Most bytes a 64-bit varint takes. */
export const MAX_VARINT64_BYTES = 10;
/** Most bytes a 32-bit varint takes (LevelDB's varint32). */
export const MAX_VARINT32_BYTES = 5;
/** `scanUvarint`: the input ended inside the varint. */
export const VARINT_TRUNCATED = -1;
/** `scanUvarint`: every one of `maxBytes` bytes had its continuation bit set. */
export const VARINT_TOO_LONG = -2;

/** Bytes of the varint of a non-negative safe integer (unrolled: encoders call it per field). */
export function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let len = 5;
  for (n = Math.floor(n / 0x800000000); n > 0; n = Math.floor(n / 128)) len++;
  return len;
}

/** Bytes of the varint of a uint64 given as bigint. */
export function uvarintSizeBig(n: bigint): number {
  if (n <= 0x1fffffffffffffn) return uvarintSize(Number(n));
  let len = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    len++;
  }
  return len;
}

/** Writes the varint of a non-negative safe integer at `pos`; returns the position after it. */
export function putUvarint(out: Uint8Array, pos: number, n: number): number {
  if (n <= 0xffffffff) {
    // uint32: `&` keeps the low bits and `>>>` is exact.
    while (n >= 0x80) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
    return pos;
  }
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** Writes the varint of a uint64 given as bigint at `pos`; returns the position after it. */
export function putUvarintBig(out: Uint8Array, pos: number, n: bigint): number {
  if (n <= 0x1fffffffffffffn) return putUvarint(out, pos, Number(n));
  while (n >= 0x80n) {
    out[pos++] = Number(n & 0x7fn) | 0x80;
    n >>= 7n;
  }
  out[pos++] = Number(n);
  return pos;
}

/** The varint bytes of a uint64 given as bigint. */
export function uvarintBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(uvarintSizeBig(n));
  putUvarintBig(out, 0, n);
  return out;
}

/**
 * Where the varint at buf[pos] ends (the position after its last byte), reading no further than
 * `end` nor more than `maxBytes` bytes; VARINT_TRUNCATED or VARINT_TOO_LONG when it does not end.
 */
export function scanUvarint(buf: Uint8Array, pos: number, end: number, maxBytes: number = MAX_VARINT64_BYTES): number {
  const stop = Math.min(end, pos + maxBytes);
  for (let p = pos; p < stop; p++) if (buf[p]! < 0x80) return p + 1;
  return stop === end && end - pos < maxBytes ? VARINT_TRUNCATED : VARINT_TOO_LONG;
}

/**
 * The value of the varint at buf[pos] (already scanned) as a number: exact below 2^53, the
 * nearest double above (callers that can see such values bound them or use `getUvarintBig`).
 */
export function getUvarint(buf: Uint8Array, pos: number): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
}

/** The low 64 bits of the varint at buf[pos] (already scanned), as Go's uint64 decoding keeps them. */
export function getUvarintBig(buf: Uint8Array, pos: number): bigint {
  let lo = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    const b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) return BigInt(lo >>> 0);
  }
  let v = BigInt(lo >>> 0);
  for (let shift = 28n; ; shift += 7n) {
    const b = buf[pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asUintN(64, v);
  }
}

/** The low 32 bits of the varint at buf[pos] (already scanned), as Go's uint32 and LevelDB's varint32 keep them. */
export function getUvarint32(buf: Uint8Array, pos: number): number {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const b = buf[pos++]!;
    v |= (b & 0x7f) << shift; // bits past 32 fall off (shift 28 keeps the low 4 of the 5th byte)
    if (b < 0x80) return v >>> 0;
  }
  return v >>> 0;
}
