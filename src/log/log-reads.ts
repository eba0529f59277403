/**
 * The Log's reads: `entries()` streams a range segment by segment, `tail()` follows the durable
 * end, `get()` and the truncations find one entry from the nearest checkpoint.
 */
import { WalError, WalErrorCodes } from '../errors';
import { indexToNumber as toIndex, type IndexArg } from '../index-arg';
import { throwIfAborted } from './abort';
import { type EntrySpan, RecordType } from '../etcd/codec';
import { findEntryInSpan } from './entry-lookup';
import { EntryStream } from './entry-stream';
import { TailStream } from './tail-stream';
import { checkMaxRecords, TailBatches } from './tail-batches';
import type { Decoder } from '../etcd/decoder';
import { DecoderQueue } from '../etcd/decoder-queue';
import type { LogCore } from './log-core';
import type { EntriesRange, LogEntry, TailBatchOptions, TailOptions } from './log-types';
import { checkpointSpan, findSegment, type SegmentInfo } from './segment-index';
import { decodeOpenSegment, forEachRecord, nextLogRecord, parseEntry } from './segment-reader';

// A module-local copy: a property read of an imported object costs on the per-record path.
const ENTRY = RecordType.Entry;

/**
 * A lookup reading at most this much from its checkpoint reads it with one pread on the event
 * loop: from the page cache that costs ~1-2 µs, a threadpool hop 15-30 µs. Larger spans (a big
 * batch written by this process has one checkpoint) are read through the threadpool.
 */
const SYNC_READ_MAX_BYTES = 64 * 1024;
/** Chunk for a larger span: what the reads before the descriptor cache used. */
const LOOKUP_CHUNK_BYTES = 128 * 1024;

export class LogReads {
  /**
   * The buffer a synchronous lookup reads its span into: reused, so a lookup copies what it keeps
   * before it returns (nothing else runs while it decodes: its reads do not yield).
   */
  private scratch: Uint8Array | null = null;
  /** The synchronous lookups' decoder queue, shared for the same reason. */
  private readonly lookupQueue = new DecoderQueue(64);
  /** Where `getInPlace` found its entry (reused: nothing yields between the find and the copy). */
  private readonly span: EntrySpan = { type: 0, index: 0, dataStart: 0, dataEnd: 0 };

  constructor(private readonly core: LogCore) {}

  /**
   * Streams entries in [from, to] (defaults: firstIndex, lastIndex at the first `next()`), segment by
   * segment; memory is bounded by the read buffer, not by the log. Entries appended later are not
   * included (see `tail()`). Truncating concurrently may end the iteration with an error.
   */
  entries(range: EntriesRange = {}): AsyncGenerator<LogEntry, void, undefined> {
    const core = this.core;
    const source = { io: core.io, files: core.files, segments: () => core.segments, dir: core.dir, bufferBytes: core.opts.readBufferBytes };
    // The range is checked and resolved at the first next(), as a generator's body would be.
    return new EntryStream(
      source,
      () => {
        this.checkReadable();
        throwIfAborted(range.signal, 'entries');
        const from = Math.max(range.from === undefined ? 0 : toIndex('from', range.from), core.firstIndexN());
        const to = Math.min(range.to === undefined ? core.written : toIndex('to', range.to), core.written);
        return [from, to];
      },
      range.signal,
    );
  }

  /**
   * Follows the log: yields entries from `from` (default: the next one to become durable) as they
   * become durable, waiting for new ones; ends when the log closes. Throws ERR_WAL_OUT_OF_RANGE if
   * truncateBack removes entries this follower already yielded.
   */
  tail(opts: TailOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    return new TailStream(this.core, (range) => this.entries(range), opts);
  }

  /** tail() a batch at a time: every record ready now in one array (tail-batches.ts). */
  tailBatches(opts: TailBatchOptions = {}): AsyncGenerator<LogEntry[], void, undefined> {
    const max = checkMaxRecords(opts.maxRecords);
    return new TailBatches(new TailStream(this.core, (range) => this.entries(range), opts), max);
  }

  /** The data of entry `index` (a copy). ERR_WAL_OUT_OF_RANGE when it is not in [firstIndex, lastIndex]. */
  async get(index: IndexArg): Promise<Uint8Array> {
    const i = toIndex('index', index);
    return this.getInPlace(i) ?? (await this.readEntry(i)).data;
  }

  /**
   * Entry `index`'s data (a copy) when its segment's read handle is open and its span is small:
   * one pread and a walk to the entry (entry-lookup.ts), nothing awaited. Null for everything
   * else, a read error included: `readEntry` then opens, decodes and reports.
   */
  private getInPlace(index: number): Uint8Array | null {
    const core = this.core;
    if (core.state === 'closed' || index < core.firstIndexN() || index > core.written) return null;
    const si = findSegment(core.segments, index);
    if (si < 0) return null;
    const seg = core.segments[si]!;
    const lease = core.files.tryAcquire(seg.path);
    if (lease === null) return null;
    try {
      const cp = checkpointSpan(seg, index);
      const span = cp.end - cp.offset;
      if (span > SYNC_READ_MAX_BYTES) return null;
      const buf = this.lookupBuffer();
      let got: number;
      try {
        got = lease.file.readSync(buf.subarray(0, span), cp.offset);
      } catch {
        return null;
      }
      const at = this.span;
      if (got !== span || !findEntryInSpan(core.io, buf, span, index, cp.crc, at)) return null;
      return buf.slice(at.dataStart, at.dataEnd);
    } finally {
      lease.release();
    }
  }

  /** Entry `index`'s data (a copy) and term. */
  async readEntry(index: number): Promise<{ data: Uint8Array; term: bigint }> {
    this.checkReadable();
    if (index < this.core.firstIndexN() || index > this.core.written) {
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} is outside [${this.core.firstIndexN()}, ${this.core.written}]`);
    }
    const si = findSegment(this.core.segments, index);
    if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} is no longer in the log`, { file: this.core.dir });
    const seg = this.core.segments[si]!;
    let found: { data: Uint8Array; term: bigint } | null = null;
    await this.lookup(seg, index, (d) => {
      if (d.record.type !== ENTRY) return false;
      const e = parseEntry(d.record.data!);
      // A copy now: the bytes may be in the scratch buffer, which the next lookup reuses.
      if (e !== null && e.index === index) found = { data: e.data.slice(), term: e.term };
      return found !== null;
    });
    if (found !== null) return found;
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} not found`, { file: seg.path });
  }

  /** File offset of entry `index`'s frame in `seg` and the running CRC before it. */
  async locate(seg: SegmentInfo, index: number): Promise<{ offset: number; crc: number }> {
    let found: { offset: number; crc: number } | null = null;
    let before = -1;
    await this.lookup(seg, index, (d, crcBefore) => {
      if (before < 0) before = crcBefore;
      if (d.record.type === ENTRY && parseEntry(d.record.data!)?.index === index) {
        found = { offset: d.record.offset, crc: before };
        return true;
      }
      before = d.crc;
      return false;
    });
    if (found !== null) return found;
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} not found`, { file: seg.path });
  }

  /**
   * Calls `visit` for each record of `seg` from the checkpoint at or before entry `index` (with the
   * checkpoint's CRC) until it returns true, on a cached read handle. A span up to the next
   * checkpoint of at most SYNC_READ_MAX_BYTES is read exactly, in one pread, and decoded without
   * yielding; a larger one (one big batch) through the threadpool in LOOKUP_CHUNK_BYTES chunks.
   */
  private async lookup(seg: SegmentInfo, index: number, visit: (d: Decoder, checkpointCrc: number) => boolean): Promise<void> {
    const files = this.core.files;
    const lease = files.tryAcquire(seg.path) ?? (await files.acquire(seg.path));
    try {
      // After the handle is ours: from here to the end of a small span's decode nothing yields,
      // so the checkpoints and the end read are the ones the bytes are read against.
      const cp = checkpointSpan(seg, index);
      const span = cp.end - cp.offset;
      const small = span <= SYNC_READ_MAX_BYTES;
      // A small span is read exactly: the entry's frame ends at the next checkpoint.
      const dec = decodeOpenSegment(this.core.io, seg.path, lease.file, small ? cp.end : seg.end, {
        offset: cp.offset,
        crc: cp.crc,
        last: false,
        bufferBytes: small ? span : LOOKUP_CHUNK_BYTES,
        syncReads: small,
        scratch: small ? this.lookupBuffer() : undefined,
        queue: small ? this.lookupQueue : undefined,
      });
      const crc = cp.crc;
      if (small) {
        // With syncReads every step is a boolean: no await, so nothing else touches the scratch.
        while ((nextLogRecord(dec) as boolean) && !visit(dec, crc));
      } else await forEachRecord(dec, (d) => visit(d, crc));
    } finally {
      lease.release();
    }
  }

  private lookupBuffer(): Uint8Array {
    return (this.scratch ??= new Uint8Array(SYNC_READ_MAX_BYTES + 4096));
  }

  private checkReadable(): void {
    if (this.core.state === 'closed') throw this.core.unusable();
  }
}
