/**
 * Protocol-buffer encoding of the messages etcd's WAL stores (walpb.Record, walpb.Snapshot,
 * raftpb.Entry, raftpb.HardState, raftpb.ConfState), byte-exact with the gogoproto code etcd
 * 3.4 generates: non-nullable scalars always emitted in field-number order, bytes fields only
 * when present (null = absent, an empty array = present and empty).
 *
 * Decoding is total: any garbage becomes a WalError (ERR_WAL_CORRUPT_PAYLOAD), never another
 * exception and never an allocation larger than the input.
 */
import {
  VARINT_TRUNCATED,
  getUvarint32,
  getUvarintBig,
  putUvarint,
  putUvarintBig,
  scanUvarint,
  uvarintSize,
  uvarintSizeBig,
} from '../codec/varint';
import { WalError, WalErrorCodes } from '../errors';

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

/** raftpb.HardState. All-zero is "empty" and is never written by `save`. */
export interface HardState {
  term: bigint;
  vote: bigint;
  commit: bigint;
}

/** raftpb.ConfState (written inside snapshot records by etcd 3.5+). */
export interface ConfState {
  voters: bigint[];
  learners: bigint[];
  votersOutgoing: bigint[];
  learnersNext: bigint[];
  autoLeave: boolean;
}

/** walpb.Snapshot. `confState` present = field 3 emitted (etcd 3.5+ style). */
export interface Snapshot {
  index: bigint;
  term: bigint;
  confState?: ConfState;
}

/** walpb.Record as decoded. `data` is null when the field is absent. */
export interface WalRecord {
  type: number;
  crc: number;
  data: Uint8Array | null;
}

/** The HardState etcd calls empty. */
export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({ term: 0n, vote: 0n, commit: 0n });

/** raft.IsEmptyHardState. */
export function isEmptyHardState(st: HardState): boolean {
  return st.term === 0n && st.vote === 0n && st.commit === 0n;
}

const U64_MAX = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// Varints: the shared module, under the names this file has always exported.

/** @deprecated use `uvarintSize` from src/codec/varint. */
export const varintSizeNumber = uvarintSize;
/** @deprecated use `uvarintSizeBig` from src/codec/varint. */
export const varintSizeBig = uvarintSizeBig;
/** @deprecated use `putUvarint` from src/codec/varint. */
export const putVarintNumber = putUvarint;
/** @deprecated use `putUvarintBig` from src/codec/varint. */
export const putVarintBig = putUvarintBig;

function checkU64(v: bigint, what: string): void {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `${what} must be a bigint in [0, 2^64)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers

function corrupt(what: string, offset: number): WalError {
  return new WalError(WalErrorCodes.CORRUPT_PAYLOAD, `${what} at byte ${offset} of the message`);
}

/** A cursor over one message; every read is bounds-checked. */
class PbReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
    readonly lenient = false,
  ) {
    this.pos = 0;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A varint as bigint (up to 10 bytes, as Go's decoder; more is "integer overflow"). */
  varintBig(): bigint {
    const start = this.pos;
    this.pos = this.scan();
    return getUvarintBig(this.buf, start);
  }

  /** A varint known to be small in valid data; larger values are truncated to their low 32 bits like Go's uint32. */
  varintU32(): number {
    const start = this.pos;
    this.pos = this.scan();
    return getUvarint32(this.buf, start);
  }

  /** The end of the varint at `pos`, or the error Go's decoder gives. */
  private scan(): number {
    const next = scanUvarint(this.buf, this.pos, this.buf.length);
    if (next >= 0) return next;
    throw corrupt(next === VARINT_TRUNCATED ? `${this.what}: truncated varint` : `${this.what}: varint overflows 64 bits`, this.pos);
  }

  /** A varint as a JS number when it fits 2^53, else Number of the low 64 bits (for lengths: caller bounds it). */
  varintLength(): number {
    const v = this.varintBig();
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** Length-delimited bytes as a view into the buffer (no copy). */
  bytes(): Uint8Array {
    const start = this.pos;
    const len = this.varintLength();
    if (len > this.buf.length - this.pos) throw corrupt(`${this.what}: length ${len} runs past the end`, start);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Skips an unknown field of the given wire type (proto2 keeps them; etcd never rejects them). */
  skip(wireType: number, fieldNumber: number, depth = 0): void {
    switch (wireType) {
      case 0:
        this.varintBig();
        return;
      case 1:
        this.advance(8);
        return;
      case 2: {
        const start = this.pos;
        const len = this.varintLength();
        if (len > this.buf.length - this.pos) throw corrupt(`${this.what}: length ${len} runs past the end`, start);
        this.pos += len;
        return;
      }
      case 3: {
        // Group: skip fields until the matching end-group tag.
        if (depth > 64) throw corrupt(`${this.what}: groups nested too deeply`, this.pos);
        for (;;) {
          if (this.done) throw corrupt(`${this.what}: unterminated group`, this.pos);
          const tag = this.varintBig();
          const wt = Number(tag & 7n);
          const fn = Number(tag >> 3n);
          if (wt === 4) {
            if (fn !== fieldNumber) throw corrupt(`${this.what}: mismatched end group`, this.pos);
            return;
          }
          if (fn <= 0) throw corrupt(`${this.what}: illegal field number`, this.pos);
          this.skip(wt, fn, depth + 1);
        }
      }
      case 5:
        this.advance(4);
        return;
      default:
        throw corrupt(`${this.what}: illegal wire type ${wireType}`, this.pos);
    }
  }

  private advance(n: number): void {
    if (n > this.buf.length - this.pos) throw corrupt(`${this.what}: truncated field`, this.pos);
    this.pos += n;
  }

  /** Reads a tag; returns [fieldNumber, wireType]. */
  tag(): [number, number] {
    const start = this.pos;
    const t = this.varintBig();
    const fn = t >> 3n;
    const wt = Number(t & 7n);
    if (fn <= 0n || fn > 0x1fffffffn) throw corrupt(`${this.what}: illegal field number ${fn}`, start);
    if (wt === 4) throw corrupt(`${this.what}: unexpected end group`, start);
    return [Number(fn), wt];
  }

  expectWire(actual: number, expected: number, field: number): void {
    if (actual !== expected) {
      throw corrupt(`${this.what}: wrong wire type ${actual} for field ${field}`, this.pos);
    }
  }

  /**
   * True when a known field has the wire type its schema says. Otherwise Go's rules throw; the
   * lenient rules return false and the caller skips the field as an unknown one.
   */
  wireIs(actual: number, expected: number, field: number): boolean {
    if (actual === expected) return true;
    if (!this.lenient) this.expectWire(actual, expected, field);
    return false;
  }
}

/**
 * How strictly to decode. Go's rules (the default) are gogoproto's: a known field of the wrong
 * wire type is an error. `lenient` (the Log's reader) skips such a field as if it were unknown.
 */
export interface DecodeRules {
  lenient?: boolean;
}

/** The Log's decoding rules. */
export const LENIENT: Readonly<DecodeRules> = Object.freeze({ lenient: true });

/** int64 -> JS number, keeping negative values (Go's int64 of the uint64 bit pattern). */
function int64ToNumber(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

// ---------------------------------------------------------------------------------------------
// walpb.Record

/** Size of a marshalled walpb.Record. */
export function recordSize(type: number, crc: number, dataLength: number | null): number {
  let n = 1 + varintSizeBig(BigInt.asUintN(64, BigInt(type))) + 1 + varintSizeNumber(crc >>> 0);
  if (dataLength !== null) n += 1 + varintSizeNumber(dataLength) + dataLength;
  return n;
}

/** Marshals walpb.Record into `buf` at `pos`; returns the end position. */
export function putRecord(buf: Uint8Array, pos: number, type: number, crc: number, data: Uint8Array | null): number {
  buf[pos++] = 0x08;
  pos = type >= 0 && type < 0x80 ? ((buf[pos] = type), pos + 1) : putVarintBig(buf, pos, BigInt.asUintN(64, BigInt(type)));
  buf[pos++] = 0x10;
  pos = putVarintNumber(buf, pos, crc >>> 0);
  if (data !== null) {
    buf[pos++] = 0x1a;
    pos = putVarintNumber(buf, pos, data.length);
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

// ---------------------------------------------------------------------------------------------
// raftpb.Entry

/** Size of the marshalled raftpb.Entry without its data bytes (header only). */
export function entryHeaderSize(e: Entry): number {
  let n = 1 + varintSizeNumber(e.type) + 1 + varintSizeBig(e.term) + 1 + varintSizeBig(e.index);
  if (e.data !== null) n += 1 + varintSizeNumber(e.data.length);
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
  pos = putVarintNumber(buf, pos, e.type);
  buf[pos++] = 0x10;
  pos = putVarintBig(buf, pos, e.term);
  buf[pos++] = 0x18;
  pos = putVarintBig(buf, pos, e.index);
  if (e.data !== null) {
    buf[pos++] = 0x22;
    pos = putVarintNumber(buf, pos, e.data.length);
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

// ---------------------------------------------------------------------------------------------
// raftpb.HardState

/** Marshals raftpb.HardState (all three fields always emitted). */
export function encodeHardState(st: HardState): Uint8Array {
  checkU64(st.term, 'state.term');
  checkU64(st.vote, 'state.vote');
  checkU64(st.commit, 'state.commit');
  const out = new Uint8Array(3 + varintSizeBig(st.term) + varintSizeBig(st.vote) + varintSizeBig(st.commit));
  let pos = 0;
  out[pos++] = 0x08;
  pos = putVarintBig(out, pos, st.term);
  out[pos++] = 0x10;
  pos = putVarintBig(out, pos, st.vote);
  out[pos++] = 0x18;
  putVarintBig(out, pos, st.commit);
  return out;
}

/** Unmarshals raftpb.HardState; absent fields are 0. */
export function decodeHardState(buf: Uint8Array): HardState {
  const r = new PbReader(buf, 'raftpb.HardState');
  const st: HardState = { term: 0n, vote: 0n, commit: 0n };
  while (!r.done) {
    const [fn, wt] = r.tag();
    if (fn >= 1 && fn <= 3) {
      r.expectWire(wt, 0, fn);
      const v = r.varintBig();
      if (fn === 1) st.term = v;
      else if (fn === 2) st.vote = v;
      else st.commit = v;
    } else {
      r.skip(wt, fn);
    }
  }
  return st;
}

// ---------------------------------------------------------------------------------------------
// raftpb.ConfState

function confStateSize(cs: ConfState): number {
  let n = 2; // auto_leave, always emitted
  for (const list of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
    for (const v of list) n += 1 + varintSizeBig(v);
  }
  return n;
}

function putConfState(buf: Uint8Array, pos: number, cs: ConfState): number {
  const lists: [number, bigint[]][] = [
    [0x08, cs.voters],
    [0x10, cs.learners],
    [0x18, cs.votersOutgoing],
    [0x20, cs.learnersNext],
  ];
  for (const [tag, list] of lists) {
    for (const v of list) {
      buf[pos++] = tag;
      pos = putVarintBig(buf, pos, v);
    }
  }
  buf[pos++] = 0x28;
  buf[pos++] = cs.autoLeave ? 1 : 0;
  return pos;
}

function checkConfState(cs: ConfState): void {
  if (cs === null || typeof cs !== 'object') {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'confState must be an object');
  }
  for (const name of ['voters', 'learners', 'votersOutgoing', 'learnersNext'] as const) {
    const list = cs[name];
    if (!Array.isArray(list)) throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `confState.${name} must be an array`);
    for (const v of list) checkU64(v, `confState.${name}[]`);
  }
  if (typeof cs.autoLeave !== 'boolean') {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'confState.autoLeave must be a boolean');
  }
}

/** Marshals raftpb.ConfState (repeated fields unpacked, auto_leave always emitted). */
export function encodeConfState(cs: ConfState): Uint8Array {
  checkConfState(cs);
  const out = new Uint8Array(confStateSize(cs));
  putConfState(out, 0, cs);
  return out;
}

/** Unmarshals raftpb.ConfState; accepts packed encodings of the repeated fields too. */
export function decodeConfState(buf: Uint8Array): ConfState {
  const r = new PbReader(buf, 'raftpb.ConfState');
  const cs: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  const lists = [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext];
  while (!r.done) {
    const [fn, wt] = r.tag();
    if (fn >= 1 && fn <= 4) {
      const list = lists[fn - 1]!;
      if (wt === 0) {
        list.push(r.varintBig());
      } else if (wt === 2) {
        const packed = new PbReader(r.bytes(), 'raftpb.ConfState (packed)');
        while (!packed.done) list.push(packed.varintBig());
      } else {
        r.expectWire(wt, 0, fn);
      }
    } else if (fn === 5) {
      r.expectWire(wt, 0, fn);
      cs.autoLeave = r.varintBig() !== 0n;
    } else {
      r.skip(wt, fn);
    }
  }
  return cs;
}

// ---------------------------------------------------------------------------------------------
// walpb.Snapshot

/** Validates a Snapshot supplied by a caller. */
export function checkSnapshot(s: Snapshot): void {
  if (s === null || typeof s !== 'object') throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'snapshot must be an object');
  checkU64(s.index, 'snapshot.index');
  checkU64(s.term, 'snapshot.term');
  if (s.confState !== undefined) checkConfState(s.confState);
}

/** Marshals walpb.Snapshot: `08 index 10 term`, plus field 3 when `confState` is given (etcd 3.5+). */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  checkSnapshot(s);
  let n = 2 + varintSizeBig(s.index) + varintSizeBig(s.term);
  let csLen = 0;
  if (s.confState !== undefined) {
    csLen = confStateSize(s.confState);
    n += 1 + varintSizeNumber(csLen) + csLen;
  }
  const out = new Uint8Array(n);
  let pos = 0;
  out[pos++] = 0x08;
  pos = putVarintBig(out, pos, s.index);
  out[pos++] = 0x10;
  pos = putVarintBig(out, pos, s.term);
  if (s.confState !== undefined) {
    out[pos++] = 0x1a;
    pos = putVarintNumber(out, pos, csLen);
    putConfState(out, pos, s.confState);
  }
  return out;
}

/** Unmarshals walpb.Snapshot (with conf_state when present). */
export function decodeSnapshot(buf: Uint8Array, rules?: DecodeRules): Snapshot {
  const r = new PbReader(buf, 'walpb.Snapshot', rules?.lenient);
  const s: Snapshot = { index: 0n, term: 0n };
  while (!r.done) {
    const [fn, wt] = r.tag();
    if ((fn === 1 || fn === 2) && r.wireIs(wt, 0, fn)) {
      const v = r.varintBig();
      if (fn === 1) s.index = v;
      else s.term = v;
    } else if (fn === 3 && !r.lenient) {
      r.expectWire(wt, 2, fn);
      s.confState = decodeConfState(r.bytes());
    } else {
      // The lenient rules read index and term only: conf_state is skipped like an unknown field.
      r.skip(wt, fn);
    }
  }
  return s;
}
