/**
 * Streaming frame decoder over a WAL's segment files, with etcd's exact rules (`wal/decoder.go`,
 * spec §7.2-7.3): a zero length word ends a file, a torn last record is ERR_WAL_UNEXPECTED_EOF,
 * a bad CRC is ERR_WAL_CRC_MISMATCH, and crc records are checked against the running chain
 * (ERR_WAL_CHAIN_MISMATCH; skipped while the running value is 0, as etcd since 3.4.9).
 *
 * Files are read in chunks (1 MiB by default) into fresh buffers that are never reused, so the
 * `data` of a returned record is a view that stays valid (no per-record copy). Memory held is the
 * current chunk plus whatever records the caller keeps.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { type DecodeRules, type RecordSpan, RecordType, decodeRecord, readCanonicalRecord } from './codec';
import { DecoderQueue } from './decoder-queue';
import { FRAME_SIZE_BYTES as FRAME_HEADER, MAX_WAL_ENTRY_SIZE_LIMIT, decodeFrameSize } from './frame';

// Module-local copies: reading an imported binding costs on the per-frame path under some loaders.
const FRAME_SIZE_BYTES = FRAME_HEADER;
const CRC_RECORD = RecordType.Crc;
const recordAt = readCanonicalRecord;
/** The fast path's record (module scratch: no object per frame). */
const canonical: RecordSpan = { type: 0, crc: 0, dataStart: -1, dataEnd: -1 };

/** Torn-write detection granularity (etcd `minSectorSize`). */
export const MIN_SECTOR_SIZE = 512;

/** Default read size; big enough to amortise the syscall, small enough to keep memory bounded. */
export const DEFAULT_CHUNK_SIZE = 1 << 20;

/** One segment to decode: an open file and its size when opened. */
export interface DecoderSource {
  path: string;
  file: WalFile;
  size: number;
}

/** A decoded, CRC-checked record and where its frame starts. */
export interface DecodedRecord {
  type: number;
  crc: number;
  /** A view into a read buffer that is never reused; null when the field was absent. */
  data: Uint8Array | null;
  /** Index into the decoder's sources. */
  fileIndex: number;
  /** Offset of the frame's length word in that file. */
  offset: number;
}

/** Options for `Decoder`. */
export interface DecoderOptions {
  /** Bytes per read. Default 1 MiB. */
  chunkSize?: number;
  /** Running CRC to start from (etcd starts at 0). */
  crc?: number;
  /** File offset of the first frame to decode in the first source (a frame boundary). Default 0. */
  offset?: number;
  /** Never read past a source's `size`: it is the end of the file (e.g. what a writer made durable). */
  stopAtSize?: boolean;
  /**
   * etcd's torn-write rules for the last source: 'throw' (etcd: ERR_WAL_UNEXPECTED_EOF, the default),
   * 'report' (the decoder ends there instead and `tornAt` holds the torn frame's offset; `crc` and
   * `lastValidOffset` stay at the last good frame), or 'none' (decode it as a file before the last).
   */
  tail?: 'throw' | 'report' | 'none';
  /**
   * The rules for a walpb.Record that is not in the canonical layout every writer produces (those
   * take a fast path): Go's (the default), or `LENIENT` (the Log's reader: a known field of the
   * wrong wire type is skipped as unknown).
   */
  rules?: DecodeRules;
  /**
   * Read with `readSync` on the calling thread, so `nextRecord()` always returns a boolean: for a
   * small read likely in the page cache (the Log's `get`) a threadpool hop costs ten times the
   * pread itself. No read-ahead then. Default false.
   */
  syncReads?: boolean;
  /**
   * With `syncReads`: read into this buffer instead of a fresh one when it is large enough. Record
   * data are then views into it, valid only until the caller next uses the buffer.
   */
  scratch?: Uint8Array;
  /** The parse queue's arrays, shared with decoders that never run at the same time. Default: its own. */
  queue?: DecoderQueue;
}

/** The record `nextRecord()` last made current; its fields are overwritten by the next call. */
export interface RecordView {
  readonly type: number;
  readonly crc: number;
  /** The record's data is buf[start, end); start = -1 when the field was absent. */
  readonly buf: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** File offset of the record's frame (its length word). */
  readonly offset: number;
  /** The data as a view into a read buffer that is never reused, or null when absent. */
  readonly data: Uint8Array | null;
}

class CurrentRecord implements RecordView {
  type = 0;
  crc = 0;
  buf: Uint8Array = new Uint8Array(0);
  start = -1;
  end = -1;
  offset = 0;
  get data(): Uint8Array | null {
    return this.start < 0 ? null : this.buf.subarray(this.start, this.end);
  }
}

/**
 * etcd's decoder. Read it with `nextRecord()` (every reader does: no allocation per record), or
 * `next()` (async, one object per record). After EOF, `lastValidOffset` is the end of the last good frame
 * in the last file and `crc` the running CRC there: where a writer continues (etcd ReadAll).
 *
 * Internally the frames present in the read buffer are parsed in one pass and their CRCs checked
 * with ONE `io.crc32cChain` call; records are then handed out in order, and an error is raised
 * only when the records before it have been consumed, exactly where etcd would return it.
 */
export class Decoder {
  /** Running CRC-32C after the last record handed out (etcd `decoder.crc`). */
  crc: number;
  /** Offset just past the last record handed out, in the current file (etcd `lastValidOff`). */
  lastValidOffset = 0;
  /** Index of the file being decoded (stays on the last one after EOF). */
  fileIndex = 0;
  /** With `tail: 'report'`: offset of the torn frame that ended the last file, else -1. */
  tornAt = -1;

  /** The current record, after `nextRecord()` returned true. */
  readonly record: RecordView = new CurrentRecord();

  private readonly chunkSize: number;
  private readonly stopAtSize: boolean;
  private readonly tail: 'throw' | 'report' | 'none';
  private readonly rules: DecodeRules | undefined;
  private readonly syncReads: boolean;
  private buf: Uint8Array = new Uint8Array(0);
  /** File offset of buf[0]. */
  private bufStart = 0;
  /** Valid bytes in buf. */
  private bufLen = 0;
  /** The current file returned a short read: nothing more to read from it. */
  private fileDrained = false;
  /** Bytes needed from lastValidOffset before decoding can continue. */
  private wanted = 0;
  private finished = false;

  // Parsed, CRC-checked records waiting to be handed out (parallel arrays, reused).
  private qHead = 0;
  private qLen = 0;
  private qType: Int32Array;
  private qCrc: Uint32Array;
  private qStart: Int32Array;
  private qEnd: Int32Array;
  private qOffset: Float64Array;
  private qFrameLen: Int32Array;
  private qRunning: Uint32Array;
  private readonly scratch: Uint8Array | undefined;
  private readonly slots: DecoderQueue;
  /** The error etcd would return after the queued records. */
  private pendingError: WalError | null = null;
  /** For a CRC mismatch: the running CRC including the bad record (what etcd's decoder holds). */
  private pendingCrc = -1;

  constructor(
    private readonly io: IoBackend,
    readonly sources: readonly DecoderSource[],
    opts: DecoderOptions = {},
  ) {
    this.chunkSize = Math.max(4096, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.crc = (opts.crc ?? 0) >>> 0;
    this.lastValidOffset = opts.offset ?? 0;
    this.bufStart = this.lastValidOffset;
    this.stopAtSize = opts.stopAtSize ?? false;
    this.tail = opts.tail ?? 'throw';
    this.rules = opts.rules;
    this.syncReads = opts.syncReads ?? false;
    this.scratch = this.syncReads ? opts.scratch : undefined;
    const q = (this.slots = opts.queue ?? new DecoderQueue());
    [this.qType, this.qCrc, this.qStart, this.qEnd] = [q.type, q.crc, q.start, q.end];
    [this.qOffset, this.qFrameLen, this.qRunning] = [q.offset, q.frameLen, q.running];
    if (sources.length === 0) this.finished = true;
  }

  /** Path of the file being decoded (the last one after EOF). */
  get currentPath(): string | undefined {
    return this.sources[Math.min(this.fileIndex, this.sources.length - 1)]?.path;
  }

  /** etcd `updateCRC`. */
  updateCrc(crc: number): void {
    this.crc = crc >>> 0;
  }

  /** The next record, or null at the end of the last file. Throws WalError as etcd returns errors. */
  async next(): Promise<DecodedRecord | null> {
    for (;;) {
      const rec = this.tryNext();
      if (rec !== undefined) return rec;
      await this.fill();
    }
  }

  /** Like `next()` but synchronous: undefined means "call `fill()` first". */
  tryNext(): DecodedRecord | null | undefined {
    const r = this.advance();
    if (r === 0) return null;
    if (r < 0) return undefined;
    const rec = this.record;
    return { type: rec.type, crc: rec.crc, data: rec.data, fileIndex: this.fileIndex, offset: rec.offset };
  }

  /**
   * Advances to the next record: true when `record` describes it, false after the last file.
   * A plain boolean while the read buffer holds whole frames, a Promise only when it must read
   * first, so a reader pays for an await only once per chunk:
   *   `let more = dec.nextRecord(); if (typeof more !== 'boolean') more = await more;`
   * Throws (or rejects with) WalError as etcd returns errors.
   */
  nextRecord(): boolean | Promise<boolean> {
    const r = this.advance();
    if (r >= 0) return r === 1;
    return this.syncReads ? this.nextRecordSync() : this.nextRecordAfterFill();
  }

  private nextRecordSync(): boolean {
    for (;;) {
      const source = this.sources[this.fileIndex];
      if (source !== undefined && !this.fileDrained) {
        const { next, keep } = this.nextBuffer(this.lastValidOffset, this.wanted);
        this.install(next, this.lastValidOffset, keep, this.readInto(source, next, keep, this.lastValidOffset + keep) as number);
      }
      const r = this.advance();
      if (r >= 0) return r === 1;
    }
  }

  private async nextRecordAfterFill(): Promise<boolean> {
    for (;;) {
      await this.fill();
      const r = this.advance();
      if (r >= 0) return r === 1;
    }
  }

  /** 1 = a record is in `record`, 0 = end of the last file, -1 = call `fill()` first. */
  private advance(): number {
    for (;;) {
      if (this.qHead < this.qLen) {
        const i = this.qHead++;
        const rec = this.record as CurrentRecord;
        rec.type = this.qType[i]!;
        rec.crc = this.qCrc[i]!;
        rec.buf = this.buf;
        rec.start = this.qStart[i]!;
        rec.end = this.qEnd[i]!;
        rec.offset = this.qOffset[i]!;
        this.lastValidOffset = rec.offset + this.qFrameLen[i]!;
        this.crc = this.qRunning[i]!;
        return 1;
      }
      if (this.pendingError !== null) {
        // etcd updates its running CRC with the bad record before validating it
        if (this.pendingCrc >= 0) this.crc = this.pendingCrc;
        throw this.pendingError;
      }
      if (this.finished) return 0;
      if (!this.scan()) return -1;
    }
  }

  /** Reads more of the current file so that the frame the decoder stopped at is in memory. */
  async fill(): Promise<void> {
    const source = this.sources[this.fileIndex];
    if (source === undefined || this.fileDrained) return;
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead !== null && ahead.fileIndex === this.fileIndex && ahead.start === this.lastValidOffset && ahead.size >= this.wanted) {
      const got = await ahead.read;
      this.install(ahead.next, ahead.start, ahead.keep, got);
      return;
    }
    const { next, keep } = this.nextBuffer(this.lastValidOffset, this.wanted);
    this.install(next, this.lastValidOffset, keep, await this.readInto(source, next, keep, this.lastValidOffset + keep));
  }

  /** A fresh buffer (records handed out are views into the old one) holding the unparsed tail. */
  private nextBuffer(from: number, wanted: number): { next: Uint8Array; keep: number } {
    const source = this.sources[this.fileIndex]!;
    const pos = from - this.bufStart;
    const keep = this.bufLen - pos;
    // Never allocate much more than the file can fill: a 1 MiB chunk for a 2 KiB segment is waste
    // (and, on hostile input, memory out of proportion to the file).
    const remaining = Math.max(0, source.size - (from + keep));
    const size = Math.max(Math.min(this.chunkSize, keep + Math.max(remaining, 4096)), wanted);
    const scratch = this.scratch;
    const next = keep === 0 && scratch !== undefined && scratch.length >= size ? scratch.subarray(0, size) : new Uint8Array(size);
    if (keep > 0) next.set(this.buf.subarray(pos, this.bufLen));
    return { next, keep };
  }

  /** Reads into `next` after its `keep` bytes: on this thread with `syncReads`, else through the threadpool. */
  private readInto(source: DecoderSource, next: Uint8Array, keep: number, at: number): number | Promise<number> {
    const view = this.stopAtSize
      ? next.subarray(keep, keep + Math.max(0, Math.min(next.length - keep, source.size - at)))
      : next.subarray(keep);
    if (view.length === 0) return 0;
    const fail = (err: unknown): never => {
      throw new WalError(WalErrorCodes.IO, `cannot read ${source.path}`, { file: source.path, offset: at, cause: err });
    };
    try {
      return this.syncReads ? source.file.readSync(view, at) : source.file.read(view, at).catch(fail);
    } catch (err) {
      return fail(err);
    }
  }

  private install(next: Uint8Array, start: number, keep: number, got: number): void {
    if (got < next.length - keep) this.fileDrained = true;
    this.buf = next;
    this.bufStart = start;
    this.bufLen = keep + got;
  }

  /**
   * Starts reading the next chunk while the caller consumes the records just parsed, so parsing
   * and I/O overlap (etcd's reader is synchronous; this is where we gain on large WALs).
   */
  private prefetch(from: number, wanted: number): void {
    if (this.ahead !== null || this.fileDrained || this.syncReads) return;
    const source = this.sources[this.fileIndex]!;
    const { next, keep } = this.nextBuffer(from, wanted);
    const read = (async () => this.readInto(source, next, keep, from + keep))(); // a throw becomes a rejection
    read.catch(() => undefined); // reported by fill(), if it is still wanted
    this.ahead = { fileIndex: this.fileIndex, start: from, keep, next, size: next.length, read };
  }

  private ahead: { fileIndex: number; start: number; keep: number; next: Uint8Array; size: number; read: Promise<number> } | null = null;

  /**
   * Parses the whole frames in the buffer from lastValidOffset (queue empty), checks their CRCs
   * in one call, and queues them. Returns false when nothing could be queued and more data must
   * be read first.
   */
  private scan(): boolean {
    this.qHead = 0;
    this.qLen = 0;
    const buf = this.buf;
    let off = this.lastValidOffset;
    let n = 0;
    for (;;) {
      if (this.finished) break;
      const pos = off - this.bufStart;
      const avail = this.bufLen - pos;
      if (avail < FRAME_SIZE_BYTES) {
        if (!this.fileDrained) {
          if (n === 0) this.wanted = FRAME_SIZE_BYTES;
          else this.prefetch(off, FRAME_SIZE_BYTES);
          break;
        }
        if (avail === 0) {
          if (n > 0) break;
          this.nextFile();
          return this.scan();
        }
        this.unexpectedEof('unexpected EOF: truncated length word', off);
        break;
      }
      const { n: recBytes, pad, zero } = decodeFrameSize(buf, pos);
      if (zero) {
        // Preallocated zero space: end of data in this file.
        if (n > 0) break;
        this.nextFile();
        return this.scan();
      }
      if (recBytes >= MAX_WAL_ENTRY_SIZE_LIMIT - pad) {
        this.pendingError = this.errorAt(
          WalErrorCodes.RECORD_TOO_LARGE,
          `wal: max entry size limit exceeded (record of ${recBytes} bytes, limit ${MAX_WAL_ENTRY_SIZE_LIMIT - pad})`,
          off,
        );
        break;
      }
      const frameLen = FRAME_SIZE_BYTES + recBytes + pad;
      if (avail < frameLen) {
        const source = this.sources[this.fileIndex]!;
        if (this.fileDrained || off + frameLen > source.size) {
          this.unexpectedEof('unexpected EOF: frame runs past the end of the file', off);
        } else if (n === 0) {
          this.wanted = frameLen;
        } else {
          this.prefetch(off, frameLen);
        }
        break;
      }
      const recPos = pos + FRAME_SIZE_BYTES;
      if (!this.parseRecord(buf, recPos, recPos + recBytes, n)) {
        if (this.isTornEntry(buf, off, recPos, recBytes + pad)) {
          this.unexpectedEof('unexpected EOF: torn record', off);
        } else {
          this.pendingError = this.errorAt(WalErrorCodes.CORRUPT_RECORD, `proto: cannot decode walpb.Record: ${this.parseError}`, off);
        }
        break;
      }
      this.qOffset[n] = off;
      this.qFrameLen[n] = frameLen;
      n++;
      off += frameLen;
      // A crc record resets the chain: check what precedes it first.
      if (this.qType[n - 1] === CRC_RECORD) break;
    }
    this.qLen = n;
    if (n > 0) this.checkCrcs();
    return n > 0 || this.pendingError !== null || this.finished;
  }

  private parseError = '';

  /** Decodes walpb.Record at buf[start, end) into queue slot i; false when it does not decode. */
  private parseRecord(buf: Uint8Array, start: number, end: number, i: number): boolean {
    // Fast path: the canonical layout every writer produces, 08 type 10 crc [1a len data].
    const c = canonical;
    if (recordAt(buf, start, end, c)) {
      this.queue(i, c.type, c.crc, c.dataStart, c.dataEnd);
      return true;
    }
    // Anything else (unknown fields, other order, repeated fields, garbage): the general decoder.
    let rec;
    try {
      rec = decodeRecord(buf.subarray(start, end), this.rules);
    } catch (err) {
      this.parseError = err instanceof Error ? err.message : String(err);
      return false;
    }
    const dataStart = rec.data === null ? -1 : rec.data.byteOffset - buf.byteOffset;
    this.queue(i, rec.type, rec.crc, dataStart, rec.data === null ? -1 : dataStart + rec.data.length);
    return true;
  }

  private queue(i: number, type: number, crc: number, start: number, end: number): void {
    if (i >= this.qType.length) this.growQueue();
    this.qType[i] = type;
    this.qCrc[i] = crc;
    this.qStart[i] = start;
    this.qEnd[i] = end;
  }

  private growQueue(): void {
    const q = this.slots;
    q.grow();
    [this.qType, this.qCrc, this.qStart, this.qEnd] = [q.type, q.crc, q.start, q.end];
    [this.qOffset, this.qFrameLen, this.qRunning] = [q.offset, q.frameLen, q.running];
  }

  /** One chained CRC call for the queued records; truncates the queue at the first bad one. */
  private checkCrcs(): void {
    const n = this.qLen;
    let dataRecords = 0;
    for (let i = 0; i < n; i++) if (this.qType[i] !== CRC_RECORD) dataRecords++;
    let running = this.crc;
    let results: Uint32Array | null = null;
    if (dataRecords > 0) {
      const bounds = new Uint32Array(2 * dataRecords);
      let k = 0;
      for (let i = 0; i < n; i++) {
        if (this.qType[i] === CRC_RECORD) continue;
        const s = this.qStart[i]!;
        // absent data: an empty slice leaves the running CRC unchanged
        bounds[2 * k] = s < 0 ? 0 : s;
        bounds[2 * k + 1] = s < 0 ? 0 : this.qEnd[i]!;
        k++;
      }
      results = this.io.crc32cChain(this.buf, bounds, running);
    }
    let k = 0;
    for (let i = 0; i < n; i++) {
      const stored = this.qCrc[i]!;
      if (this.qType[i] === CRC_RECORD) {
        // ReadAll's chain check; skipped while running is 0 so reading can start after purged segments.
        if (running !== 0 && stored !== running) {
          this.qLen = i;
          this.pendingError = this.errorAt(WalErrorCodes.CHAIN_MISMATCH, 'wal: crc mismatch', this.qOffset[i]!);
          return;
        }
        running = stored;
      } else {
        running = results![k++]!;
        if (stored !== running) {
          this.qLen = i;
          const off = this.qOffset[i]!;
          const recPos = off - this.bufStart + FRAME_SIZE_BYTES;
          const torn = this.isTornEntry(this.buf, off, recPos, this.qFrameLen[i]! - FRAME_SIZE_BYTES);
          if (torn) this.unexpectedEof('unexpected EOF: torn record', off);
          else this.pendingError = this.errorAt(WalErrorCodes.CRC_MISMATCH, 'walpb: crc mismatch', off);
          // etcd's running CRC includes the bad record (not when the torn tail is reported instead)
          if (this.pendingError !== null) this.pendingCrc = running;
          return;
        }
      }
      this.qRunning[i] = running;
    }
  }

  /** A torn or truncated frame at `off`: etcd's ERR_WAL_UNEXPECTED_EOF, or with `tail: 'report'` in the last file, the end. */
  private unexpectedEof(message: string, off: number): void {
    if (this.tail === 'report' && this.fileIndex === this.sources.length - 1) {
      this.pendingError = null;
      this.tornAt = off;
      this.finished = true;
    } else {
      this.pendingError = this.errorAt(WalErrorCodes.UNEXPECTED_EOF, message, off);
    }
  }

  private nextFile(): void {
    if (this.fileIndex + 1 >= this.sources.length) {
      // etcd keeps lastValidOff of the last file: where the writer continues.
      this.finished = true;
      return;
    }
    this.fileIndex++;
    this.ahead = null;
    this.lastValidOffset = 0;
    this.buf = new Uint8Array(0);
    this.bufStart = 0;
    this.bufLen = 0;
    this.fileDrained = false;
  }

  /**
   * etcd `isTornEntry`: in the last file only, split the record+padding bytes at 512-byte sector
   * boundaries of their file offsets; an all-zero piece means the write was torn.
   */
  private isTornEntry(buf: Uint8Array, frameOffset: number, recPos: number, len: number): boolean {
    if (this.fileIndex !== this.sources.length - 1 || this.tail === 'none') return false;
    let fileOff = frameOffset + FRAME_SIZE_BYTES;
    let cur = recPos;
    const end = cur + len;
    while (cur < end) {
      const chunk = Math.min(MIN_SECTOR_SIZE - (fileOff % MIN_SECTOR_SIZE), end - cur);
      let zero = true;
      for (let i = cur; i < cur + chunk; i++) {
        if (buf[i] !== 0) {
          zero = false;
          break;
        }
      }
      if (zero) return true;
      fileOff += chunk;
      cur += chunk;
    }
    return false;
  }

  private errorAt(code: (typeof WalErrorCodes)[keyof typeof WalErrorCodes], message: string, offset: number, cause?: unknown): WalError {
    return new WalError(code, message, { file: this.currentPath, offset, cause });
  }
}

/** Opens `paths` read-only with their sizes, for a Decoder. The caller closes the files. */
export async function openSources(io: IoBackend, paths: readonly string[]): Promise<DecoderSource[]> {
  const out: DecoderSource[] = [];
  try {
    for (const p of paths) {
      const file = await io.open(p, { read: true });
      out.push({ path: p, file, size: await file.size() });
    }
  } catch (err) {
    await Promise.all(out.map((s) => s.file.close().catch(() => undefined)));
    throw err;
  }
  return out;
}
