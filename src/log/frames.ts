/**
 * The bytes Log writes: etcd WAL frames (u64 LE length word with padding flag, walpb.Record,
 * zero padding to 8 bytes) holding raftpb.Entry records (type 0, term, index, data), plus the few
 * header records a segment starts with (those through src/etcd's encoder). Byte-identical to what
 * etcd's encoder emits for the same records.
 *
 * The hot path, `encodeEntryBatch`, writes a whole batch straight into the caller's (possibly
 * O_DIRECT-aligned) buffer: each payload is copied once, the chained CRCs of all entries are
 * computed in one `crc32cChain` call, and a short fix-up pass closes the gaps left where a CRC's
 * varint turned out shorter than the 5 bytes reserved for it (1 record in 16 on average).
 */
import { RecordType as EtcdRecordType, encodeSnapshot } from '../etcd/codec';
import { encodeFrames, type RecordInput } from '../etcd/frame';
import { putUvarint, uvarintBytes, uvarintSize } from '../codec/varint';
import type { IoBackend } from '../io/types';

/** walpb.Record types (etcd wal.go). */
export const RecordType = { metadata: 1, entry: 2, state: 3, crc: 4, snapshot: 5 } as const;

/** Worst-case bytes a frame adds around an entry's data (length word, headers, varints, padding). */
export const FRAME_OVERHEAD_MAX = 64;

/**
 * Largest entry data Log accepts: keeps every frame under etcd 3.4.10+'s 10 MiB read limit
 * (a frame with N >= 10 MiB - P is unreadable there), with room for the headers.
 */
export const MAX_ENTRY_DATA = 10 * 1024 * 1024 - FRAME_OVERHEAD_MAX;

/** @deprecated use `uvarintSize` from src/codec/varint. */
export const varintLength = uvarintSize;
/** @deprecated use `putUvarint` from src/codec/varint. */
export const writeVarint = putUvarint;
/** The varint bytes of a uint64 given as bigint (the Log's term, written into every entry). */
export const varintBytes = uvarintBytes;

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
 * Encodes `count` entries (`datas[from .. from+count)`, indexes `firstIndex, firstIndex+1, …`, term
 * given as its varint bytes) as etcd entry frames into `out` starting at `start`, continuing the CRC
 * chain from `seed`. `out` must hold `entryBatchCapacity(...)` bytes from `start`; `bounds` at
 * least 2*count slots. Every byte of [start, end) is written (no stale bytes from earlier use).
 */
export function encodeEntryBatch(
  io: IoBackend,
  out: Uint8Array,
  start: number,
  datas: readonly Uint8Array[],
  from: number,
  count: number,
  firstIndex: number,
  term: Uint8Array,
  seed: number,
  bounds: Uint32Array,
): EncodedBatch {
  if (count === 0) return { end: start, crc: seed };
  const termLen = term.length;
  // Pass 1: lay out every frame as if its CRC varint took the maximum 5 bytes; write entry bytes.
  // Varints of indexes and lengths below 2^28 are written inline (no call per field).
  let s = start;
  for (let i = 0; i < count; i++) {
    const data = datas[from + i]!;
    const dlen = data.length;
    const index = firstIndex + i;
    const indexLen = index < 0x80 ? 1 : index < 0x4000 ? 2 : index < 0x200000 ? 3 : index < 0x10000000 ? 4 : varintLength(index);
    const dlenLen = dlen < 0x80 ? 1 : dlen < 0x4000 ? 2 : dlen < 0x200000 ? 3 : dlen < 0x10000000 ? 4 : 5;
    const entryLen = 5 + termLen + indexLen + dlenLen + dlen;
    const entryStart = s + 17 + (entryLen < 0x80 ? 1 : entryLen < 0x4000 ? 2 : entryLen < 0x200000 ? 3 : entryLen < 0x10000000 ? 4 : 5);
    let p = entryStart;
    out[p++] = 0x08; // Entry.Type = 0 (EntryNormal), always emitted by gogoproto
    out[p++] = 0x00;
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
    } else p = writeVarint(out, p, index);
    out[p++] = 0x22; // Entry.Data
    let n = dlen;
    while (n >= 0x80) {
      out[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[p++] = n;
    if (dlen > 0) out.set(data, p);
    p += dlen;
    bounds[2 * i] = entryStart;
    bounds[2 * i + 1] = p;
    const recordMax = p - (s + 8);
    s += 8 + ((recordMax + 7) & ~7);
  }
  const crcs = io.crc32cChain(out, bounds.subarray(0, 2 * count), seed);
  // Pass 2: real lengths; move entry bytes left over the unused CRC bytes (never right).
  let w = start;
  for (let i = 0; i < count; i++) {
    const entryStart = bounds[2 * i]!;
    const entryLen = bounds[2 * i + 1]! - entryStart;
    let crc = crcs[i]!;
    const crcLen = crc < 0x80 ? 1 : crc < 0x4000 ? 2 : crc < 0x200000 ? 3 : crc < 0x10000000 ? 4 : 5;
    const n = 4 + crcLen + (entryLen < 0x80 ? 1 : entryLen < 0x4000 ? 2 : entryLen < 0x200000 ? 3 : entryLen < 0x10000000 ? 4 : 5) + entryLen;
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
    out[p++] = RecordType.entry;
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
  }
  return { end: w, crc: crcs[count - 1]! };
}

/**
 * The records every segment starts with, as etcd's `cut` writes them: a crc record carrying the
 * running CRC of everything before, then the metadata record (absent data, as `Create(dir, nil)`).
 * The first segment (`first`) also gets the snapshot {0,0} record that etcd's `Create` writes, so
 * etcd can `Open` the directory at {0,0}.
 */
export function encodeSegmentHeader(io: IoBackend, running: number, first: boolean): { bytes: Uint8Array; crc: number } {
  const records: RecordInput[] = [
    { type: EtcdRecordType.Crc, data: null },
    { type: EtcdRecordType.Metadata, data: null },
  ];
  if (first) records.push({ type: EtcdRecordType.Snapshot, data: encodeSnapshot({ index: 0n, term: 0n }) });
  const { bytes, crc } = encodeFrames(io, records, running);
  return { bytes, crc };
}

/** A snapshot record {index, term} (etcd `SaveSnapshot`), continuing the chain from `running`. */
export function encodeSnapshotFrame(io: IoBackend, index: bigint, term: bigint, running: number): { bytes: Uint8Array; crc: number } {
  const { bytes, crc } = encodeFrames(io, [{ type: EtcdRecordType.Snapshot, data: encodeSnapshot({ index, term }) }], running);
  return { bytes, crc };
}
