/**
 * readLevelDBLog: the records of a LevelDB (or RocksDB) log file, as LevelDB 1.23's log::Reader
 * returns them (db/log_reader.cc) — same records, same offsets, same corruption reports with the
 * same byte counts and reasons, including what LevelDB drops silently. Reads 32 KiB blocks, so
 * memory stays bounded by the largest record.
 *
 * This file is the state machine (ReadPhysicalRecord and ReadRecord) and its fast path for runs
 * of plain FULL records; block-source.ts reads the blocks ahead, rocksdb.ts holds what RocksDB
 * logs add, native-scan.ts the scan the native backend does for the fast path.
 */
import { WalError, WalErrorCodes } from '../errors';
import { defaultBackend } from '../io/backend';
import type { IoBackend } from '../io/types';
import { BlockSource, RUNS_PER_BLOCK } from './block-source';
import { BLOCK_SIZE, HEADER_SIZE, RECYCLABLE_HEADER_SIZE, RecordType, unmaskCrc } from './format';
import { levelDBScanFor, type LevelDBScan } from './native-scan';
import type { LevelDBCorruption, LevelDBReadOptions, LevelDBRecord } from './reader-options';
import { RecordArena } from './record-arena';
import { BlockCrcs, isRecyclable, logNumberFromName, rocksdbTypeKind } from './rocksdb';

export type { LevelDBCorruption, LevelDBReadOptions, LevelDBRecord } from './reader-options';

// Results of readPhysical besides a raw record type (LevelDB uses kEof = 5 and kBadRecord = 6).
const EOF = -1;
const BAD = -2;
/** A record that starts before initialOffset ('clean' compat only; LevelDB reports it as BAD). */
const SKIPPED = -3;
/** The buffer needs the next block read first. */
const NEED_DATA = -4;
/** A RocksDB metadata record: not data, not an error. */
const IGNORED = -5;

// Module-local copies: the record loop reads these per record, and a local const is cheaper than
// a property of another module's exports.
const FULL = RecordType.FULL;
const FIRST = RecordType.FIRST;
const MIDDLE = RecordType.MIDDLE;
const LAST = RecordType.LAST;
const HEADER = HEADER_SIZE;
const RECYCLABLE_HEADER = RECYCLABLE_HEADER_SIZE;
const BLOCK = BLOCK_SIZE;
const unmask = unmaskCrc;

const EMPTY = new Uint8Array(0);
/**
 * Reads a LevelDB log record by record: `for await (const { offset, data } of reader)`. After the
 * iteration ends, `endOfLastRecord` is the offset just past the last complete record — the length
 * to truncate a torn log to before appending.
 */
export class LevelDBLogReader implements AsyncIterableIterator<LevelDBRecord> {
  private readonly io: IoBackend;
  private readonly checksum: boolean;
  private readonly report: (r: LevelDBCorruption) => void;
  private readonly initialOffset: number;
  private readonly strict: boolean;
  private readonly quirks: boolean;
  private readonly rocksdb: boolean;
  private readonly logNumber: number | undefined;

  private readonly source: BlockSource;
  private readonly scan: LevelDBScan;
  private started = false;
  private finished = false;
  /** Where joined records are copied to (sized to the file once it is open). */
  private joined = new RecordArena(0);
  /** The current block (the block source's buffer): whole, or shorter at the end of the file. */
  private block: Uint8Array = EMPTY;
  /** The unconsumed part of the current block is block[bufStart, bufEnd). */
  private bufStart = 0;
  private bufEnd = 0;
  private eof = false;
  private endOfBufferOffset = 0;
  private resyncing: boolean;
  private recycled = false;
  private returnedNonRecyclable = false;
  private last = 0;
  private end = 0;

  // The logical record being assembled (LevelDB ReadRecord's locals, kept across block reads).
  private inRecord = false;
  private scratch: Uint8Array[] = [];
  private scratchSize = 0;
  private inFragmented = false;
  private prospective = 0;

  // The fragment readPhysical returned last.
  private fragStart = 0;
  private fragLen = 0;
  private fragHeader = HEADER;

  /** RocksDB logs: CRCs of the current block's records, computed together when the block is first parsed. */
  private readonly blockCrcs: BlockCrcs;

  // The fast path (takeFullRecords): block[bufStart, fastStop) holds only plain FULL records with
  // good CRCs, as found by the last scan of fastBlock.
  private fastBlock: Uint8Array = EMPTY;
  private fastStop = 0;
  /** next()'s scratch array for takeFullRecords. */
  private readonly one: LevelDBRecord[] = [];
  /** The current block's runs of FULL records found beside the read: blockRuns[blockRunsAt...] (-1: none). */
  private blockRuns: Uint32Array | null = null;
  private blockRunsAt = -1;

  /** Use `readLevelDBLog`. */
  constructor(
    readonly path: string,
    options: LevelDBReadOptions = {},
  ) {
    const initialOffset = options.initialOffset ?? 0;
    if (!Number.isSafeInteger(initialOffset) || initialOffset < 0) {
      throw new RangeError('initialOffset must be a non-negative integer');
    }
    if (options.compat !== undefined && options.compat !== 'leveldb-1.23' && options.compat !== 'clean') {
      throw new WalError(WalErrorCodes.INVALID_OPTION, `unknown compat '${String(options.compat)}'`);
    }
    if (options.format !== undefined && options.format !== 'leveldb' && options.format !== 'rocksdb') {
      throw new WalError(WalErrorCodes.INVALID_OPTION, `unknown format '${String(options.format)}'`);
    }
    this.io = options.io ?? defaultBackend;
    this.checksum = options.checksum ?? true;
    const onCorruption = options.onCorruption;
    this.report =
      onCorruption ??
      ((r) => {
        throw new WalError(WalErrorCodes.LEVELDB_CORRUPTION, `${r.reason} (${r.bytes} bytes dropped)`, {
          file: this.path,
          offset: r.offset,
        });
      });
    this.initialOffset = initialOffset;
    this.resyncing = initialOffset > 0;
    this.strict = options.strict ?? false;
    this.rocksdb = options.format === 'rocksdb';
    this.quirks = !this.rocksdb && (options.compat ?? 'leveldb-1.23') === 'leveldb-1.23';
    this.logNumber = options.logNumber ?? logNumberFromName(path);
    this.source = new BlockSource(this.io, path, this.checksum, !this.rocksdb);
    this.scan = levelDBScanFor(this.io);
    this.blockCrcs = new BlockCrcs(this.io);
  }

  /** Offset of the first physical record of the last record returned (LevelDB `LastRecordOffset`). */
  get lastRecordOffset(): number {
    return this.last;
  }

  /** Offset just past the last complete record returned (0 before any). Truncate here before appending. */
  get endOfLastRecord(): number {
    return this.end;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LevelDBRecord>> {
    // The next record is a whole one in the run already found in this block: no state machine, no
    // async function of our own (for await already pays one promise per record).
    if (this.fastBlock === this.block && this.bufStart < this.fastStop && this.fastPathApplies()) {
      const one = this.one;
      one.length = 0;
      this.takeFullRecords(one, 1);
      return Promise.resolve({ done: false, value: one[0]! });
    }
    return this.nextAfterRead();
  }

  private async nextAfterRead(): Promise<IteratorResult<LevelDBRecord>> {
    const batch = await this.read(1);
    return batch.length > 0 ? { done: false, value: batch[0]! } : { done: true, value: undefined };
  }

  /**
   * Up to `max` records: those complete in the blocks read so far, plus one more block's worth if
   * none are. An empty array means the end of the log. Cheaper per record than `next()`.
   */
  nextBatch(max = Infinity): Promise<LevelDBRecord[]> {
    return this.read(max);
  }

  /** Iterates in batches: `for await (const records of reader.batches()) {}`. */
  async *batches(): AsyncGenerator<LevelDBRecord[]> {
    try {
      for (;;) {
        const batch = await this.read(Infinity);
        if (batch.length === 0) return;
        yield batch;
      }
    } finally {
      await this.close(); // also when the loop is left early
    }
  }

  private async read(max: number): Promise<LevelDBRecord[]> {
    const out: LevelDBRecord[] = [];
    try {
      if (!this.started && !this.finished) await this.start();
      while (out.length < max) {
        if (this.fastPathApplies() && this.takeFullRecords(out, max) > 0) continue;
        const record = this.step();
        if (record === null) break;
        if (record !== undefined) {
          out.push(record);
        } else if (out.length === 0) {
          await this.readBlock();
        } else {
          return out; // hand back what is complete before waiting for more I/O
        }
      }
      if (out.length > 0) return out;
    } catch (err) {
      await this.close();
      throw err;
    }
    await this.close();
    return out;
  }

  /** `await using reader = readLevelDBLog(path)`: closes the file when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Stops reading and closes the file (called by `break` in `for await`). */
  async return(): Promise<IteratorResult<LevelDBRecord>> {
    await this.close();
    return { done: true, value: undefined };
  }

  private async close(): Promise<void> {
    this.finished = true;
    this.block = EMPTY;
    await this.source.close();
  }

  private async start(): Promise<void> {
    this.started = true;
    const size = await this.source.open();
    this.joined = new RecordArena(size);
    // Only RocksDB logs batch their CRCs per block here (LevelDB logs: the fast path's scan).
    if (this.rocksdb) this.blockCrcs.sizeFor(size);
    // LevelDB SkipToInitialBlock: a record cannot start in a block's last 6 bytes.
    const inBlock = this.initialOffset % BLOCK;
    let blockStart = this.initialOffset - inBlock;
    if (inBlock > BLOCK - 6) blockStart += BLOCK;
    this.endOfBufferOffset = blockStart;
  }

  /** The next block (LevelDB: one read of up to kBlockSize bytes; a short block means end of file). */
  private async readBlock(): Promise<void> {
    const source = this.source;
    await source.load(this.endOfBufferOffset);
    const n = source.block.length;
    this.block = source.block;
    this.blockRuns = source.runs;
    this.blockRunsAt = source.runsAt;
    this.bufStart = 0;
    this.bufEnd = n;
    this.endOfBufferOffset += n;
    this.eof = n < BLOCK;
    this.blockCrcs.scanned = false;
  }

  /** LevelDB ReportDrop: drops that begin before initialOffset are not reported (uint64 arithmetic). */
  private drop(bytes: number, reason: string, offset?: number): void {
    const start = this.endOfBufferOffset - (this.bufEnd - this.bufStart) - bytes;
    if (start < 0 || start >= this.initialOffset) {
      this.report({ bytes, reason, offset: offset ?? Math.max(start, 0) });
    }
  }

  /** A silent LevelDB drop, reported only in strict mode. */
  private silentDrop(bytes: number, reason: string, offset: number): void {
    if (this.strict) this.report({ bytes, reason, offset });
  }

  private clearBuffer(): void {
    this.bufStart = this.bufEnd;
  }

  /**
   * ReadRecord (db/log_reader.cc): assembles fragments into one logical record. Returns the
   * record, null at the end, or undefined when the next block must be read first (the partial
   * record's state is kept in fields so the call can resume).
   */
  private step(): LevelDBRecord | null | undefined {
    if (this.finished) return null;
    if (!this.inRecord) {
      this.inRecord = true;
      if (this.scratch.length !== 0) this.scratch = []; // a fresh array is cheaper than truncating one
      this.scratchSize = 0;
      this.inFragmented = false;
      this.prospective = 0;
    }
    for (;;) {
      const type = this.readPhysical();
      if (type === NEED_DATA) return undefined;
      if (type === IGNORED) continue;
      const bufSize = this.bufEnd - this.bufStart;
      const physicalOffset = this.endOfBufferOffset - bufSize - this.fragHeader - this.fragLen;

      if (this.resyncing) {
        if (type === MIDDLE) continue;
        if (type === LAST) {
          this.resyncing = false;
          continue;
        }
        if (type !== SKIPPED) this.resyncing = false;
      }

      switch (type) {
        case SKIPPED:
          break;
        case FULL: {
          if (this.inFragmented && this.scratchSize > 0) {
            this.drop(this.scratchSize, 'partial record without end(1)', this.prospective);
          }
          return this.emit(physicalOffset, this.fragment());
        }
        case FIRST:
          if (this.inFragmented && this.scratchSize > 0) {
            this.drop(this.scratchSize, 'partial record without end(2)', this.prospective);
          }
          this.prospective = physicalOffset;
          this.scratch = [this.fragment()];
          this.scratchSize = this.fragLen;
          this.inFragmented = true;
          break;
        case MIDDLE:
          if (!this.inFragmented) {
            this.drop(this.fragLen, 'missing start of fragmented record(1)', physicalOffset);
          } else {
            this.scratch.push(this.fragment());
            this.scratchSize += this.fragLen;
          }
          break;
        case LAST:
          if (!this.inFragmented) {
            this.drop(this.fragLen, 'missing start of fragmented record(2)', physicalOffset);
          } else {
            this.scratch.push(this.fragment());
            this.scratchSize += this.fragLen;
            return this.emit(this.prospective, this.joined.join(this.scratch, this.scratchSize));
          }
          break;
        case EOF:
          if (this.inFragmented) this.silentDrop(this.scratchSize, 'partial record at end of file', this.prospective);
          this.finished = true;
          this.inRecord = false;
          return null;
        case BAD:
          if (this.inFragmented) {
            this.drop(this.scratchSize, 'error in middle of record', this.prospective);
            this.inFragmented = false;
            if (this.scratch.length !== 0) this.scratch = []; // a fresh array is cheaper than truncating one
            this.scratchSize = 0;
          }
          break;
        default: {
          const shown = this.quirks && type >= 0x80 ? (type | 0xffffff00) >>> 0 : type;
          this.drop(
            this.fragLen + (this.inFragmented ? this.scratchSize : 0),
            `unknown record type ${shown}`,
            this.inFragmented ? this.prospective : physicalOffset,
          );
          this.inFragmented = false;
          if (this.scratch.length !== 0) this.scratch = []; // a fresh array is cheaper than truncating one
          this.scratchSize = 0;
        }
      }
    }
  }

  /**
   * The fragment readPhysical returned last, as a view into its block's buffer: returned as is for
   * a FULL record, held until joined for the others (block buffers are never reused).
   */
  private fragment(): Uint8Array {
    return new Uint8Array(this.block.buffer, this.block.byteOffset + this.fragStart, this.fragLen);
  }

  private emit(offset: number, data: Uint8Array): LevelDBRecord {
    this.inRecord = false;
    if (this.scratch.length !== 0) this.scratch = []; // a fresh array is cheaper than truncating one
    this.last = offset;
    this.end = this.endOfBufferOffset - (this.bufEnd - this.bufStart);
    if (!this.rocksdb || !this.recycled) this.returnedNonRecyclable = true;
    return { offset, data };
  }

  /**
   * Whether the next records can come from the fast path: a LevelDB log, past `initialOffset`, not
   * resynchronising and not inside a fragmented record. There a FULL record with a good CRC is
   * returned as is and changes no state but the position, so a run of them needs no state machine.
   */
  private fastPathApplies(): boolean {
    return (
      !this.rocksdb &&
      !this.finished &&
      !(this.inRecord && this.inFragmented) && // a finished record's flag is reset by the next step()
      !this.resyncing &&
      this.bufEnd - this.bufStart >= HEADER &&
      this.endOfBufferOffset - this.bufEnd + this.bufStart >= this.initialOffset
    );
  }

  /**
   * The fast path: appends to `out` (up to `max` in all) the run of plain FULL records at the
   * current position, found by one scan of the rest of the block (scanFullRecords, remembered for
   * the following calls), and returns how many it took. Whatever ends the run goes to step().
   */
  private takeFullRecords(out: LevelDBRecord[], max: number): number {
    const b = this.block;
    let h = this.bufStart;
    if (this.fastBlock !== b || h > this.fastStop) {
      this.fastStop = this.runFrom(h);
      this.fastBlock = b;
    }
    const stop = this.fastStop;
    if (h >= stop) return 0;
    const base = this.endOfBufferOffset - this.bufEnd; // file offset of b[0]
    // Records are views into the block's buffer (never reused): b[x] is at buffer[x + shift].
    const buffer = b.buffer;
    const shift = b.byteOffset;
    const before = out.length;
    let last = h;
    while (h < stop && out.length < max) {
      const len = b[h + 4]! | (b[h + 5]! << 8);
      last = h;
      h += HEADER;
      out.push({ offset: base + last, data: new Uint8Array(buffer, h + shift, len) });
      h += len;
    }
    this.bufStart = h;
    this.inRecord = false;
    this.last = base + last;
    this.end = base + h;
    this.returnedNonRecyclable = true;
    return out.length - before;
  }

  /** Where the run of FULL records from `h` ends: as found beside the read, or scanned now. */
  private runFrom(h: number): number {
    const runs = this.blockRuns;
    if (runs !== null && this.blockRunsAt >= 0) {
      for (let i = this.blockRunsAt, end = i + 2 * RUNS_PER_BLOCK; i < end; i += 2) {
        if (runs[i] === h) return runs[i + 1]!;
      }
    }
    return this.scan.scanFullRecords(this.block, h, this.bufEnd, this.checksum);
  }

  /**
   * ReadPhysicalRecord (db/log_reader.cc): the next physical record's type with its fragment in
   * fragStart/fragLen, or EOF / BAD / NEED_DATA.
   */
  private readPhysical(): number {
    const size = this.bufEnd - this.bufStart;
    if (size < HEADER) {
      if (!this.eof) {
        if (size > 0 && !isZero(this.block, this.bufStart, this.bufEnd)) {
          this.silentDrop(size, 'non-zero bytes in block trailer', this.endOfBufferOffset - size);
        }
        this.clearBuffer();
        return NEED_DATA;
      }
      // A truncated header at the end of the file: the writer died mid-header.
      if (size > 0) this.silentDrop(size, 'truncated header at end of file', this.endOfBufferOffset - size);
      this.clearBuffer();
      return EOF;
    }
    // LevelDB logs: plain FULL records take the fast path, which checks their CRCs in one call per
    // block span; the few records that come here get theirs one by one.
    if (this.rocksdb && this.checksum && !this.blockCrcs.scanned) this.blockCrcs.scan(this.block, this.bufStart, this.bufEnd);

    const b = this.block;
    const h = this.bufStart;
    const length = b[h + 4]! | (b[h + 5]! << 8);
    const type = b[h + 6]!;
    let headerSize = HEADER;
    if (this.rocksdb && isRecyclable(type)) {
      headerSize = RECYCLABLE_HEADER;
      if (this.endOfBufferOffset - size === 0) this.recycled = true;
      if (size < RECYCLABLE_HEADER) {
        // Too short for the larger header: a trailer, or a torn header at the end.
        if (this.eof) {
          this.silentDrop(size, 'truncated header at end of file', this.endOfBufferOffset - size);
          this.clearBuffer();
          return EOF;
        }
        this.clearBuffer();
        return NEED_DATA;
      }
      const logNumber = (b[h + 7]! | (b[h + 8]! << 8) | (b[h + 9]! << 16) | (b[h + 10]! << 24)) >>> 0;
      if (this.logNumber === undefined) {
        throw new WalError(WalErrorCodes.INVALID_OPTION, 'a recyclable RocksDB record needs the logNumber option', {
          file: this.path,
          offset: this.endOfBufferOffset - size,
        });
      }
      // A record left over from the file's previous life: the live log ends here.
      if (logNumber !== this.logNumber % 2 ** 32) {
        this.clearBuffer();
        this.finished = true;
        return EOF;
      }
    }
    if (headerSize + length > size) {
      const dropped = size;
      this.clearBuffer();
      if (!this.eof) {
        this.drop(dropped, 'bad record length');
        return BAD;
      }
      // The writer died in the middle of the record.
      this.silentDrop(dropped, 'truncated record at end of file', this.endOfBufferOffset - dropped);
      return EOF;
    }
    if (type === RecordType.ZERO && length === 0) {
      // Preallocated or zeroed space: LevelDB skips the rest of the block without a report.
      this.silentDrop(size, 'zero header, rest of block skipped', this.endOfBufferOffset - size);
      this.clearBuffer();
      return BAD;
    }
    if (this.checksum) {
      const expected = unmask((b[h]! | (b[h + 1]! << 8) | (b[h + 2]! << 16) | (b[h + 3]! << 24)) >>> 0);
      if (this.blockCrcs.crcAt(b, h, headerSize, length) !== expected) {
        // The length may be what got corrupted, so nothing after it in this block is trusted.
        const dropped = size;
        this.clearBuffer();
        this.drop(dropped, 'checksum mismatch');
        return BAD;
      }
    }
    this.bufStart += headerSize + length;
    this.fragStart = h + headerSize;
    this.fragLen = length;
    this.fragHeader = headerSize;

    if (this.endOfBufferOffset - (this.bufEnd - this.bufStart) - headerSize - length < this.initialOffset) {
      this.fragLen = 0;
      return this.quirks ? BAD : SKIPPED;
    }
    if (this.rocksdb) return this.rocksdbType(type);
    if (this.quirks) {
      // LevelDB returns the raw type byte through the channel of its kEof (5) and kBadRecord (6),
      // and reads it through a signed char.
      if (type === 5) {
        this.silentDrop(length, 'record type 5 read as end of log', this.endOfBufferOffset - size);
        this.finished = true;
        return EOF;
      }
      if (type === 6) {
        this.silentDrop(length, 'record type 6 skipped as a bad record', this.endOfBufferOffset - size);
        this.fragLen = 0;
        return BAD;
      }
    }
    return type;
  }

  /** Maps RocksDB types onto FULL..LAST, BAD (mixed recyclable/legacy) or IGNORED (metadata). */
  private rocksdbType(type: number): number {
    switch (rocksdbTypeKind(type)) {
      case 'recyclable':
        return this.returnedNonRecyclable && !this.recycled ? BAD : type - 4;
      case 'compressed':
        throw new WalError(WalErrorCodes.UNEXPECTED_RECORD_TYPE, 'compressed RocksDB logs are not supported', {
          file: this.path,
          offset: this.endOfBufferOffset - (this.bufEnd - this.bufStart) - this.fragHeader - this.fragLen,
        });
      case 'metadata':
        return IGNORED;
      default:
        return type;
    }
  }
}

/**
 * Reads the LevelDB log at `path`: `for await (const { offset, data } of readLevelDBLog(path)) {}`.
 * By default returns exactly what LevelDB 1.23's log::Reader returns on any input and throws the
 * first corruption it would report; see `LevelDBReadOptions` for the reporter, strict mode,
 * `initialOffset` and RocksDB logs.
 */
export function readLevelDBLog(path: string, options: LevelDBReadOptions = {}): LevelDBLogReader {
  return new LevelDBLogReader(path, options);
}

function isZero(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}
