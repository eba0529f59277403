/**
 * LevelDB log format facts shared by the writer and the reader (LevelDB db/log_format.h,
 * util/crc32c.h): 32 KiB blocks, 7-byte headers, masked CRC-32C over type byte + payload.
 */
import type { IoBackend } from '../io/types';

/** Every log file is a sequence of blocks of this size; only the last one may be shorter. */
export const BLOCK_SIZE = 32768;
/** checksum (4) | length (2) | type (1). */
export const HEADER_SIZE = 7;
/** RocksDB recyclable header: the 7 bytes above followed by the low 32 bits of the log number. */
export const RECYCLABLE_HEADER_SIZE = 11;
/** Largest payload one physical record can carry (a fragment that starts a block). */
export const MAX_FRAGMENT = BLOCK_SIZE - HEADER_SIZE;

/** Physical record types (LevelDB kZeroType..kLastType; 5..8 are RocksDB's recyclable forms). */
export const RecordType = {
  ZERO: 0,
  FULL: 1,
  FIRST: 2,
  MIDDLE: 3,
  LAST: 4,
  RECYCLABLE_FULL: 5,
  RECYCLABLE_FIRST: 6,
  RECYCLABLE_MIDDLE: 7,
  RECYCLABLE_LAST: 8,
  SET_COMPRESSION: 9,
  USER_DEFINED_TIMESTAMP_SIZE: 10,
  RECYCLABLE_USER_DEFINED_TIMESTAMP_SIZE: 11,
  PREDECESSOR_WAL_INFO: 130,
  RECYCLABLE_PREDECESSOR_WAL_INFO: 131,
} as const;

/** Added to rotated CRCs so that a CRC of data that itself contains CRCs stays well distributed. */
const MASK_DELTA = 0xa282ead8;

/** LevelDB's `crc32c::Mask`: rotate right by 15 bits, add a constant. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Inverse of `maskCrc`. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/*
 * io.crc32cChain returns *chained* CRCs (slice i continues from slice i-1), while every LevelDB
 * fragment has its own CRC. CRC algebra gives them back without a second pass over the data:
 *   crc(A‖B) = crc(A)·x^(8|B|) mod P  xor  crc(B)
 * so crc(B) = chained_i xor shift(chained_{i-1}, |B|). `shift` is a 32-step carry-less
 * multiplication (the operator zlib's crc32_combine uses), cached per length.
 */
const POLY = 0x82f63b78;

/** a·b mod P, both in reflected representation (bit 31 is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..31, used to build x^(8n) by squaring. */
const X2N: Uint32Array = (() => {
  const table = new Uint32Array(32);
  let p = 0x40000000; // x^1
  for (let k = 0; k < 32; k++) {
    table[k] = p;
    p = multModP(p, p);
  }
  return table;
})();

/** Cache of x^(8n) mod P for n up to a block (fragment lengths plus the type byte). */
const shiftCache = new Uint32Array(BLOCK_SIZE + 8);

function xPow8n(n: number): number {
  if (n < shiftCache.length && shiftCache[n] !== 0) return shiftCache[n]!;
  let p = 0x80000000; // x^0
  let k = 3; // 8n = n·2^3
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2), k++) {
    if (rest % 2 === 1) p = multModP(X2N[k & 31]!, p);
  }
  if (n < shiftCache.length) shiftCache[n] = p;
  return p;
}

/**
 * Independent CRC-32C of each slice `data[bounds[2i], bounds[2i+1])`, computed with one
 * `io.crc32cChain` call (one native crossing for a whole batch or block).
 */
export function sliceCrcs(io: IoBackend, data: Uint8Array, bounds: Uint32Array): Uint32Array {
  const crcs = io.crc32cChain(data, bounds, 0);
  let previous = 0;
  for (let i = 0; i < crcs.length; i++) {
    const chained = crcs[i]!;
    const length = bounds[2 * i + 1]! - bounds[2 * i]!;
    crcs[i] = (chained ^ (previous === 0 ? 0 : multModP(xPow8n(length), previous))) >>> 0;
    previous = chained;
  }
  return crcs;
}
