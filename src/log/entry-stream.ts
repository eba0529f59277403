/**
 * `Log.entries()`: entries [from, to] read segment by segment through the etcd decoder, handed out
 * by a hand-written async iterator rather than an async generator. A generator step per record
 * cost about as much as decoding it (1 M × 100 B: 810 ms through the generator, most of the gap to
 * the open-time scan of the same bytes); here an entry already in the read buffer is one resolved
 * promise, and only a buffer fill or a segment change takes the async path.
 */
import { type EntrySpan, LENIENT, RecordType, readEntrySpan } from '../etcd/codec';
import type { Decoder } from '../etcd/decoder';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { throwIfAborted } from './abort';
import type { LogEntry } from './log-types';
import { checkpointFor, findSegment, type SegmentInfo } from './segment-index';
import type { SegmentFileLease, SegmentFiles } from './segment-files';
import { decodeOpenSegment, nextLogRecord } from './segment-reader';

// Module-local: a property read of an imported object costs on the per-record path.
const ENTRY = RecordType.Entry;
const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/** What the stream reads: the Log's segments as they are when it moves to the next one. */
export interface EntrySource {
  io: IoBackend;
  /** The Log's cached read handles. */
  files: SegmentFiles;
  segments(): readonly SegmentInfo[];
  /** The log's directory, for errors. */
  dir: string;
  bufferBytes: number;
}

export class EntryStream implements AsyncGenerator<LogEntry, void, undefined> {
  private dec: Decoder | null = null;
  private seg: SegmentInfo | null = null;
  /** The read handle `dec` reads through, lent by the cache until the segment ends. */
  private lease: SegmentFileLease | null = null;
  /** `next` when the current segment was opened: a segment that yields nothing is an error. */
  private segmentFirst = 0;
  private finished = false;
  /** The async step in flight: a next() called meanwhile runs after it, as a generator's would. */
  private busy: Promise<IteratorResult<LogEntry, void>> | null = null;
  private readonly span: EntrySpan = { type: 0, index: 0, dataStart: 0, dataEnd: 0 };

  /**
   * @param start  checks and resolves the range at the first `next()` (as a generator's body would
   *               run): returns [first, last], or throws.
   */
  constructor(
    private readonly src: EntrySource,
    private readonly start: () => [number, number],
    private readonly signal: AbortSignal | undefined,
  ) {}

  private nextIndex = -1;
  private end = -1;

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LogEntry, void>> {
    if (this.busy !== null) return this.busy.then(() => this.next());
    if (this.finished) return Promise.resolve(DONE);
    const dec = this.dec;
    if (dec === null) return this.run(this.slowNext());
    // Fast path: the next entry is already in the decoder's buffer.
    try {
      for (;;) {
        const more = nextLogRecord(dec);
        if (typeof more !== 'boolean') return this.run(this.afterRead(dec, more));
        if (!more) return this.run(this.closeSegment().then(() => this.slowNext()));
        const e = this.entryOf(dec);
        if (e === 'skip') continue;
        if (e === null) return this.run(this.finish());
        return Promise.resolve({ done: false, value: e });
      }
    } catch (err) {
      return this.fail(err);
    }
  }

  /** Runs an async step; a next() called meanwhile waits for it. An error ends the stream. */
  private run(step: Promise<IteratorResult<LogEntry, void>>): Promise<IteratorResult<LogEntry, void>> {
    const p = step.then(
      (r) => {
        this.busy = null;
        return r;
      },
      (err: unknown) => {
        this.busy = null;
        return this.fail(err);
      },
    );
    this.busy = p;
    return p;
  }

  /** The decoder had to read: its next record once it has. */
  private async afterRead(dec: Decoder, more: Promise<boolean>): Promise<IteratorResult<LogEntry, void>> {
    if (!(await more)) {
      await this.closeSegment();
      return this.slowNext();
    }
    const e = this.entryOf(dec);
    if (e === 'skip') return this.slowNext();
    if (e === null) return this.finish();
    return { done: false, value: e };
  }

  /** The general path: the first call (the range is resolved), segment opens, reads, ends. */
  private async slowNext(): Promise<IteratorResult<LogEntry, void>> {
    if (this.nextIndex < 0) [this.nextIndex, this.end] = this.start();
    for (;;) {
      if (this.dec === null) {
        if (this.nextIndex > this.end) return this.finish();
        await this.open();
      }
      const dec = this.dec!;
      let more = nextLogRecord(dec);
      if (typeof more !== 'boolean') more = await more;
      if (!more) {
        await this.closeSegment();
        continue;
      }
      const e = this.entryOf(dec);
      if (e === 'skip') continue;
      if (e === null) return this.finish();
      return { done: false, value: e };
    }
  }

  /** The decoder's current record as an entry of the range, 'skip' for one to pass over, null past the end. */
  private entryOf(dec: Decoder): LogEntry | null | 'skip' {
    const rec = dec.record;
    if (rec.type !== ENTRY) return 'skip';
    const span = this.span;
    // The record's span in the read buffer, read in place: one view per entry, its data.
    if (rec.start < 0 || !readEntrySpan(rec.buf, rec.start, rec.end, span, LENIENT)) {
      throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'entry does not decode', { file: this.seg!.path, offset: rec.offset });
    }
    const index = span.index;
    if (index < this.nextIndex) return 'skip';
    if (index > this.end) return null;
    throwIfAborted(this.signal, 'entries');
    this.nextIndex = index + 1;
    // Read buffers are never reused, so the view stays valid (docs/api.md `entries`).
    return { index: BigInt(index), data: rec.buf.subarray(span.dataStart, span.dataEnd) };
  }

  private async open(): Promise<void> {
    const segs = this.src.segments();
    const si = findSegment(segs, this.nextIndex);
    if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.nextIndex} is no longer in the log`, { file: this.src.dir });
    const seg = segs[si]!;
    const cp = checkpointFor(seg, this.nextIndex);
    this.seg = seg;
    this.segmentFirst = this.nextIndex;
    this.lease = await this.src.files.acquire(seg.path);
    this.dec = decodeOpenSegment(this.src.io, seg.path, this.lease.file, seg.end, {
      offset: cp.offset,
      crc: cp.crc,
      last: false,
      bufferBytes: this.src.bufferBytes,
    });
  }

  /** Gives the read handle back to the cache (which closes it if it was forgotten meanwhile). */
  private releaseSegment(): void {
    const lease = this.lease;
    this.lease = null;
    this.dec = null;
    lease?.release();
  }

  /** The current segment ended: close it; one that held no entry of the range is an error. */
  private async closeSegment(): Promise<void> {
    this.releaseSegment();
    if (this.nextIndex === this.segmentFirst) {
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.nextIndex} not found in ${this.seg!.name}`, { file: this.seg!.path });
    }
  }

  private async finish(): Promise<IteratorReturnResult<void>> {
    this.finished = true;
    this.releaseSegment();
    return DONE;
  }

  /** An error ends the stream (its segment closed), as a generator that threw. */
  private async fail(err: unknown): Promise<never> {
    this.finished = true;
    this.releaseSegment();
    throw err;
  }

  /** Stops early (a `break` out of for-await): closes the segment. */
  async return(): Promise<IteratorReturnResult<void>> {
    if (this.busy !== null) await this.busy.catch(() => undefined);
    return this.finish();
  }

  async throw(err: unknown): Promise<IteratorResult<LogEntry, void>> {
    if (this.busy !== null) await this.busy.catch(() => undefined);
    return this.fail(err);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
