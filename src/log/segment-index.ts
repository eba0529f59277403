/**
 * The in-memory index of a Log's segments: which entries each holds, where its good bytes end,
 * and checkpoints (entry index, frame offset, CRC before it) every CHECKPOINT_BYTES so a random
 * `get` reads and decodes about that much of a segment: one read of [checkpoint, next checkpoint).
 * Memory: one checkpoint (three numbers, ~24 bytes) per 2 KiB written, ~1.2 % of the log's size
 * (~1.5 bytes per 100-byte record). The writer adds them as it encodes each batch (batch-writer.ts,
 * through BatchCheckpointList), a reopen's scan (recovery.ts) between the entries it reads.
 */
import type { BatchCheckpoints } from './frames';

/** Distance between checkpoints; bounds what `get` reads and decodes (measured: bench/README.md, Log get). */
export const CHECKPOINT_BYTES = 2 * 1024;

/** One segment file. Indexes are numbers (a log never reaches 2^53 entries). */
export interface SegmentInfo {
  seq: number;
  /** The raft index in the file name (the first entry it is expected to hold). */
  nameIndex: number;
  name: string;
  path: string;
  /** First and last entry index it holds; last < first when it holds none. */
  first: number;
  last: number;
  /** End of the last good frame (what readers may read up to). */
  end: number;
  /** Checkpoints: the first entry index at or after `cpOffset[i]`, and the CRC before that frame. */
  cpIndex: number[];
  cpOffset: number[];
  cpCrc: number[];
}

/** A new, empty SegmentInfo. */
export function newSegment(seq: number, nameIndex: number, name: string, path: string): SegmentInfo {
  return { seq, nameIndex, name, path, first: nameIndex, last: nameIndex - 1, end: 0, cpIndex: [], cpOffset: [], cpCrc: [] };
}

/** Adds a checkpoint if the last one is at least CHECKPOINT_BYTES behind `offset`. */
export function maybeCheckpoint(seg: SegmentInfo, index: number, offset: number, crc: number): void {
  const n = seg.cpOffset.length;
  if (n === 0 || offset - seg.cpOffset[n - 1]! >= CHECKPOINT_BYTES) {
    seg.cpIndex.push(index);
    seg.cpOffset.push(offset);
    seg.cpCrc.push(crc);
  }
}

/**
 * The checkpoints inside one batch, for the encoder to fill (encodeEntryBatch) and the writer to
 * add to the tail segment: without them a get() of a record this process wrote read from its
 * batch's start, up to a whole batch (~1 ms for one of 1,000 × 1 KiB; bench/README.md).
 */
export class BatchCheckpointList implements BatchCheckpoints {
  readonly every = CHECKPOINT_BYTES;
  last = 0;
  readonly index: number[] = [];
  readonly offset: number[] = [];
  readonly crc: number[] = [];

  /** Before encoding a batch at file offset `base` of `seg`, after the batch start's `maybeCheckpoint`. */
  begin(seg: SegmentInfo, base: number): this {
    this.index.length = 0;
    this.offset.length = 0;
    this.crc.length = 0;
    const n = seg.cpOffset.length;
    this.last = n === 0 ? 0 : seg.cpOffset[n - 1]! - base;
    return this;
  }

  /** After encoding: the batch's checkpoints join `seg`'s. */
  addTo(seg: SegmentInfo, base: number): void {
    for (let k = 0; k < this.index.length; k++) {
      seg.cpIndex.push(this.index[k]!);
      seg.cpOffset.push(base + this.offset[k]!);
      seg.cpCrc.push(this.crc[k]!);
    }
  }
}

/** Forgets checkpoints at or beyond `offset` (after a truncation). */
export function dropCheckpointsFrom(seg: SegmentInfo, offset: number): void {
  let n = seg.cpOffset.length;
  while (n > 0 && seg.cpOffset[n - 1]! >= offset) n--;
  seg.cpIndex.length = n;
  seg.cpOffset.length = n;
  seg.cpCrc.length = n;
}

/** Where to start reading a segment to reach entry `index`: the last checkpoint at or before it. */
export function checkpointFor(seg: SegmentInfo, index: number): { offset: number; crc: number } {
  const span = checkpointSpan(seg, index);
  return { offset: span.offset, crc: span.crc };
}

/**
 * The bytes to read for entry `index`: from the last checkpoint at or before it to the next one
 * (the entry's frame ends there) or to the segment's known end.
 */
export function checkpointSpan(seg: SegmentInfo, index: number): { offset: number; crc: number; end: number } {
  let lo = 0;
  let hi = seg.cpIndex.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (seg.cpIndex[mid]! <= index) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const next = best + 1 < seg.cpOffset.length ? Math.min(seg.cpOffset[best + 1]!, seg.end) : seg.end;
  return best < 0 ? { offset: 0, crc: 0, end: next } : { offset: seg.cpOffset[best]!, crc: seg.cpCrc[best]!, end: next };
}

/** The position of the segment holding entry `index` in `segments` (ascending, `first` non-decreasing), or -1. */
export function findSegment(segments: readonly SegmentInfo[], index: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid]!.first <= index) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Skip empty segments (a cut with no entry after it yet).
  for (let i = best; i >= 0; i--) {
    const s = segments[i]!;
    if (s.last >= s.first) return index <= s.last ? i : -1;
  }
  return -1;
}
