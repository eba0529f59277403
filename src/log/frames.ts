/**
 * The bytes Log writes: etcd WAL frames (u64 LE length word with padding flag, walpb.Record,
 * zero padding to 8 bytes) holding raftpb.Entry records (type 0, term, index, data), plus the few
 * header records a segment starts with (those through src/etcd's encoder). Byte-identical to what
 * etcd's encoder emits for the same records.
 *
 * The hot path, `encodeEntryBatch` (src/etcd/frame.ts, the one entry encoder WAL.save uses too),
 * writes a whole batch straight into the caller's (possibly O_DIRECT-aligned) buffer.
 */
import { RecordType, encodeSnapshot } from '../etcd/codec';
import { FRAME_OVERHEAD_MAX, encodeFrames, type RecordInput } from '../etcd/frame';

// The entry encoder is etcd/frame.ts's, shared with WAL.save; these names are the Log's imports.
export { FRAME_OVERHEAD_MAX, encodeEntryBatch, entryBatchCapacity, type BatchCheckpoints, type EncodedBatch } from '../etcd/frame';
import type { IoBackend } from '../io/types';

/**
 * Largest entry data Log accepts: keeps every frame under etcd 3.4.10+'s 10 MiB read limit
 * (a frame with N >= 10 MiB - P is unreadable there), with room for the headers.
 */
export const MAX_ENTRY_DATA = 10 * 1024 * 1024 - FRAME_OVERHEAD_MAX;

/**
 * The records every segment starts with, as etcd's `cut` writes them: a crc record carrying the
 * running CRC of everything before, then the metadata record (absent data, as `Create(dir, nil)`).
 * The first segment (`first`) also gets the snapshot {0,0} record that etcd's `Create` writes, so
 * etcd can `Open` the directory at {0,0}.
 */
export function encodeSegmentHeader(io: IoBackend, running: number, first: boolean): { bytes: Uint8Array; crc: number } {
  const records: RecordInput[] = [
    { type: RecordType.Crc, data: null },
    { type: RecordType.Metadata, data: null },
  ];
  if (first) records.push({ type: RecordType.Snapshot, data: encodeSnapshot({ index: 0n, term: 0n }) });
  const { bytes, crc } = encodeFrames(io, records, running);
  return { bytes, crc };
}

/** A snapshot record {index, term} (etcd `SaveSnapshot`), continuing the chain from `running`. */
export function encodeSnapshotFrame(io: IoBackend, index: bigint, term: bigint, running: number): { bytes: Uint8Array; crc: number } {
  const { bytes, crc } = encodeFrames(io, [{ type: RecordType.Snapshot, data: encodeSnapshot({ index, term }) }], running);
  return { bytes, crc };
}
