/**
 * The LevelDB reader's fast path, the scan half: how far the plain FULL records at the start of a
 * block span reach. The native backend does it in one call (native/leveldb_scan.cc, asked for by
 * native-scan.ts); this is the same scan in TypeScript for every other backend, with the CRCs of
 * the span batched into one io call.
 */
import type { IoBackend } from '../io/types';
import { sliceCrcs } from '../crc32c-combine';
import { HEADER_SIZE, RecordType, unmaskCrc } from './format';

const FULL = RecordType.FULL;
const HEADER = HEADER_SIZE;

/** CRC bounds of the records of one span, reused across calls (a block holds at most 4,682 records). */
let scratch = new Uint32Array(0);

/**
 * The offset of the first physical record in `block[from, to)` that is not a complete FULL record
 * whose masked CRC matches (checked when `verify`), or `to` when all are. Every record before the
 * returned offset is one LevelDB's reader returns as is (outside of resynchronisation and
 * fragment assembly, which the caller rules out).
 */
export function scanFullRecordsJs(io: IoBackend, block: Uint8Array, from: number, to: number, verify: boolean): number {
  // One walk finds the run and, for each record, the bytes its CRC covers: the type byte and the
  // payload, [header + 6, header + 7 + length).
  let h = from;
  let count = 0;
  while (to - h >= HEADER) {
    const length = block[h + 4]! | (block[h + 5]! << 8);
    if (block[h + 6] !== FULL || length > to - h - HEADER) break;
    if (scratch.length < 2 * (count + 1)) {
      const bigger = new Uint32Array(Math.max(64, 2 * scratch.length));
      bigger.set(scratch);
      scratch = bigger;
    }
    scratch[2 * count] = h + 6;
    scratch[2 * count + 1] = h + HEADER + length;
    h += HEADER + length;
    count++;
  }
  if (!verify || count === 0) return h;
  const crcs = sliceCrcs(io, block, scratch.subarray(0, 2 * count));
  for (let i = 0; i < count; i++) {
    const at = scratch[2 * i]! - 6;
    const stored = (block[at]! | (block[at + 1]! << 8) | (block[at + 2]! << 16) | (block[at + 3]! << 24)) >>> 0;
    if (crcs[i] !== unmaskCrc(stored)) return at;
  }
  return h;
}
