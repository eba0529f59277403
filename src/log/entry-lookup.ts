/**
 * `get()`'s fast path over a span read from a checkpoint: walks the frames by their length words
 * to entry `index` and checks that entry's CRC alone, chained on the CRC stored in the frame
 * before it (each walpb.Record stores the running CRC after itself). The decoder checks every
 * frame of the span in one chain; for one entry of ~16 in a 2 KiB span that was most of a get's
 * cost (bench/README.md, `get()`).
 *
 * It only ever answers "found, and its bytes check": anything else (a frame that is not in the
 * canonical layout, a stored CRC that does not match, the entry not where the index says) returns
 * false, and the caller decodes the span with the decoder, which reports the error etcd's rules
 * give. So a damaged span costs a second read, never a different answer.
 */
import { type EntrySpan, LENIENT, type RecordSpan, RecordType, readCanonicalRecord, readEntrySpan } from '../etcd/codec';
import { FRAME_SIZE_BYTES, MAX_WAL_ENTRY_SIZE_LIMIT, decodeFrameSize } from '../etcd/frame';
import type { IoBackend } from '../io/types';

// Module-local copies: under a CommonJS loader (tsx) each read of an imported binding is a getter call.
const ENTRY = RecordType.Entry;
const HEADER_BYTES = FRAME_SIZE_BYTES;
const FRAME_LIMIT = MAX_WAL_ENTRY_SIZE_LIMIT;
const frameSize = decodeFrameSize;
const recordAt = readCanonicalRecord;
const entryAt = readEntrySpan;
const RULES = LENIENT;
/** The frame being looked at (module scratch: no object per frame). */
const rec: RecordSpan = { type: 0, crc: 0, dataStart: -1, dataEnd: -1 };

/**
 * Finds entry `index` in the frames of buf[0, length) (a frame boundary at 0, `crcBefore` the
 * running CRC there): true with the entry's place in `out` when its frame's CRC checks, false
 * when the decoder must look.
 */
export function findEntryInSpan(io: IoBackend, buf: Uint8Array, length: number, index: number, crcBefore: number, out: EntrySpan): boolean {
  let pos = 0;
  let before = crcBefore >>> 0;
  while (pos + HEADER_BYTES <= length) {
    const { n, pad, zero } = frameSize(buf, pos);
    if (zero || n >= FRAME_LIMIT - pad) return false;
    const start = pos + HEADER_BYTES;
    const next = start + n + pad;
    if (next > length || !recordAt(buf, start, start + n, rec)) return false;
    if (rec.type === ENTRY) {
      if (rec.dataStart < 0 || !entryAt(buf, rec.dataStart, rec.dataEnd, out, RULES)) return false;
      if (out.index === index) return io.crc32c(buf.subarray(rec.dataStart, rec.dataEnd), before) === rec.crc;
      // Past it: entries out of order are the decoder's to sort out (it finds the first match).
      if (out.index > index) return false;
    }
    before = rec.crc;
    pos = next;
  }
  return false;
}
