declare module 'crc-32/crc32c' {
  /** CRC-32C of `data`, continuing from `seed` (a previous signed result). Returns a signed int32. */
  export function buf(data: Uint8Array | number[], seed?: number): number;
}
