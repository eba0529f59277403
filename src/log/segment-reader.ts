/**
 * Opens one Log segment for reading through the etcd decoder (src/etcd/decoder.ts), which applies
 * etcd's rules: a zero length word ends a segment; in the LAST segment a frame cut short by the end
 * of the file, or whose CRC fails with a sector-sized run of zeros inside it, is a torn write
 * (reported through `tornAt`, not thrown); anything else that fails is corruption (WalError), with
 * the Log's error codes (see `logReadError`). The entry/snapshot parsers are src/etcd/codec's, by
 * its lenient rules.
 */
import { type EntryFields, LENIENT, decodeEntryFields, decodeSnapshot } from '../etcd/codec';
import { Decoder, type DecoderOptions } from '../etcd/decoder';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';

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
    return decodeOpenSegment(io, path, file, Math.min(size, opts.limit ?? size), opts);
  } catch (err) {
    await file.close();
    throw err;
  }
}

/**
 * A decoder over a segment file the caller holds open (SegmentFiles), reading no further than
 * `end`: what the Log knows to be written there, never the file's size.
 */
export function decodeOpenSegment(
  io: IoBackend,
  path: string,
  file: WalFile,
  end: number,
  opts: SegmentReaderOptions & Pick<DecoderOptions, 'syncReads' | 'scratch' | 'queue'>,
): Decoder {
  return new Decoder(io, [{ path, file, size: end }], {
    offset: opts.offset ?? 0,
    crc: opts.crc ?? 0,
    chunkSize: opts.bufferBytes,
    stopAtSize: true,
    // etcd's 10 MiB frame limit (the default), as etcd's Repair and `wal verify` apply it: a
    // length word past it is damage (ERR_WAL_RECORD_TOO_LARGE), never a torn tail to cut. The
    // Log's own frames stay below it (data <= 10 MiB - 64).
    tail: opts.last ? 'report' : 'none',
    // The Log's walpb.Record rules: a known field of the wrong wire type is skipped as unknown.
    rules: LENIENT,
    syncReads: opts.syncReads ?? false,
    scratch: opts.scratch,
    queue: opts.queue,
  });
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
 * Calls `visit` for each record of `dec` (`dec.record` describes it; `dec.crc` is the running CRC
 * after it) until the segment ends or `visit` returns true. Throws the Log's codes.
 */
export async function forEachRecord(dec: Decoder, visit: (dec: Decoder) => boolean | void): Promise<void> {
  for (;;) {
    let more = nextLogRecord(dec);
    if (typeof more !== 'boolean') more = await more;
    if (!more || visit(dec) === true) return;
  }
}

/**
 * `dec.nextRecord()` with the Log's error codes (see `logReadError`): a boolean while the buffer
 * holds whole frames, a Promise when it must read first.
 */
export function nextLogRecord(dec: Decoder): boolean | Promise<boolean> {
  let more: boolean | Promise<boolean>;
  try {
    more = dec.nextRecord();
  } catch (err) {
    throw logReadError(err);
  }
  return typeof more === 'boolean' ? more : more.catch(rethrowLogError);
}

function rethrowLogError(err: unknown): never {
  throw logReadError(err);
}

/** A raftpb.Entry's fields. `index` as a number (logs never reach 2^53 entries). */
export type ParsedEntry = EntryFields;

/** raftpb.Entry by the Log's (lenient) rules; null when malformed. */
export function parseEntry(b: Uint8Array): ParsedEntry | null {
  try {
    return decodeEntryFields(b, LENIENT);
  } catch {
    return null;
  }
}

/** walpb.Snapshot's index and term by the Log's (lenient) rules; null when malformed. */
export function parseSnapshot(b: Uint8Array): { index: number; term: bigint } | null {
  try {
    const s = decodeSnapshot(b, LENIENT);
    return { index: Number(s.index), term: s.term };
  } catch {
    return null;
  }
}
