/**
 * The LevelDB reader's fast path, the scan half: how far the plain FULL records at the start of a
 * block span reach. The native backend does it in one call (native/leveldb_scan.cc); this is the
 * same scan in TypeScript for the fallback, with the CRCs of the span batched into one io call.
 */
import type { IoBackend } from '../io/types';
import { HEADER_SIZE, RecordType, sliceCrcs, unmaskCrc } from './format';

const FULL = RecordType.FULL;
const HEADER = HEADER_SIZE;

/**
 * The offset of the first physical record in `block[from, to)` that is not a complete FULL record
 * whose masked CRC matches (checked when `verify`), or `to` when all are. Every record before the
 * returned offset is one LevelDB's reader returns as is (outside of resynchronisation and
 * fragment assembly, which the caller rules out).
 */
export function scanFullRecords(io: IoBackend, block: Uint8Array, from: number, to: number, verify: boolean): number {
  if (io.scanLevelDBFullRecords !== undefined) return io.scanLevelDBFullRecords(block, from, to, verify);
  return scanFullRecordsJs(io, block, from, to, verify);
}

/** The TypeScript scan (exported so tests can compare it with the native one). */
export function scanFullRecordsJs(io: IoBackend, block: Uint8Array, from: number, to: number, verify: boolean): number {
  let h = from;
  let count = 0;
  while (to - h >= HEADER) {
    const length = block[h + 4]! | (block[h + 5]! << 8);
    if (block[h + 6] !== FULL || length > to - h - HEADER) break;
    h += HEADER + length;
    count++;
  }
  if (!verify || count === 0) return h;
  // The CRC covers the type byte and the payload: [header + 6, header + 7 + length).
  const bounds = new Uint32Array(2 * count);
  h = from;
  for (let i = 0; i < count; i++) {
    const length = block[h + 4]! | (block[h + 5]! << 8);
    bounds[2 * i] = h + 6;
    bounds[2 * i + 1] = h + HEADER + length;
    h += HEADER + length;
  }
  const crcs = sliceCrcs(io, block, bounds);
  h = from;
  for (let i = 0; i < count; i++) {
    const stored = (block[h]! | (block[h + 1]! << 8) | (block[h + 2]! << 16) | (block[h + 3]! << 24)) >>> 0;
    if (crcs[i] !== unmaskCrc(stored)) return h;
    h = bounds[2 * i + 1]!;
  }
  return h;
}
