/**
 * A consumer's sequential reader over a writable Log's segments: keeps its decoder open between
 * batches and takes the records already in the read buffer synchronously, so a batch costs one
 * await per buffer fill rather than one per record (an async generator step per record halved a
 * drain's rate; bench/README.md). When it reaches the end it knew of in the tail, it reopens at the
 * same frame with the tail's new end; at the end of a closed segment it moves to the next.
 * Records still in the writer's window of recent records (recent-records.ts) are taken from
 * memory instead, up to the durable index only.
 */
import type { Decoder } from '../etcd/decoder';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { type EntrySpan, LENIENT, RecordType, readEntrySpan } from '../etcd/codec';
import { checkpointFor, findSegment, type SegmentInfo } from './segment-index';
import type { RecentRecords, RecordPlace } from './recent-records';
import { type BatchTarget, HeldRecord } from './batch-assembly';
import type { SegmentFileLease, SegmentFiles } from './segment-files';
import { decodeOpenSegment, nextLogRecord } from './segment-reader';

/** The writer's window of recent records and how far they are durable: read from memory up to there. */
export interface RecentSource {
  readonly recent: RecentRecords;
  readonly durableN: number;
}

/**
 * The decoder's current record as entry `next` of a sequential read, read in place (no view or
 * object per record before the caller's copy, as entries() does): true with its place in `span`;
 * false to pass over it (not an entry, or one before `next`); a typed error when it does not
 * decode or skips past `next`.
 */
export function entryAt(dec: Decoder, span: EntrySpan, next: number, file: string): boolean {
  const rec = dec.record;
  if (rec.type !== RecordType.Entry) return false;
  if (rec.start < 0 || !readEntrySpan(rec.buf, rec.start, rec.end, span, LENIENT))
    throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'entry does not decode', { file, offset: rec.offset });
  if (span.index < next) return false;
  if (span.index !== next)
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `expected entry ${next}, found ${span.index}`, { file, offset: rec.offset });
  return true;
}

/** A consumer's reader: batches from `position` on, kept open between reads. */
export interface SequentialReader {
  /** The index the next read() takes first. */
  readonly position: number;
  /**
   * Puts entries position..to into `target` (at most `maxRecords` in it, under its byte bound, a
   * record past the bound held over for the next read), copied.
   */
  read(target: BatchTarget, to: number, maxRecords: number): Promise<void>;
  close(): Promise<void>;
}

export class BatchReader implements SequentialReader {
  private dec: Decoder | null = null;
  /** The cached read handle `dec` reads through (the Log's SegmentFiles), released with it. */
  private lease: SegmentFileLease | null = null;
  private seg: SegmentInfo | null = null;
  /** A record read past the last batch's bound. */
  private readonly held = new HeldRecord();
  private readonly span: EntrySpan = { type: 0, index: 0, dataStart: 0, dataEnd: 0 };
  private readonly place: RecordPlace = { buf: new Uint8Array(0), start: 0, end: 0 };

  constructor(
    private readonly io: IoBackend,
    private readonly files: SegmentFiles,
    private readonly segments: () => readonly SegmentInfo[],
    private readonly bufferBytes: number,
    /** The next index this reader returns. */
    public next: number,
    /** Records still in the writer's window are copied from there (never past its durable index). */
    private readonly memory: RecentSource | null = null,
  ) {
    memory?.recent.retain();
  }

  private released = false;

  async read(target: BatchTarget, to: number, maxRecords: number): Promise<void> {
    if (!this.held.begin(target)) return;
    const memory = this.memory;
    const place = this.place;
    while (target.count < maxRecords && this.next <= to) {
      if (memory !== null && this.next <= memory.durableN && memory.recent.locate(this.next, place)) {
        // The decoder's position is behind now: the next disk read reopens at a checkpoint.
        if (this.dec !== null) await this.closeDecoder();
        if (!this.held.take(target, this.next++, place.buf, place.start, place.end)) break;
        continue;
      }
      const dec = this.dec ?? (await this.open());
      let more = nextLogRecord(dec);
      if (typeof more !== 'boolean') more = await more;
      if (!more) {
        await this.advance(dec);
        continue;
      }
      const span = this.span;
      if (!entryAt(dec, span, this.next, this.seg!.path)) continue;
      this.next++;
      if (!this.held.take(target, span.index, dec.record.buf, span.dataStart, span.dataEnd)) break;
    }
  }

  /** The index the next read() takes first. */
  get position(): number {
    return this.held.heldIndex ?? this.next;
  }

  private async open(): Promise<Decoder> {
    const segs = this.segments();
    const si = findSegment(segs, this.next);
    if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.next} is no longer in the log`);
    const seg = segs[si]!;
    const cp = checkpointFor(seg, this.next);
    return this.openAt(seg, cp.offset, cp.crc);
  }

  private async openAt(seg: SegmentInfo, offset: number, crc: number): Promise<Decoder> {
    this.seg = seg;
    // The tail reopened at each batch costs no open: the handle stays in the cache.
    const lease = this.files.tryAcquire(seg.path) ?? (await this.files.acquire(seg.path));
    this.lease = lease;
    this.dec = decodeOpenSegment(this.io, seg.path, lease.file, seg.end, { offset, crc, last: false, bufferBytes: this.bufferBytes });
    return this.dec;
  }

  /** At the end the decoder was opened with: the segment grew (reopen there) or the next one. */
  private async advance(dec: Decoder): Promise<void> {
    const seg = this.seg!;
    const at = dec.lastValidOffset;
    const crc = dec.crc;
    await this.closeDecoder();
    if (this.segments().includes(seg) && seg.end > at) await this.openAt(seg, at, crc);
    else if (this.segments().indexOf(seg) === this.segments().length - 1) {
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.next} not found`, { file: seg.path });
    }
    // Otherwise the next read opens the segment holding `next`.
  }

  /** Done with this reader: closes its decoder and stops holding the window open for it. */
  close(): Promise<void> {
    if (!this.released) {
      this.released = true;
      this.memory?.recent.release();
    }
    this.held.clear();
    return this.closeDecoder();
  }

  private closeDecoder(): Promise<void> {
    const lease = this.lease;
    this.dec = null;
    this.lease = null;
    lease?.release();
    return Promise.resolve();
  }
}
