/**
 * The Log's reads: `entries()` streams a range segment by segment, `tail()` follows the durable
 * end, `get()` and the truncations find one entry from the nearest checkpoint.
 */
import { WalError, WalErrorCodes } from '../errors';
import { indexToNumber as toIndex, type IndexArg } from '../index-arg';
import { throwIfAborted } from './abort';
import { RecordType } from '../etcd/codec';
import type { LogCore } from './log-core';
import type { EntriesRange, LogEntry, TailOptions } from './log-types';
import { CHECKPOINT_BYTES, checkpointFor, findSegment, type SegmentInfo } from './segment-index';
import { closeSegment, forEachRecord, nextLogRecord, openSegment, parseEntry } from './segment-reader';

// A module-local copy: a property read of an imported object costs on the per-record path.
const ENTRY = RecordType.Entry;

export class LogReads {
  constructor(private readonly core: LogCore) {}

  /**
   * Streams entries in [from, to] (defaults: firstIndex, lastIndex at the first `next()`), segment by
   * segment; memory is bounded by the read buffer, not by the log. Entries appended later are not
   * included (see `tail()`). Truncating concurrently may end the iteration with an error.
   */
  async *entries(range: EntriesRange = {}): AsyncGenerator<LogEntry, void, undefined> {
    this.checkReadable();
    const signal = range.signal;
    throwIfAborted(signal, 'entries');
    let next = Math.max(range.from === undefined ? 0 : toIndex('from', range.from), this.core.firstIndexN());
    const end = Math.min(range.to === undefined ? this.core.written : toIndex('to', range.to), this.core.written);
    while (next <= end) {
      const si = findSegment(this.core.segments, next);
      if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} is no longer in the log`, { file: this.core.dir });
      const seg = this.core.segments[si]!;
      const cp = checkpointFor(seg, next);
      const dec = await openSegment(this.core.io, seg.path, {
        offset: cp.offset,
        crc: cp.crc,
        limit: seg.end,
        last: false,
        bufferBytes: this.core.opts.readBufferBytes,
      });
      const before = next;
      try {
        const rec = dec.record;
        for (;;) {
          let more = nextLogRecord(dec);
          if (typeof more !== 'boolean') more = await more;
          if (!more) break;
          if (rec.type !== ENTRY) continue;
          const e = parseEntry(rec.data!);
          if (e === null)
            throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'entry does not decode', { file: seg.path, offset: rec.offset });
          if (e.index < next) continue;
          if (e.index > end) return;
          throwIfAborted(signal, 'entries');
          yield { index: BigInt(e.index), data: e.data };
          next = e.index + 1;
        }
      } finally {
        await closeSegment(dec);
      }
      if (next === before) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} not found in ${seg.name}`, { file: seg.path });
      }
    }
  }

  /**
   * Follows the log: yields entries from `from` (default: the next one to become durable) as they
   * become durable, waiting for new ones; ends when the log closes. Throws ERR_WAL_OUT_OF_RANGE if
   * truncateBack removes entries this follower already yielded.
   */
  async *tail(opts: TailOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    const signal = opts.signal;
    throwIfAborted(signal, 'tail');
    let next = opts.from === undefined ? this.core.durableN + 1 : Math.max(toIndex('from', opts.from), this.core.firstIndexN());
    const cuts = this.core.backCuts;
    let cutsSeen = cuts.length;
    // While this follower runs, the writer keeps recent records in memory for it.
    const recent = this.core.recent;
    recent.retain();
    try {
      for (;;) {
        // Truncation first: a close racing a truncateBack must not end the follower normally. A cut
        // below `next - 1` counts even when appends have since refilled the log past it.
        while (cutsSeen < cuts.length) {
          if (cuts[cutsSeen++]! < next - 1) {
            throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entries before ${next} were truncated`, { file: this.core.dir });
          }
        }
        if (next > this.core.written + 1) {
          throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entries before ${next} were truncated`, { file: this.core.dir });
        }
        if (this.core.ended) return;
        // A truncateFront moved the front past `next`: continue there, as entries() would (and do
        // not spin on an empty range when the new front is past the durable end).
        if (next < this.core.firstIndexN()) next = this.core.firstIndexN();
        if (next <= this.core.durableN) {
          // Just durable: from the writer's window while it holds the record (no reopen, no decode).
          const held = this.core.recent.get(next);
          if (held !== undefined) {
            throwIfAborted(signal, 'tail');
            yield { index: BigInt(next), data: held };
            next++;
            continue;
          }
          for await (const e of this.entries(
            signal === undefined ? { from: next, to: this.core.durableN } : { from: next, to: this.core.durableN, signal },
          )) {
            // A truncation meanwhile: the decoder's buffer may hold entries the log has since dropped.
            if (cuts.length !== cutsSeen || Number(e.index) < this.core.firstIndexN()) break;
            yield e;
            next = Number(e.index) + 1;
          }
          continue;
        }
        if (this.core.state === 'closing') {
          // Operations queued before close() (a truncateBack) still run: end only once they have.
          await this.core.closePromise?.catch(() => undefined);
          continue;
        }
        await this.core.waitDurable(next, signal, 'tail');
      }
    } finally {
      recent.release();
    }
  }

  /** The data of entry `index` (a copy). ERR_WAL_OUT_OF_RANGE when it is not in [firstIndex, lastIndex]. */
  async get(index: IndexArg): Promise<Uint8Array> {
    const e = await this.readEntry(toIndex('index', index));
    return e.data.slice();
  }

  async readEntry(index: number): Promise<{ data: Uint8Array; term: bigint }> {
    this.checkReadable();
    if (index < this.core.firstIndexN() || index > this.core.written) {
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} is outside [${this.core.firstIndexN()}, ${this.core.written}]`);
    }
    const si = findSegment(this.core.segments, index);
    if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} is no longer in the log`, { file: this.core.dir });
    const seg = this.core.segments[si]!;
    const { dec } = await this.openAtCheckpoint(seg, index);
    let found: { data: Uint8Array; term: bigint } | null = null;
    try {
      await forEachRecord(dec, (d) => {
        if (d.record.type !== ENTRY) return false;
        const e = parseEntry(d.record.data!);
        if (e !== null && e.index === index) found = { data: e.data, term: e.term };
        return found !== null;
      });
    } finally {
      await closeSegment(dec);
    }
    if (found !== null) return found;
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} not found`, { file: seg.path });
  }

  /** A decoder over `seg` starting at the nearest checkpoint at or before entry `index`. */
  private async openAtCheckpoint(seg: SegmentInfo, index: number) {
    const cp = checkpointFor(seg, index);
    const dec = await openSegment(this.core.io, seg.path, {
      offset: cp.offset,
      crc: cp.crc,
      limit: seg.end,
      last: false,
      bufferBytes: 2 * CHECKPOINT_BYTES,
    });
    return { cp, dec };
  }

  /** File offset of entry `index`'s frame in `seg` and the running CRC before it. */
  async locate(seg: SegmentInfo, index: number): Promise<{ offset: number; crc: number }> {
    const { cp, dec } = await this.openAtCheckpoint(seg, index);
    let found: { offset: number; crc: number } | null = null;
    try {
      let before = cp.crc;
      await forEachRecord(dec, (d) => {
        if (d.record.type === ENTRY && parseEntry(d.record.data!)?.index === index) {
          found = { offset: d.record.offset, crc: before };
          return true;
        }
        before = d.crc;
        return false;
      });
    } finally {
      await closeSegment(dec);
    }
    if (found !== null) return found;
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} not found`, { file: seg.path });
  }

  private checkReadable(): void {
    if (this.core.state === 'closed') throw this.core.unusable();
  }
}
