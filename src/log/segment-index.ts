/**
 * The in-memory index of a Log's segments: which entries each holds, where its good bytes end,
 * and checkpoints (entry index, frame offset, CRC before it) every CHECKPOINT_BYTES so a random
 * `get` reads and decodes about that much of a segment: one read of [checkpoint, next checkpoint).
 * Memory: one checkpoint (three numbers, ~24 bytes) per 2 KiB written, ~1.2 % of the log's size
 * (~1.5 bytes per 100-byte record). The writer's encoder adds them as it frames each batch
 * (batchCheckpoints), a reopen's scan (recovery.ts) between the entries it reads.
 */
import type { BatchCheckpoints } from './frames';

/** Distance between checkpoints; bounds what `get` reads and decodes (measured: bench/README.md, Log get). */
export const CHECKPOINT_BYTES = 2 * 1024;

/** Checkpoints: the first entry index at or after `cpOffset[i]`, and the CRC before that frame. */
export interface Checkpoints {
  cpIndex: number[];
  cpOffset: number[];
  cpCrc: number[];
}

/** One segment file. Indexes are numbers (a log never reaches 2^53 entries). */
export interface SegmentInfo extends Checkpoints {
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
}

/** A new, empty SegmentInfo. */
export function newSegment(seq: number, nameIndex: number, name: string, path: string): SegmentInfo {
  return { seq, nameIndex, name, path, first: nameIndex, last: nameIndex - 1, end: 0, cpIndex: [], cpOffset: [], cpCrc: [] };
}

/** Adds a checkpoint if the last one is at least CHECKPOINT_BYTES behind `offset`. */
export function maybeCheckpoint(seg: Checkpoints, index: number, offset: number, crc: number): void {
  const n = seg.cpOffset.length;
  if (n === 0 || offset - seg.cpOffset[n - 1]! >= CHECKPOINT_BYTES) {
    seg.cpIndex.push(index);
    seg.cpOffset.push(offset);
    seg.cpCrc.push(crc);
  }
}

/**
 * `seg`'s checkpoints for the encoder to extend as it frames a batch at file offset `base`
 * (encodeEntryBatch), by maybeCheckpoint's rule, the batch's first frame included: without them a
 * get() of a record this process wrote read from its batch's start, up to a whole batch (~1 ms
 * for one of 1,000 × 1 KiB; bench/README.md).
 */
export function batchCheckpoints(seg: Checkpoints, base: number): BatchCheckpoints {
  const n = seg.cpOffset.length;
  const last = n === 0 ? -Infinity : seg.cpOffset[n - 1]!;
  return { every: CHECKPOINT_BYTES, base, last, index: seg.cpIndex, offset: seg.cpOffset, crc: seg.cpCrc };
}

/** Forgets checkpoints at or beyond `offset` (after a truncation). */
export function dropCheckpointsFrom(seg: SegmentInfo, offset: number): void {
  let n = seg.cpOffset.length;
  while (n > 0 && seg.cpOffset[n - 1]! >= offset) n--;
  seg.cpIndex.length = n;
  seg.cpOffset.length = n;
  seg.cpCrc.length = n;
}

/** The position of the last value at or below `value` in ascending `sorted`, or -1. */
export function lastAtOrBelow(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= value) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The position of the last checkpoint at or before entry `index` in `cps`, or -1. */
function checkpointAt(cps: Checkpoints, index: number): number {
  return lastAtOrBelow(cps.cpIndex, index);
}

/** Where to start reading to reach entry `index`: the last checkpoint at or before it (else the start). */
export function checkpointFor(cps: Checkpoints, index: number): { offset: number; crc: number } {
  const k = checkpointAt(cps, index);
  return k < 0 ? { offset: 0, crc: 0 } : { offset: cps.cpOffset[k]!, crc: cps.cpCrc[k]! };
}

/**
 * Like checkpointSpan, for checkpoints without a known end (a read-only open's, of segments it
 * decoded): up to the next checkpoint, else `maxBytes`. Null when no checkpoint precedes `index`.
 */
export function checkpointRange(cps: Checkpoints, index: number, maxBytes: number): { offset: number; crc: number; end: number } | null {
  const k = checkpointAt(cps, index);
  if (k < 0) return null;
  const offset = cps.cpOffset[k]!;
  const end = k + 1 < cps.cpOffset.length ? Math.min(cps.cpOffset[k + 1]!, offset + maxBytes) : offset + maxBytes;
  return { offset, crc: cps.cpCrc[k]!, end };
}

/**
 * The bytes to read for entry `index`: from the last checkpoint at or before it to the next one
 * (the entry's frame ends there) or to the segment's known end.
 */
export function checkpointSpan(seg: SegmentInfo, index: number): { offset: number; crc: number; end: number } {
  const k = checkpointAt(seg, index);
  const end = k + 1 < seg.cpOffset.length ? Math.min(seg.cpOffset[k + 1]!, seg.end) : seg.end;
  return k < 0 ? { offset: 0, crc: 0, end } : { offset: seg.cpOffset[k]!, crc: seg.cpCrc[k]!, end };
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
