/**
 * Reads the frames of one segment in chunks, with memory bounded by the read buffer (plus one
 * frame when a single frame is larger), verifying the CRC chain with one `crc32cChain` call per
 * chunk. Follows etcd's decoder rules: a zero length word ends a segment; in the LAST segment a
 * frame cut short by the end of the file, or whose CRC fails with a sector-sized run of zeros inside
 * it, is a torn write (reported, not thrown); anything else that fails is corruption (WalError).
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { RecordType } from './frames';

/** One decoded frame. `data` is a view into a chunk buffer that is never reused. */
export interface DecodedRecord {
  type: number;
  /** File offset of the frame's length word, and just past its padding. */
  offset: number;
  end: number;
  /** walpb.Record.data, or null when the field is absent. */
  data: Uint8Array | null;
  /** The running CRC after this record. */
  crc: number;
}

/** Why a scan stopped. */
export type ScanEnd = 'eof' | 'zero' | 'torn';

export interface SegmentReaderOptions {
  /** File offset of the first frame to read (a frame boundary). Default 0. */
  offset?: number;
  /** Running CRC before `offset` (0 at a segment start: its crc record supplies it). */
  crc?: number;
  /** Read no further than this file offset (e.g. what the writer has made durable). Default: file size. */
  limit?: number;
  /** Apply etcd's torn-write rules (only for the last segment). */
  last: boolean;
  bufferBytes: number;
}

const SECTOR = 512;

/** Streams the records of one segment file. */
export class SegmentReader {
  private buf = new Uint8Array(0);
  private bufStart: number; // file offset of buf[0]
  private bufLen = 0;
  private pos = 0;
  private eof = false;
  private bounds = new Uint32Array(512);
  /** Offset just past the last good frame, and the running CRC there. */
  offset: number;
  crc: number;
  /** Set once the scan has stopped. */
  ended: ScanEnd | null = null;
  /** File offset of the torn frame when `ended` is 'torn'. */
  tornAt = -1;

  constructor(
    private readonly io: IoBackend,
    private readonly file: WalFile,
    private readonly opts: SegmentReaderOptions,
    private readonly limit: number,
  ) {
    this.offset = opts.offset ?? 0;
    this.bufStart = this.offset;
    this.crc = opts.crc ?? 0;
  }

  /** Opens `path` for reading and reads up to `opts.limit` (default: its size now). */
  static async open(io: IoBackend, path: string, opts: SegmentReaderOptions): Promise<SegmentReader> {
    const file = await io.open(path, { read: true });
    try {
      const size = await file.size();
      return new SegmentReader(io, file, opts, Math.min(size, opts.limit ?? size));
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  get path(): string {
    return this.file.path;
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** The next records (at least one), or null when the segment has ended (see `ended`). */
  async next(): Promise<DecodedRecord[] | null> {
    for (;;) {
      if (this.ended !== null) return null;
      const need = this.decodable();
      if (this.pending.length > 0) {
        const out = this.verify();
        if (out.length > 0) return out;
        continue;
      }
      if (this.ended !== null) return null;
      await this.refill(need);
    }
  }

  private pending: DecodedRecord[] = [];
  private pendingCrcs: number[] = [];

  /**
   * Decodes whole frames available in the buffer into `pending`. Returns how many bytes the next
   * frame needs when the buffer runs out in the middle of one.
   */
  private decodable(): number {
    const buf = this.buf;
    for (;;) {
      const avail = this.bufLen - this.pos;
      const at = this.bufStart + this.pos;
      if (avail < 8) {
        if (!this.eof) return 8;
        if (this.pending.length > 0) return 0; // verify what we have before deciding
        if (avail === 0) this.ended = 'eof';
        else this.damaged(at, 'length word cut short by the end of the file', WalErrorCodes.UNEXPECTED_EOF);
        return 0;
      }
      const p = this.pos;
      const lo = (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
      const hi = (buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)) >>> 0;
      if (lo === 0 && hi === 0) {
        if (this.pending.length > 0) return 0;
        this.ended = 'zero';
        return 0;
      }
      const n = lo + (hi & 0xffffff) * 2 ** 32;
      const pad = hi & 0x80000000 ? (hi >>> 24) & 7 : 0;
      const frameLen = 8 + n + pad;
      if (at + frameLen > this.limit) {
        if (this.pending.length > 0) return 0;
        return this.damaged(at, 'frame runs past the end of the file', WalErrorCodes.UNEXPECTED_EOF);
      }
      if (avail < frameLen) {
        if (this.eof) {
          if (this.pending.length > 0) return 0;
          return this.damaged(at, 'frame cut short by the end of the file', WalErrorCodes.UNEXPECTED_EOF);
        }
        return frameLen;
      }
      const rec = parseRecord(buf, p + 8, p + 8 + n);
      if (rec === null) {
        if (this.pending.length > 0) return 0;
        if (this.opts.last && isTorn(buf, p + 8, p + frameLen, at + 8)) return this.finishTorn(at);
        throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'walpb.Record does not decode', {
          file: this.file.path,
          offset: at,
        });
      }
      this.pending.push({
        type: rec.type,
        offset: at,
        end: at + frameLen,
        data: rec.dataStart < 0 ? null : buf.subarray(rec.dataStart, rec.dataEnd),
        crc: rec.crc,
      });
      this.pendingCrcs.push(rec.crc);
      this.pos += frameLen;
      if (rec.type === RecordType.crc) return 0; // verify up to here: the chain restarts
    }
  }

  /** Checks the CRCs of `pending` in one call; returns the good prefix and stops at a bad record. */
  private verify(): DecodedRecord[] {
    const recs = this.pending;
    const stored = this.pendingCrcs;
    this.pending = [];
    this.pendingCrcs = [];
    const base = this.bufStart;
    let count = 0;
    const last = recs[recs.length - 1]!;
    const chained = last.type === RecordType.crc ? recs.length - 1 : recs.length;
    if (this.bounds.length < 2 * chained) this.bounds = new Uint32Array(4 * chained);
    const bounds = this.bounds;
    for (let i = 0; i < chained; i++) {
      const d = recs[i]!.data;
      // Absent data adds nothing to the chain: an empty slice.
      const s = d === null ? 0 : d.byteOffset - this.buf.byteOffset;
      bounds[2 * i] = s;
      bounds[2 * i + 1] = d === null ? 0 : s + d.length;
    }
    const crcs = chained > 0 ? this.io.crc32cChain(this.buf, bounds.subarray(0, 2 * chained), this.crc) : null;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      if (r.type === RecordType.crc) {
        if (this.crc !== 0 && stored[i] !== this.crc) {
          throw new WalError(WalErrorCodes.CHAIN_MISMATCH, 'crc record does not continue the chain', {
            file: this.file.path,
            offset: r.offset,
          });
        }
        this.crc = stored[i]!;
      } else if (crcs![i] !== stored[i]) {
        const start = r.offset - base;
        if (this.opts.last && isTorn(this.buf, start + 8, r.end - base, r.offset + 8)) {
          this.finishTorn(r.offset);
          this.pos = start;
          break;
        }
        throw new WalError(WalErrorCodes.CRC_MISMATCH, 'record CRC mismatch', {
          file: this.file.path,
          offset: r.offset,
        });
      } else this.crc = crcs![i]!;
      r.crc = this.crc;
      this.offset = r.end;
      count++;
    }
    return count === recs.length ? recs : recs.slice(0, count);
  }

  private finishTorn(at: number): number {
    this.ended = 'torn';
    this.tornAt = at;
    return 0;
  }

  private damaged(at: number, message: string, code: typeof WalErrorCodes.UNEXPECTED_EOF): number {
    if (this.opts.last) return this.finishTorn(at);
    throw new WalError(code, message, { file: this.file.path, offset: at });
  }

  private async refill(need: number): Promise<void> {
    if (this.eof) return;
    const keep = this.bufLen - this.pos;
    const size = Math.max(this.opts.bufferBytes, keep + need);
    // A fresh buffer each time: records handed out earlier keep viewing the old one.
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.pos, this.bufLen), 0);
    const fileAt = this.bufStart + this.bufLen;
    const want = Math.min(size - keep, this.limit - fileAt);
    const got = want > 0 ? await this.file.read(next.subarray(keep, keep + want), fileAt) : 0;
    this.bufStart += this.pos;
    this.buf = next;
    this.bufLen = keep + got;
    this.pos = 0;
    if (got < want || fileAt + got >= this.limit) this.eof = true;
  }
}

/**
 * etcd's isTornEntry: split the frame body at 512-byte boundaries of the file; a chunk of zeros
 * means the sector never reached the disk.
 */
function isTorn(buf: Uint8Array, start: number, end: number, fileOffset: number): boolean {
  let i = start;
  let off = fileOffset;
  while (i < end) {
    const chunkEnd = Math.min(end, i + (SECTOR - (off % SECTOR)));
    let zero = true;
    for (let k = i; k < chunkEnd; k++) {
      if (buf[k] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
    off += chunkEnd - i;
    i = chunkEnd;
  }
  return false;
}

/** Parses walpb.Record {type=1, crc=2, data=3}; null when the bytes are not a valid message. */
function parseRecord(
  b: Uint8Array,
  start: number,
  end: number,
): { type: number; crc: number; dataStart: number; dataEnd: number } | null {
  let type = 0;
  let crc = 0;
  let dataStart = -1;
  let dataEnd = -1;
  let p = start;
  while (p < end) {
    const tag = b[p++]!;
    if (tag === 0x08 || tag === 0x10) {
      let v = 0;
      let mul = 1;
      for (;;) {
        if (p >= end || mul > 2 ** 63) return null;
        const x = b[p++]!;
        v += (x & 0x7f) * mul;
        mul *= 128;
        if (x < 0x80) break;
      }
      if (tag === 0x08) type = v;
      else crc = v % 2 ** 32;
    } else if (tag === 0x1a) {
      const r = readVarint(b, p, end);
      if (r === null) return null;
      p = r.next;
      if (p + r.value > end) return null;
      dataStart = p;
      dataEnd = p + r.value;
      p = dataEnd;
    } else {
      const skipped = skipField(b, p, end, tag);
      if (skipped < 0) return null;
      p = skipped;
    }
  }
  return { type, crc, dataStart, dataEnd };
}

function readVarint(b: Uint8Array, p: number, end: number): { value: number; next: number } | null {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (p >= end || mul > 2 ** 63) return null;
    const x = b[p++]!;
    v += (x & 0x7f) * mul;
    mul *= 128;
    if (x < 0x80) return { value: v, next: p };
  }
}

/** Skips an unknown field (proto2 keeps them); returns the next position or -1. */
function skipField(b: Uint8Array, p: number, end: number, tagFirstByte: number): number {
  // Tags above 15 take more than one byte: finish reading the tag varint.
  let tag = tagFirstByte;
  if (tag & 0x80) {
    const r = readVarint(b, p - 1, end);
    if (r === null) return -1;
    tag = r.value;
    p = r.next;
  }
  switch (tag & 7) {
    case 0: {
      const r = readVarint(b, p, end);
      return r === null ? -1 : r.next;
    }
    case 1:
      return p + 8 <= end ? p + 8 : -1;
    case 2: {
      const r = readVarint(b, p, end);
      if (r === null || r.next + r.value > end) return -1;
      return r.next + r.value;
    }
    case 5:
      return p + 4 <= end ? p + 4 : -1;
    default:
      return -1;
  }
}

/** A raftpb.Entry's fields. `index` as a number (logs never reach 2^53 entries). */
export interface ParsedEntry {
  index: number;
  term: bigint;
  type: number;
  /** View of Entry.Data inside the record (empty when absent). */
  data: Uint8Array;
}

/** Parses raftpb.Entry {type=1, term=2, index=3, data=4}; null when malformed. */
export function parseEntry(b: Uint8Array): ParsedEntry | null {
  let index = 0;
  let term = 0n;
  let type = 0;
  let data: Uint8Array = b.subarray(0, 0);
  let p = 0;
  const end = b.length;
  while (p < end) {
    const tag = b[p++]!;
    if (tag === 0x08 || tag === 0x10 || tag === 0x18) {
      const r = readVarint(b, p, end);
      if (r === null) return null;
      p = r.next;
      if (tag === 0x08) type = r.value;
      else if (tag === 0x10) term = BigInt(r.value);
      else index = r.value;
    } else if (tag === 0x22) {
      const r = readVarint(b, p, end);
      if (r === null || r.next + r.value > end) return null;
      data = b.subarray(r.next, r.next + r.value);
      p = r.next + r.value;
    } else {
      const skipped = skipField(b, p, end, tag);
      if (skipped < 0) return null;
      p = skipped;
    }
  }
  return { index, term, type, data };
}

/** Parses walpb.Snapshot {index=1, term=2}; null when malformed. */
export function parseSnapshot(b: Uint8Array): { index: number; term: bigint } | null {
  let index = 0;
  let term = 0n;
  let p = 0;
  while (p < b.length) {
    const tag = b[p++]!;
    if (tag === 0x08 || tag === 0x10) {
      const r = readVarint(b, p, b.length);
      if (r === null) return null;
      p = r.next;
      if (tag === 0x08) index = r.value;
      else term = BigInt(r.value);
    } else {
      const skipped = skipField(b, p, b.length, tag);
      if (skipped < 0) return null;
      p = skipped;
    }
  }
  return { index, term };
}
