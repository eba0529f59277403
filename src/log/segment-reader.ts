/**
 * Opens one Log segment for reading through the etcd decoder (src/etcd/decoder.ts), which applies
 * etcd's rules: a zero length word ends a segment; in the LAST segment a frame cut short by the end
 * of the file, or whose CRC fails with a sector-sized run of zeros inside it, is a torn write
 * (reported through `tornAt`, not thrown); anything else that fails is corruption (WalError), with
 * the Log's error codes (see `logReadError`). Also the Log's entry/snapshot payload parsers.
 */
import { Decoder, type ParsedRecord } from '../etcd/decoder';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';

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

/** A decoder over one segment file; the caller closes `sources[0].file`. */
export async function openSegment(io: IoBackend, path: string, opts: SegmentReaderOptions): Promise<Decoder> {
  const file = await io.open(path, { read: true });
  try {
    const size = await file.size();
    return new Decoder(io, [{ path, file, size: Math.min(size, opts.limit ?? size) }], {
      offset: opts.offset ?? 0,
      crc: opts.crc ?? 0,
      chunkSize: opts.bufferBytes,
      stopAtSize: true,
      // etcd's 10 MiB frame limit (the default), as etcd's Repair and `wal verify` apply it: a
      // length word past it is damage (ERR_WAL_RECORD_TOO_LARGE), never a torn tail to cut. The
      // Log's own frames stay below it (data <= 10 MiB - 64).
      tail: opts.last ? 'report' : 'none',
      // The Log's walpb.Record rules: a known field of the wrong wire type is skipped as unknown.
      parseRecord,
    });
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** Closes the segment file of a decoder from `openSegment`. */
export function closeSegment(dec: Decoder): Promise<void> {
  return dec.sources[0]!.file.close();
}

/**
 * The Log's codes for the decoder's errors: a walpb.Record that does not decode is
 * ERR_WAL_CORRUPT_PAYLOAD, and a failed read is the backend's own error.
 */
export function logReadError(err: unknown): unknown {
  if (!(err instanceof WalError)) return err;
  if (err.code === WalErrorCodes.CORRUPT_RECORD) {
    return new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'walpb.Record does not decode', {
      file: err.file,
      offset: err.offset,
      cause: err,
    });
  }
  if (err.code === WalErrorCodes.IO && err.cause !== undefined) return err.cause;
  return err;
}

/**
 * Calls `visit` for each record of `dec` (its `rec*` fields describe the record; `dec.crc` is the
 * running CRC after it) until the segment ends or `visit` returns true. Throws the Log's codes.
 */
export async function forEachRecord(dec: Decoder, visit: (dec: Decoder) => boolean | void): Promise<void> {
  for (;;) {
    let r: number;
    try {
      r = dec.tryNextRaw();
      if (r < 0) {
        await dec.fill();
        continue;
      }
    } catch (err) {
      throw logReadError(err);
    }
    if (r === 0 || visit(dec) === true) return;
  }
}

/** The data of the record `dec` last handed out, or null when the field was absent. */
export function recordData(dec: Decoder): Uint8Array | null {
  return dec.recStart < 0 ? null : dec.recBuf.subarray(dec.recStart, dec.recEnd);
}

/** Parses walpb.Record {type=1, crc=2, data=3}; null when the bytes are not a valid message. */
function parseRecord(b: Uint8Array, start: number, end: number): ParsedRecord | null {
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
