/**
 * Protocol-buffer encoding of the messages etcd's WAL stores (walpb.Record, walpb.Snapshot,
 * raftpb.Entry, raftpb.HardState, raftpb.ConfState), byte-exact with the gogoproto code etcd
 * 3.4 generates: non-nullable scalars always emitted in field-number order, bytes fields only
 * when present (null = absent, an empty array = present and empty).
 *
 * Decoding is total: any garbage becomes a WalError (ERR_WAL_CORRUPT_PAYLOAD), never another
 * exception and never an allocation larger than the input.
 */
import { putUvarint, putUvarintBig, uvarintSize, uvarintSizeBig } from '../codec/varint';
import { WalError, WalErrorCodes } from '../errors';
import { type DecodeRules, PbReader, checkU64, int64ToNumber } from './pb-reader';

export { type DecodeRules, LENIENT } from './pb-reader';
export {
  type ConfState,
  type HardState,
  type Snapshot,
  EMPTY_HARD_STATE,
  checkSnapshot,
  decodeConfState,
  decodeHardState,
  decodeSnapshot,
  encodeConfState,
  encodeHardState,
  encodeSnapshot,
  isEmptyHardState,
} from './raftpb-state';

/** walpb record types (etcd `wal/wal.go`). */
export enum RecordType {
  Metadata = 1,
  Entry = 2,
  State = 3,
  Crc = 4,
  Snapshot = 5,
}

/** raftpb.Entry. `data: null` means the field is absent (Go nil); an empty array is present-but-empty. */
export interface Entry {
  term: bigint;
  index: bigint;
  /** raftpb.EntryType: 0 normal, 1 conf change, 2 conf change v2. */
  type: number;
  data: Uint8Array | null;
}

/** walpb.Record as decoded. `data` is null when the field is absent. */
export interface WalRecord {
  type: number;
  crc: number;
  data: Uint8Array | null;
}

// ---------------------------------------------------------------------------------------------
// walpb.Record

/** Size of a marshalled walpb.Record. */
export function recordSize(type: number, crc: number, dataLength: number | null): number {
  let n = 1 + uvarintSizeBig(BigInt.asUintN(64, BigInt(type))) + 1 + uvarintSize(crc >>> 0);
  if (dataLength !== null) n += 1 + uvarintSize(dataLength) + dataLength;
  return n;
}

/** Marshals walpb.Record into `buf` at `pos`; returns the end position. */
export function putRecord(buf: Uint8Array, pos: number, type: number, crc: number, data: Uint8Array | null): number {
  buf[pos++] = 0x08;
  pos = type >= 0 && type < 0x80 ? ((buf[pos] = type), pos + 1) : putUvarintBig(buf, pos, BigInt.asUintN(64, BigInt(type)));
  buf[pos++] = 0x10;
  pos = putUvarint(buf, pos, crc >>> 0);
  if (data !== null) {
    buf[pos++] = 0x1a;
    pos = putUvarint(buf, pos, data.length);
    buf.set(data, pos);
    pos += data.length;
  }
  return pos;
}

/** Marshals walpb.Record (type, crc always; data only when non-null). */
export function encodeRecord(rec: WalRecord): Uint8Array {
  const out = new Uint8Array(recordSize(rec.type, rec.crc, rec.data === null ? null : rec.data.length));
  putRecord(out, 0, rec.type, rec.crc, rec.data);
  return out;
}

/**
 * Unmarshals walpb.Record. `data` is a view into `buf` (no copy). Unknown fields are skipped;
 * repeated scalars: last wins. Throws WalError(ERR_WAL_CORRUPT_PAYLOAD) on malformed input.
 */
export function decodeRecord(buf: Uint8Array, rules?: DecodeRules): WalRecord {
  const r = new PbReader(buf, 'walpb.Record', rules?.lenient);
  let type = 0;
  let crc = 0;
  let data: Uint8Array | null = null;
  while (!r.done) {
    const [fn, wt] = r.tag();
    if (fn === 1 && r.wireIs(wt, 0, fn)) type = int64ToNumber(r.varintBig());
    else if (fn === 2 && r.wireIs(wt, 0, fn)) crc = r.varintU32();
    else if (fn === 3 && r.wireIs(wt, 2, fn)) data = r.bytes();
    else r.skip(wt, fn);
  }
  return { type, crc, data };
}

/** Where a walpb.Record's fields are, read in place. */
export interface RecordSpan {
  type: number;
  crc: number;
  /** Record.Data is buf[dataStart, dataEnd); dataStart = -1 when the field is absent. */
  dataStart: number;
  dataEnd: number;
}

/**
 * Reads walpb.Record in buf[start, end) in the canonical layout every writer produces,
 * `08 type 10 crc [1a len data]` (type below 128), into `out`: false for anything else, which
 * `decodeRecord` decodes by the rules. The decoder's and the Log's lookups' per-frame fast path.
 */
export function readCanonicalRecord(buf: Uint8Array, start: number, end: number, out: RecordSpan): boolean {
  let p = start;
  if (!(end - start >= 4 && buf[p] === 0x08 && buf[p + 1]! < 0x80 && buf[p + 2] === 0x10)) return false;
  const type = buf[p + 1]!;
  p += 3;
  let crc = 0;
  let b = 0x80;
  // at most 5 bytes; bits past 32 are dropped, as Go's uint32 decoding does
  for (let shift = 0; shift < 35 && p < end; shift += 7) {
    b = buf[p++]!;
    crc |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  if (b >= 0x80) return false;
  out.type = type;
  out.crc = crc >>> 0;
  if (p === end) {
    out.dataStart = -1;
    out.dataEnd = -1;
    return true;
  }
  if (!(buf[p] === 0x1a && p + 1 < end)) return false;
  p++;
  let len = 0;
  b = 0x80;
  for (let shift = 0; shift < 28 && p < end; shift += 7) {
    b = buf[p++]!;
    len |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  if (!(b < 0x80 && p + len === end)) return false;
  out.dataStart = p;
  out.dataEnd = end;
  return true;
}

// ---------------------------------------------------------------------------------------------
// raftpb.Entry

/** Size of the marshalled raftpb.Entry without its data bytes (header only). */
export function entryHeaderSize(e: Entry): number {
  let n = 1 + uvarintSize(e.type) + 1 + uvarintSizeBig(e.term) + 1 + uvarintSizeBig(e.index);
  if (e.data !== null) n += 1 + uvarintSize(e.data.length);
  return n;
}

/** Size of the marshalled raftpb.Entry. */
export function entrySize(e: Entry): number {
  return entryHeaderSize(e) + (e.data === null ? 0 : e.data.length);
}

/** Validates an Entry supplied by a caller (types and ranges), so encoding cannot misbehave. */
export function checkEntry(e: Entry): void {
  if (e === null || typeof e !== 'object') throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'entry must be an object');
  checkU64(e.term, 'entry.term');
  checkU64(e.index, 'entry.index');
  if (!Number.isInteger(e.type) || e.type < 0 || e.type > 0x7fffffff) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'entry.type must be a non-negative int32');
  }
  if (e.data !== null && !(e.data instanceof Uint8Array)) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'entry.data must be a Uint8Array or null');
  }
}

/** Writes the raftpb.Entry header (type, term, index, data tag+length) at `pos`; returns the new position. */
export function putEntryHeader(buf: Uint8Array, pos: number, e: Entry): number {
  buf[pos++] = 0x08;
  pos = putUvarint(buf, pos, e.type);
  buf[pos++] = 0x10;
  pos = putUvarintBig(buf, pos, e.term);
  buf[pos++] = 0x18;
  pos = putUvarintBig(buf, pos, e.index);
  if (e.data !== null) {
    buf[pos++] = 0x22;
    pos = putUvarint(buf, pos, e.data.length);
  }
  return pos;
}

/** Marshals raftpb.Entry. */
export function encodeEntry(e: Entry): Uint8Array {
  checkEntry(e);
  const out = new Uint8Array(entrySize(e));
  const pos = putEntryHeader(out, 0, e);
  if (e.data !== null) out.set(e.data, pos);
  return out;
}

/**
 * Unmarshals raftpb.Entry. `data` is a view into `buf` (callers that keep it beyond the buffer's
 * life copy it). A present-but-empty data field decodes as an empty array, as gogoproto does.
 */
export function decodeEntry(buf: Uint8Array, rules?: DecodeRules): Entry {
  const r = new PbReader(buf, 'raftpb.Entry', rules?.lenient);
  let term = 0n;
  let index = 0n;
  let type = 0;
  let data: Uint8Array | null = null;
  while (!r.done) {
    const [fn, wt] = r.tag();
    // EntryType is an int32 enum; Go keeps the low 32 bits as a signed value.
    if (fn === 1 && r.wireIs(wt, 0, fn)) type = Number(BigInt.asIntN(32, r.varintBig()));
    else if (fn === 2 && r.wireIs(wt, 0, fn)) term = r.varintBig();
    else if (fn === 3 && r.wireIs(wt, 0, fn)) index = r.varintBig();
    else if (fn === 4 && r.wireIs(wt, 2, fn)) data = r.bytes();
    else r.skip(wt, fn);
  }
  return { term, index, type, data };
}

// Consecutive entries nearly always share a term: reuse its (immutable) BigInt, one object less
// per entry for the garbage collector.
let lastTermNumber = -1;
let lastTermBig = 0n;
function termBig(term: number): bigint {
  if (term !== lastTermNumber) {
    lastTermNumber = term;
    lastTermBig = BigInt(term);
  }
  return lastTermBig;
}

/** The canonical entry `scanCanonicalEntry` last read (module scratch: no object per entry). */
const scanned = { type: 0, term: 0, index: 0, dataStart: -1, dataEnd: -1 };

/**
 * Reads the canonical layout `08 type 10 term 18 index [22 len data]` with varints below 2^49
 * inline into `scanned`; false for anything else (the general decoder's job).
 */
function scanCanonicalEntry(buf: Uint8Array, start: number, end: number): boolean {
  let p = start;
  if (!(end - start >= 6 && buf[p] === 0x08 && buf[p + 1]! < 0x80 && buf[p + 2] === 0x10)) return false;
  const type = buf[p + 1]!;
  p += 3;
  let term = 0;
  let mul = 1;
  let b = 0x80;
  for (let k = 0; k < 7 && p < end; k++) {
    b = buf[p++]!;
    term += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) break;
  }
  if (!(b < 0x80 && p < end && buf[p] === 0x18)) return false;
  p++;
  let index = 0;
  mul = 1;
  b = 0x80;
  for (let k = 0; k < 7 && p < end; k++) {
    b = buf[p++]!;
    index += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) break;
  }
  if (b >= 0x80) return false;
  scanned.type = type;
  scanned.term = term;
  scanned.index = index;
  if (p === end) {
    scanned.dataStart = -1;
    return true;
  }
  if (!(buf[p] === 0x22 && p + 1 < end)) return false;
  p++;
  let len = 0;
  mul = 1;
  b = 0x80;
  for (let k = 0; k < 4 && p < end; k++) {
    b = buf[p++]!;
    len += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) break;
  }
  if (!(b < 0x80 && p + len === end)) return false;
  scanned.dataStart = p;
  scanned.dataEnd = end;
  return true;
}

/**
 * `decodeEntry(buf.subarray(start, end))` without the intermediate view in the common case
 * (the canonical layout, read inline); anything else goes through the general decoder. `data`
 * is a view into `buf`.
 */
export function decodeEntryAt(buf: Uint8Array, start: number, end: number, rules?: DecodeRules): Entry {
  if (!scanCanonicalEntry(buf, start, end)) return decodeEntry(buf.subarray(start, end), rules);
  const data = scanned.dataStart < 0 ? null : buf.subarray(scanned.dataStart, scanned.dataEnd);
  return { term: termBig(scanned.term), index: BigInt(scanned.index), type: scanned.type, data };
}

/** Where a raftpb.Entry's fields are, for readers that only need its index and data (no object per entry). */
export interface EntrySpan {
  type: number;
  /** The index as a number (the Log's: logs never reach 2^53 entries). */
  index: number;
  /** Entry.Data is buf[dataStart, dataEnd); equal when absent or empty. */
  dataStart: number;
  dataEnd: number;
}

/**
 * Reads the raftpb.Entry in buf[start, end) into `out` by `rules`: true when it decodes, false
 * when it does not (the canonical layout inline, anything else through the general decoder).
 */
export function readEntrySpan(buf: Uint8Array, start: number, end: number, out: EntrySpan, rules?: DecodeRules): boolean {
  if (scanCanonicalEntry(buf, start, end)) {
    out.type = scanned.type;
    out.index = scanned.index;
    out.dataStart = scanned.dataStart < 0 ? end : scanned.dataStart;
    out.dataEnd = end;
    return true;
  }
  let e: Entry;
  try {
    e = decodeEntry(buf.subarray(start, end), rules);
  } catch {
    return false;
  }
  out.type = e.type;
  out.index = Number(e.index);
  out.dataStart = e.data === null ? end : e.data.byteOffset - buf.byteOffset;
  out.dataEnd = e.data === null ? end : out.dataStart + e.data.length;
  return true;
}

/** A raftpb.Entry with its index as a number (the Log's: logs never reach 2^53 entries). */
export interface EntryFields {
  index: number;
  term: bigint;
  type: number;
  /** View of Entry.Data (empty when absent). */
  data: Uint8Array;
}

const NO_DATA = new Uint8Array(0);

/** `decodeEntryAt` for the Log's readers: the index as a number, absent data as an empty view. */
export function decodeEntryFields(buf: Uint8Array, rules?: DecodeRules): EntryFields {
  if (scanCanonicalEntry(buf, 0, buf.length)) {
    const data = scanned.dataStart < 0 ? NO_DATA : buf.subarray(scanned.dataStart, scanned.dataEnd);
    return { index: scanned.index, term: termBig(scanned.term), type: scanned.type, data };
  }
  const e = decodeEntry(buf, rules);
  return { index: Number(e.index), term: e.term, type: e.type, data: e.data ?? NO_DATA };
}
