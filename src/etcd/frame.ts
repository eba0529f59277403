/**
 * etcd WAL frames: `u64 LE length word | walpb.Record | zero padding to 8 bytes` (spec §2), and
 * the chained CRC-32C every record carries (spec §5). Pure encoding: nothing here writes a file.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { type Entry, RecordType, checkEntry, putRecord, putVarintBig, putVarintNumber, recordSize, varintSizeBig, varintSizeNumber } from './codec';

/** Size of the length word in front of every record (etcd `frameSizeBytes`). */
export const FRAME_SIZE_BYTES = 8;

/**
 * etcd 3.4.10+ (and 3.5.0-3.5.4) refuse to read a frame with N >= this - P
 * (`maxWALEntrySizeLimit`, 10 MiB); we refuse to write one so every etcd can read what we write.
 */
export const MAX_WAL_ENTRY_SIZE_LIMIT = 10 * 1024 * 1024;

/** Zero bytes appended to a record of `n` bytes so the frame is a multiple of 8 (etcd `encodeFrameSize`). */
export function padBytes(n: number): number {
  return (8 - (n % 8)) % 8;
}

/** Total frame length (length word + record + padding) for a record of `n` bytes. */
export function frameLength(n: number): number {
  return FRAME_SIZE_BYTES + n + padBytes(n);
}

/** Writes the length word for a record of `n` bytes at `pos`: N, with `0x80|P` in the top byte when padded. */
export function putLengthWord(buf: Uint8Array, pos: number, n: number): void {
  const pad = padBytes(n);
  const lo = n % 0x100000000;
  const hi = Math.floor(n / 0x100000000);
  buf[pos] = lo & 0xff;
  buf[pos + 1] = (lo >>> 8) & 0xff;
  buf[pos + 2] = (lo >>> 16) & 0xff;
  buf[pos + 3] = lo >>> 24;
  buf[pos + 4] = hi & 0xff;
  buf[pos + 5] = (hi >>> 8) & 0xff;
  buf[pos + 6] = (hi >>> 16) & 0xff;
  buf[pos + 7] = pad !== 0 ? 0x80 | pad : 0;
}

/**
 * Decodes a length word as etcd's `decodeFrameSize`: N = low 56 bits; P = bits 56..58 only when
 * bit 63 is set. `n` is returned as a number (values past 2^53 saturate; the caller bounds them).
 */
export function decodeFrameSize(buf: Uint8Array, pos: number): { n: number; pad: number; zero: boolean } {
  const lo = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
  const hi24 = buf[pos + 4]! | (buf[pos + 5]! << 8) | (buf[pos + 6]! << 16);
  const top = buf[pos + 7]!;
  const n = hi24 * 0x100000000 + lo;
  const pad = top & 0x80 ? top & 7 : 0;
  return { n, pad, zero: lo === 0 && hi24 === 0 && top === 0 };
}

/** Throws ERR_WAL_RECORD_TOO_LARGE when a record of `n` bytes could not be read back by etcd 3.4.10+. */
export function checkRecordSize(n: number): void {
  if (n >= MAX_WAL_ENTRY_SIZE_LIMIT - padBytes(n)) {
    throw new WalError(
      WalErrorCodes.RECORD_TOO_LARGE,
      `record of ${n} bytes is too large: etcd 3.4.10+ cannot read frames of 10 MiB or more (limit ${MAX_WAL_ENTRY_SIZE_LIMIT - padBytes(n)})`,
    );
  }
}

/** Frames laid out back to back, the running CRC after the last one, and where each frame ends. */
export interface EncodedFrames {
  bytes: Uint8Array;
  crc: number;
  /** End offset (exclusive) of each frame in `bytes`; frame i starts at frameEnds[i-1] (or 0). */
  frameEnds: number[];
}

/** A record to frame: `data: null` means the field is absent (a crc record, or `create(dir, null)`). */
export interface RecordInput {
  type: number;
  data: Uint8Array | null;
}

/**
 * Frames `records` continuing the CRC chain from `crc` (etcd `encoder.encode` for each): every
 * record's crc field is the running CRC after its data. Refuses (ERR_WAL_RECORD_TOO_LARGE) before
 * producing anything if one record is too large.
 */
export function encodeFrames(io: IoBackend, records: readonly RecordInput[], crc: number): EncodedFrames {
  const crcs: number[] = [];
  const sizes: number[] = [];
  let total = 0;
  let running = crc >>> 0;
  for (const rec of records) {
    if (rec.data !== null) running = io.crc32c(rec.data, running);
    const n = recordSize(rec.type, running, rec.data === null ? null : rec.data.length);
    checkRecordSize(n);
    crcs.push(running);
    sizes.push(n);
    total += frameLength(n);
  }
  const bytes = new Uint8Array(total);
  const frameEnds: number[] = [];
  let pos = 0;
  for (let i = 0; i < records.length; i++) {
    const n = sizes[i]!;
    putLengthWord(bytes, pos, n);
    putRecord(bytes, pos + FRAME_SIZE_BYTES, records[i]!.type, crcs[i]!, records[i]!.data);
    pos += frameLength(n);
    frameEnds.push(pos);
  }
  return { bytes, crc: running, frameEnds };
}

// Record prefix of an entry frame: 08 02 | 10 crc(1..5) | 1a len(entry)
const MAX_CRC_VARINT = 5;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Varint size of a non-negative safe integer (unrolled: this runs several times per entry). */
function vsize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return varintSizeNumber(v);
}

/**
 * Fast path for Save: frames raftpb.Entry records without marshalling each entry separately.
 * Each entry's protobuf header and payload are written straight into the output (payload copied
 * once), all chained CRCs come from ONE `io.crc32cChain` call over the entry bytes in place, and
 * the frames whose crc varint turned out shorter than the 5 bytes reserved are compacted with
 * copyWithin. Byte-identical to `encodeFrames` with marshalled entries. `alloc` supplies the
 * output buffer (at least `size` bytes; its contents need not be zero).
 */
export function encodeEntryFrames(
  io: IoBackend,
  entries: readonly Entry[],
  crc: number,
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): EncodedFrames {
  const count = entries.length;
  // Upper bound of the output: header fields are at most 1+5 + 1+10 + 1+10 + 1+5 bytes.
  let bound = 0;
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    const data = e?.data;
    bound += FRAME_SIZE_BYTES + 2 + 1 + MAX_CRC_VARINT + 1 + 5 + 34 + 7 + (data instanceof Uint8Array ? data.length : 0);
  }
  // Every byte of the result is written below, so `alloc` may hand out reused (dirty) memory.
  const bytes = alloc(bound);
  const bounds = new Uint32Array(2 * count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    const type = e?.type;
    const term = e?.term;
    const index = e?.index;
    const data = e?.data;
    // Validation inline: Number() of a bigint is exact below 2^53, the common case.
    const tn = typeof term === 'bigint' ? Number(term) : -1;
    const xn = typeof index === 'bigint' ? Number(index) : -1;
    const fastTerm = tn >= 0 && tn <= MAX_SAFE;
    const fastIndex = xn >= 0 && xn <= MAX_SAFE;
    if (!fastTerm || !fastIndex || !(data === null || data instanceof Uint8Array) || typeof type !== 'number' || !(type >= 0 && type <= 0x7fffffff && Math.floor(type) === type)) {
      checkEntry(e); // throws with a precise message, or accepts a uint64 >= 2^53
    }
    const dlen = data === null ? 0 : data.length;
    const headerLen =
      2 + vsize(type) + (fastTerm ? vsize(tn) : varintSizeBig(term)) + 1 + (fastIndex ? vsize(xn) : varintSizeBig(index)) + (data === null ? 0 : 1 + vsize(dlen));
    const len = headerLen + dlen;
    const start = pos + FRAME_SIZE_BYTES + 2 + 1 + MAX_CRC_VARINT + 1 + vsize(len);
    let p = start;
    bytes[p++] = 0x08;
    p = type < 0x80 ? ((bytes[p] = type), p + 1) : putVarintNumber(bytes, p, type);
    bytes[p++] = 0x10;
    p = fastTerm ? (tn < 0x80 ? ((bytes[p] = tn), p + 1) : putVarintNumber(bytes, p, tn)) : putVarintBig(bytes, p, term);
    bytes[p++] = 0x18;
    p = fastIndex ? (xn < 0x80 ? ((bytes[p] = xn), p + 1) : putVarintNumber(bytes, p, xn)) : putVarintBig(bytes, p, index);
    if (data !== null) {
      bytes[p++] = 0x22;
      p = putVarintNumber(bytes, p, dlen);
      bytes.set(data, p);
      p += dlen;
    }
    bounds[2 * i] = start;
    bounds[2 * i + 1] = p;
    pos = p + 7;
  }
  const crcs = count > 0 ? io.crc32cChain(bytes, bounds, crc >>> 0) : new Uint32Array(0);

  // Exact sizes first, so a too-large record is refused before anything is returned.
  for (let i = 0; i < count; i++) {
    const len = bounds[2 * i + 1]! - bounds[2 * i]!;
    if (len >= MAX_WAL_ENTRY_SIZE_LIMIT - 32) checkRecordSize(entryRecordSize(crcs[i]!, len));
  }
  const frameEnds: number[] = new Array<number>(count);
  let out = 0;
  for (let i = 0; i < count; i++) {
    const src = bounds[2 * i]!;
    const len = bounds[2 * i + 1]! - src;
    const c = crcs[i]!;
    const n = entryRecordSize(c, len);
    const pad = (8 - (n % 8)) % 8;
    putLengthWord(bytes, out, n);
    let p = out + FRAME_SIZE_BYTES;
    bytes[p++] = 0x08;
    bytes[p++] = RecordType.Entry;
    bytes[p++] = 0x10;
    let v = c;
    while (v >= 0x80) {
      bytes[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    bytes[p++] = v;
    bytes[p++] = 0x1a;
    // p <= src - varint(len) always: the record prefix only shrinks.
    p = putVarintNumber(bytes, p, len);
    if (p !== src) bytes.copyWithin(p, src, src + len);
    p += len;
    for (let k = 0; k < pad; k++) bytes[p + k] = 0;
    out = p + pad;
    frameEnds[i] = out;
  }
  return { bytes: bytes.subarray(0, out), crc: count > 0 ? crcs[count - 1]! : crc >>> 0, frameEnds };
}

function entryRecordSize(crc: number, len: number): number {
  return 2 + 1 + vsize(crc) + 1 + vsize(len) + len;
}
