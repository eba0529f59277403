/**
 * etcd WAL frames: `u64 LE length word | walpb.Record | zero padding to 8 bytes` (spec §2), and
 * the chained CRC-32C every record carries (spec §5). Pure encoding: nothing here writes a file.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { putUvarint, uvarintBytes, uvarintSize } from '../codec/varint';
import { type Entry, RecordType, checkEntry, encodeEntry, putRecord, recordSize } from './codec';

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

/** Worst-case bytes a frame adds around an entry's data in `encodeEntryBatch` (length word, headers, varints, padding). */
export const FRAME_OVERHEAD_MAX = 64;

/** Upper bound of the bytes `encodeEntryBatch` needs for entries of these data lengths. */
export function entryBatchCapacity(totalDataBytes: number, count: number): number {
  return totalDataBytes + count * FRAME_OVERHEAD_MAX;
}

/** Result of encoding a batch: where its frames end in `out`, and the running CRC after them. */
export interface EncodedBatch {
  end: number;
  crc: number;
}

/**
 * Where readers can start in a log (the Log's checkpoints, segment-index.ts), for the encoder to
 * extend: it appends each frame that lies at least `every` bytes after the last checkpoint, with
 * its entry index, file offset and the CRC before it. Offsets are the file's: the batch's first
 * byte is at `base`; `last` is the file offset of the last checkpoint (-Infinity: none yet).
 */
export interface BatchCheckpoints {
  every: number;
  base: number;
  last: number;
  index: number[];
  offset: number[];
  crc: number[];
}

const vlen = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/**
 * THE entry-frame encoder (WAL's Save and the Log's batch writer both end here): `count` entries
 * `datas[from .. from+count)` with indexes `firstIndex, firstIndex+1, …`, one term (given as its
 * varint bytes) and one entry type (< 128), framed as etcd does into `out` from `start`,
 * continuing the CRC chain from `seed`. A null data is an absent Entry.Data field (Go nil).
 *
 * Each payload is copied once; pass 1 lays every frame out as if its CRC varint took the maximum
 * 5 bytes, ONE `crc32cChain` call computes all chained CRCs over the entry bytes in place, and
 * pass 2 writes the real headers, moving entry bytes left over the unused CRC bytes (never right).
 * `out` must hold `entryBatchCapacity(...)` bytes from `start`; `bounds` at least 2*count slots.
 * Every byte of [start, end) is written, so `out` may be dirty. `frameEnds`, when given, receives
 * each frame's end offset; `checkpoints`, when given, the frames a reader can start from.
 * Refuses (ERR_WAL_RECORD_TOO_LARGE) a record etcd 3.4.10+ cannot read.
 */
export function encodeEntryBatch(
  io: IoBackend,
  out: Uint8Array,
  start: number,
  datas: readonly (Uint8Array | null)[],
  from: number,
  count: number,
  firstIndex: number,
  term: Uint8Array,
  seed: number,
  bounds: Uint32Array,
  type = 0,
  frameEnds?: number[],
  checkpoints?: BatchCheckpoints,
): EncodedBatch {
  if (count === 0) return { end: start, crc: seed };
  const termLen = term.length;
  let s = start;
  let large = false;
  for (let i = 0; i < count; i++) {
    const data = datas[from + i]!;
    const dlen = data === null ? 0 : data.length;
    const index = firstIndex + i;
    const indexLen = index < 0x10000000 ? vlen(index) : uvarintSize(index);
    const entryLen = 4 + termLen + indexLen + (data === null ? 0 : 1 + vlen(dlen)) + dlen;
    if (entryLen >= MAX_WAL_ENTRY_SIZE_LIMIT - 32) large = true;
    const entryStart = s + 17 + vlen(entryLen);
    let p = entryStart;
    out[p++] = 0x08; // Entry.Type, always emitted by gogoproto
    out[p++] = type;
    out[p++] = 0x10; // Entry.Term (a few bytes: a loop beats a TypedArray.set call)
    for (let k = 0; k < termLen; k++) out[p++] = term[k]!;
    out[p++] = 0x18; // Entry.Index
    if (indexLen <= 4) {
      let n = index;
      while (n >= 0x80) {
        out[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      out[p++] = n;
    } else p = putUvarint(out, p, index);
    if (data !== null) {
      out[p++] = 0x22; // Entry.Data
      let n = dlen;
      while (n >= 0x80) {
        out[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      out[p++] = n;
      if (dlen > 0) out.set(data, p);
      p += dlen;
    }
    bounds[2 * i] = entryStart;
    bounds[2 * i + 1] = p;
    const recordMax = p - (s + 8);
    s += 8 + ((recordMax + 7) & ~7);
  }
  const crcs = io.crc32cChain(out, bounds.subarray(0, 2 * count), seed >>> 0);
  if (large) {
    // Exact sizes first, so a too-large record is refused before pass 2 moves anything.
    for (let i = 0; i < count; i++) {
      const len = bounds[2 * i + 1]! - bounds[2 * i]!;
      checkRecordSize(4 + vlen(crcs[i]!) + vlen(len) + len);
    }
  }
  let w = start;
  // In `out`'s offsets: the next frame that becomes a checkpoint starts at or after this.
  let nextCheckpoint = checkpoints === undefined ? Infinity : start + (checkpoints.last - checkpoints.base) + checkpoints.every;
  for (let i = 0; i < count; i++) {
    if (w >= nextCheckpoint) {
      const cp = checkpoints!;
      cp.index.push(firstIndex + i);
      cp.offset.push(cp.base + (w - start));
      cp.crc.push(i === 0 ? seed >>> 0 : crcs[i - 1]!);
      nextCheckpoint = w + cp.every;
    }
    const entryStart = bounds[2 * i]!;
    const entryLen = bounds[2 * i + 1]! - entryStart;
    let crc = crcs[i]!;
    const n = 4 + vlen(crc) + vlen(entryLen) + entryLen;
    const pad = (8 - (n & 7)) & 7;
    // Length word: n < 2^32 always (records are capped far below), so bytes 4..6 are zero.
    out[w] = n & 0xff;
    out[w + 1] = (n >>> 8) & 0xff;
    out[w + 2] = (n >>> 16) & 0xff;
    out[w + 3] = n >>> 24;
    out[w + 4] = 0;
    out[w + 5] = 0;
    out[w + 6] = 0;
    out[w + 7] = pad === 0 ? 0 : 0x80 | pad;
    let p = w + 8;
    out[p++] = 0x08; // Record.Type = entryType
    out[p++] = RecordType.Entry;
    out[p++] = 0x10; // Record.Crc
    while (crc >= 0x80) {
      out[p++] = (crc & 0x7f) | 0x80;
      crc >>>= 7;
    }
    out[p++] = crc;
    out[p++] = 0x1a; // Record.Data
    let m = entryLen;
    while (m >= 0x80) {
      out[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    out[p++] = m;
    if (p !== entryStart) out.copyWithin(p, entryStart, entryStart + entryLen);
    p += entryLen;
    for (let k = 0; k < pad; k++) out[p++] = 0;
    w = p;
    if (frameEnds !== undefined) frameEnds.push(w);
  }
  return { end: w, crc: crcs[count - 1]! };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U64_END = 1n << 64n;

/** True when `e` can go through `encodeEntryBatch` (type < 128, index a safe integer, valid fields). */
function batchable(e: Entry): boolean {
  const type = e?.type;
  const index = e?.index;
  const term = e?.term;
  const data = e?.data;
  return (
    typeof type === 'number' &&
    type >= 0 &&
    type < 0x80 &&
    (type | 0) === type &&
    typeof index === 'bigint' &&
    index >= 0n &&
    index <= MAX_SAFE &&
    typeof term === 'bigint' &&
    term >= 0n &&
    term < U64_END &&
    (data === null || data instanceof Uint8Array)
  );
}

/**
 * WAL.save's entry frames: the entries are cut into runs that share type and term and have
 * consecutive indexes (a Save is nearly always one run), and each run goes through
 * `encodeEntryBatch`. An entry no run can take (type >= 128, index >= 2^53) is marshalled and
 * framed on its own. Byte-identical to `encodeFrames` with marshalled entries. `alloc` supplies
 * the output buffer (at least `size` bytes; its contents need not be zero). `trailing` records
 * (a Save's HardState) are framed after the entries in the same buffer, so a Save reaches the
 * disk as one contiguous buffer (one write on the tail's sync thread, no gather list).
 */
export function encodeEntryFrames(
  io: IoBackend,
  entries: readonly Entry[],
  crc: number,
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size),
  trailing: readonly RecordInput[] = [],
): EncodedFrames {
  const count = entries.length;
  let dataBytes = 0;
  let odd = 0;
  const datas: (Uint8Array | null)[] = new Array<Uint8Array | null>(count);
  const ok = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    if (batchable(e)) ok[i] = 1;
    else {
      checkEntry(e); // throws with a precise message, or accepts a field the batch cannot take
      odd += FRAME_SIZE_BYTES + 7 + 64;
    }
    const data = e.data;
    datas[i] = data;
    if (data !== null) dataBytes += data.length;
  }
  let trailingBytes = 0;
  for (const rec of trailing) trailingBytes += frameLength(recordSize(rec.type, 0xffffffff, rec.data === null ? null : rec.data.length));
  const bytes = alloc(entryBatchCapacity(dataBytes, count) + odd + trailingBytes);
  const bounds = new Uint32Array(2 * count);
  const frameEnds: number[] = [];
  let running = crc >>> 0;
  let pos = 0;
  let termBig = -1n;
  let termBytes: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < count;) {
    const first = entries[i]!;
    if (ok[i] === 0) {
      const one = encodeFrames(io, [{ type: RecordType.Entry, data: encodeEntry(first) }], running);
      bytes.set(one.bytes, pos);
      pos += one.bytes.length;
      frameEnds.push(pos);
      running = one.crc;
      i++;
      continue;
    }
    const firstIndex = Number(first.index);
    const type = first.type;
    const term = first.term;
    let j = i + 1;
    while (j < count) {
      const e = entries[j]!;
      if (ok[j] === 0 || e.type !== type || e.term !== term || Number(e.index) !== firstIndex + (j - i)) break;
      j++;
    }
    if (term !== termBig) {
      termBig = term;
      termBytes = uvarintBytes(term);
    }
    const r = encodeEntryBatch(io, bytes, pos, datas, i, j - i, firstIndex, termBytes, running, bounds, type, frameEnds);
    pos = r.end;
    running = r.crc;
    i = j;
  }
  for (const rec of trailing) {
    if (rec.data !== null) running = io.crc32c(rec.data, running);
    const n = recordSize(rec.type, running, rec.data === null ? null : rec.data.length);
    checkRecordSize(n);
    putLengthWord(bytes, pos, n);
    const end = putRecord(bytes, pos + FRAME_SIZE_BYTES, rec.type, running, rec.data);
    pos += frameLength(n);
    bytes.fill(0, end, pos); // the padding: `bytes` may be a dirty recycled buffer
    frameEnds.push(pos);
  }
  return { bytes: bytes.subarray(0, pos), crc: running, frameEnds };
}
