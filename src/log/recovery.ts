/**
 * Open-time scan of an existing Log directory: reads every segment once (chunked, CRC chain
 * checked across segments as etcd's ReadAll does), builds the segment index, finds the latest
 * snapshot record (the front truncation point) and the tail's end. It cuts exactly what etcd's
 * Repair cuts — a torn or truncated last record of the last segment, through the same
 * `cutTornTail` as `WAL.repair` — and only once every other check has passed: anything else is a
 * WalError naming the file and offset, with no byte changed.
 */
import * as path from 'node:path';
import { cutTornTail } from '../etcd/repair';
import { checkRegularSegment, parseWalName } from '../etcd/segments';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { RecordType } from '../etcd/codec';
import { readFrontMarker } from './front-marker';
import { closeSegment, forEachRecord, openSegment, parseEntry, parseSnapshot } from './segment-reader';
import { maybeCheckpoint, newSegment, type SegmentInfo } from './segment-index';

/** What the scan found. */
export interface ScannedLog {
  segments: SegmentInfo[];
  /** Index of the latest snapshot record (entries up to it are compacted), its term and where it is. */
  snapshotIndex: number;
  snapshotTerm: bigint;
  snapshotAt: { seq: number; offset: number } | null;
  /** Last entry index present (snapshotIndex when none is). */
  lastIndex: number;
  /** Running CRC after the tail's last good frame. */
  tailCrc: number;
  /** Path of the `.broken` copy when a torn tail was repaired. */
  repaired: string | null;
}

/** Scans `names` (sorted segment names in `dir`); the last one is the tail. */
export async function scanLog(io: IoBackend, dir: string, names: readonly string[], bufferBytes: number): Promise<ScannedLog> {
  const segments: SegmentInfo[] = [];
  let snapshotIndex = 0;
  let snapshotTerm = 0n;
  let snapshotAt: ScannedLog['snapshotAt'] = null;
  let lastEntry = -1;
  let crc = 0;
  let torn: { path: string; goodEnd: number } | null = null;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const parsed = parseWalName(name)!;
    const seg = newSegment(Number(parsed.seq), Number(parsed.index), name, path.join(dir, name));
    if (i > 0 && seg.seq !== segments[i - 1]!.seq + 1) {
      throw new WalError(WalErrorCodes.FILE_NOT_FOUND, `segment sequence has a gap before ${name}`, { file: seg.path });
    }
    const last = i === names.length - 1;
    await checkRegularSegment(io, seg.path);
    const dec = await openSegment(io, seg.path, { crc, last, bufferBytes });
    try {
      let before = crc;
      await forEachRecord(dec, (d) => {
        const type = d.record.type;
        const offset = d.record.offset;
        if (type === RecordType.Entry) {
          const data = d.record.data;
          const e = data === null ? null : parseEntry(data);
          if (e === null) {
            throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'entry does not decode', { file: seg.path, offset });
          }
          if (lastEntry >= 0 && e.index !== lastEntry + 1) {
            throw new WalError(
              WalErrorCodes.SLICE_OUT_OF_RANGE,
              `entry ${e.index} follows entry ${lastEntry}: Log needs consecutive entries (an etcd raft overwrite is not supported)`,
              { file: seg.path, offset },
            );
          }
          if (seg.last < seg.first) seg.first = e.index;
          seg.last = e.index;
          lastEntry = e.index;
          maybeCheckpoint(seg, e.index, offset, before);
        } else if (type === RecordType.Snapshot) {
          const data = d.record.data;
          const s = data === null ? { index: 0, term: 0n } : parseSnapshot(data);
          if (s === null) {
            throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'snapshot does not decode', { file: seg.path, offset });
          }
          if (s.index >= snapshotIndex) {
            snapshotIndex = s.index;
            snapshotTerm = s.term;
            snapshotAt = { seq: seg.seq, offset };
          }
        } else if (type < RecordType.Metadata || type > RecordType.Snapshot) {
          throw new WalError(WalErrorCodes.UNEXPECTED_RECORD_TYPE, `unexpected block type ${type}`, {
            file: seg.path,
            offset,
          });
        }
        before = d.crc;
      });
      seg.end = dec.lastValidOffset;
      if (i > 0 && seg.end === 0) {
        // The Log syncs a segment's header before renaming the segment into place, so no crash
        // leaves one without it: this is damage. etcd would read the segment as empty and its
        // Open would zero the records after it; refusing keeps them (the first segment's header
        // is checked below, with the snapshot record it holds).
        throw new WalError(
          WalErrorCodes.CHAIN_MISMATCH,
          'the segment has no header: its first frame (the crc record) is zeroed, torn or missing',
          {
            file: seg.path,
            offset: 0,
          },
        );
      }
      crc = dec.crc;
      if (dec.tornAt >= 0) torn = { path: seg.path, goodEnd: dec.lastValidOffset };
    } finally {
      await closeSegment(dec);
    }
    if (seg.last < seg.first) {
      // No entries: it would hold lastEntry+1 onwards.
      seg.first = lastEntry >= 0 ? lastEntry + 1 : seg.nameIndex;
      seg.last = seg.first - 1;
    }
    segments.push(seg);
  }
  if (snapshotAt === null && (await readFrontMarker(io, dir)) === null) {
    // etcd's Create writes snapshot {0,0} into the first segment and every Open needs a snapshot
    // record to start from: without one (a 0-byte or zeroed first segment) neither etcd nor WAL
    // can read the directory, so adopting it would hand the caller a log nobody else can open.
    throw new WalError(WalErrorCodes.SNAPSHOT_NOT_FOUND, 'no snapshot record in the log (the first segment lacks the header etcd writes)', {
      file: segments[0]!.path,
      offset: 0,
    });
  }
  const repaired = torn === null ? null : await cutTail(io, torn.path, torn.goodEnd);
  return {
    segments,
    snapshotIndex,
    snapshotTerm,
    snapshotAt,
    lastIndex: Math.max(lastEntry, snapshotIndex),
    tailCrc: crc,
    repaired,
  };
}

/** The torn tail's cut, through the implementation WAL.repair uses. */
async function cutTail(io: IoBackend, file: string, goodEnd: number): Promise<string> {
  const f = await io.open(file, { read: true, write: true });
  try {
    return await cutTornTail(io, f, file, goodEnd);
  } finally {
    await f.close();
  }
}
