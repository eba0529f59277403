/**
 * How many bytes of segments lie after a position, for a consumer's `lagBytes`: the bytes from the
 * read checkpoint at or before the next record to the end of its segment, plus every later
 * segment. Exact to within one checkpoint interval (CHECKPOINT_BYTES, 2 KiB) and counting frame
 * bytes, not data bytes.
 */
import { checkpointFor, findSegment, type SegmentInfo } from './segment-index';

export function segmentBytesAfter(segments: readonly SegmentInfo[], afterIndex: number): number {
  const next = afterIndex + 1;
  let si = findSegment(segments, next);
  if (si < 0) {
    // Past the last record (nothing to read), or before the first segment (everything).
    const last = segments[segments.length - 1];
    if (last === undefined || next > Math.max(last.last, last.first - 1)) return 0;
    si = 0;
  }
  const seg = segments[si]!;
  let bytes = seg.end - checkpointFor(seg, next).offset;
  for (let k = si + 1; k < segments.length; k++) bytes += segments[k]!.end;
  return Math.max(0, bytes);
}
