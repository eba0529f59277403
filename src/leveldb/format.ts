/**
 * LevelDB log format facts shared by the writer and the reader (LevelDB db/log_format.h,
 * util/crc32c.h): 32 KiB blocks, 7-byte headers, masked CRC-32C over type byte + payload.
 */

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

/** Added to rotated CRCs so that a CRC of data that itself contains CRCs stays well distributed (crc32c::kMaskDelta). */
export const MASK_DELTA = 0xa282ead8;

/** LevelDB's `crc32c::Mask`: rotate right by 15 bits, add a constant. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Stores `maskCrc(crc)` little-endian at `out[at, at + 4)`: the checksum field of a record header. */
export function putMaskedCrc(out: Uint8Array, at: number, crc: number): void {
  const c = maskCrc(crc);
  out[at] = c & 0xff;
  out[at + 1] = (c >>> 8) & 0xff;
  out[at + 2] = (c >>> 16) & 0xff;
  out[at + 3] = c >>> 24;
}

/** Inverse of `maskCrc`. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
