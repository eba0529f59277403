/**
 * readLevelDBLog: the records of a LevelDB (or RocksDB) log file, as LevelDB 1.23's log::Reader
 * returns them (db/log_reader.cc) — same records, same offsets, same corruption reports with the
 * same byte counts and reasons, including what LevelDB drops silently. Reads 32 KiB blocks, so
 * memory stays bounded by the largest record.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import { defaultBackend } from '../io/backend';
import { afterBytes, totalLength } from '../io/buffer-list';
import type { IoBackend, WalFile } from '../io/types';
import { BLOCK_SIZE, HEADER_SIZE, RECYCLABLE_HEADER_SIZE, RecordType, sliceCrcs, unmaskCrc } from './format';
import { scanFullRecords } from './full-scan';

/** One logical record and the file offset of its first physical record (LevelDB `LastRecordOffset`). */
export interface LevelDBRecord {
  offset: number;
  /**
   * The record's bytes (a Uint8Array), never overwritten by later reads. A record that fits in one
   * block is a view into that block's own 32 KiB buffer, which the reader never reuses (as
   * LevelDB's Slice points into its block, but safe to keep): keeping it keeps that block's
   * buffer alive — copy it (`Buffer.from(data)`) to keep a small record for long. A record joined
   * from fragments is a copy, sharing a 64 KiB allocation when 1-16 KiB.
   */
  data: Uint8Array;
}

/** A corruption report: what LevelDB passes to `Reporter::Corruption`, plus where the dropped bytes start. */
export interface LevelDBCorruption {
  /** Bytes dropped, as LevelDB counts them (an approximation: LevelDB's own accounting). */
  bytes: number;
  /** LevelDB's reason text, e.g. 'checksum mismatch', 'bad record length'. */
  reason: string;
  /** File offset where the dropped bytes begin. */
  offset: number;
}

/** Options for `readLevelDBLog`. */
export interface LevelDBReadOptions {
  /** Verify CRCs. Default true (LevelDB always verifies during recovery). */
  checksum?: boolean;
  /**
   * Receives every corruption report; reading continues after it, as in LevelDB. Throw from it to
   * stop. When omitted, the first report is thrown as a `WalError` with code
   * `ERR_WAL_LEVELDB_CORRUPTION` (like LevelDB's `paranoid_checks`).
   */
  onCorruption?: (report: LevelDBCorruption) => void;
  /**
   * Start at the first record whose physical start is at or after this offset (LevelDB
   * `initial_offset`). Default 0.
   */
  initialOffset?: number;
  /**
   * Report what LevelDB drops silently: torn tails, a partial record at the end, zero-filled block
   * remainders, non-zero trailers and (in 'leveldb-1.23' compat) records of type 5 and 6.
   * The records returned do not change. Default false.
   */
  strict?: boolean;
  /**
   * 'leveldb-1.23' (default): reproduce LevelDB 1.23 exactly, including its quirks: a CRC-valid
   * record of type 5 ends the log and one of type 6 is skipped silently (they collide with its
   * internal codes), and resynchronisation after `initialOffset` ends at the first record that
   * started before the offset. 'clean': types 5 and 6 are unknown types like any other, and
   * resynchronisation skips every fragment of a record that started before `initialOffset`.
   * Ignored for format 'rocksdb'.
   */
  compat?: 'leveldb-1.23' | 'clean';
  /**
   * 'leveldb' (default) or 'rocksdb': RocksDB logs may also hold recyclable records (types 5-8,
   * 11-byte header with the log number; one from another log number ends the log) and metadata
   * records (types 10, 11, 130, 131 and any type with bit 7 set), which are skipped. Compressed logs
   * (type 9) are refused.
   */
  format?: 'leveldb' | 'rocksdb';
  /** RocksDB log number (low 32 bits are compared). Default: parsed from a `NNNNNN.log` file name. */
  logNumber?: number;
  /** I/O backend; default the package's `defaultBackend`. */
  io?: IoBackend;
}

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
const crcsOfSlices = sliceCrcs;

const EMPTY = new Uint8Array(0);
const EMPTY_CRCS = new Uint32Array(0);
/** A block holds at most this many physical records (7-byte headers, empty payloads). */
const MAX_RECORDS_PER_BLOCK = Math.ceil(BLOCK / HEADER);
/** Joined records are copied into shared buffers of this size (see allocate)... */
const ARENA = 64 * 1024;
/** ...unless smaller than this: Node's Buffer pool serves those faster. */
const SMALL_RECORD = 1024;
/**
 * Blocks read per I/O call (one preadv into that many block buffers). A threadpool read costs a
 * round trip (~50-80 µs here), so few, large reads: 82 MB read in 256 KiB reads one at a time took
 * 24-28 ms, in 1 MiB reads two at a time 10-11 ms, the same as blocking reads.
 */
const BLOCKS_PER_READ = 32;
/** Reads in flight ahead of the parser, so the disk (or page-cache copy) overlaps the parsing. */
const READS_AHEAD = 2;
/** Runs of FULL records per block found beside the read (WalFile.readLevelDBBlocks). */
const RUNS_PER_BLOCK = 4;

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

  private file: WalFile | null = null;
  private finished = false;
  /**
   * Read-ahead: file bytes [chunkStart, chunkStart + chunkLen) are in chunk, one buffer per block.
   * Block buffers are never reused: records are views into them.
   */
  private chunk: Uint8Array[] = [];
  /** The runs of FULL records of the chunk's blocks, when the file found them as it read them. */
  private chunkRuns: Uint32Array | null = null;
  private chunkStart = 0;
  private chunkLen = 0;
  private chunkAtEof = false;
  /** The reads of the chunks after this one, started as soon as this one arrived. */
  private prefetch: { start: number; blocks: Uint8Array[]; done: Promise<BlocksRead> }[] = [];
  private fileSize = 0;
  private arena = new ArrayBuffer(0);
  private arenaUsed = 0;
  /** The current block: one of chunk, or the start of it at the end of the file. */
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

  // RocksDB logs: CRCs of the current block's records, computed together when the block is first parsed.
  private crcPositions = new Int32Array(0);
  private crcBounds = new Uint32Array(0);
  private crcCount = 0;
  private crcValues: Uint32Array = EMPTY_CRCS;
  private crcNext = 0;
  private crcScanned = false;

  // The fast path (takeFullRecords): block[bufStart, fastStop) holds only plain FULL records with
  // good CRCs, as found by the last scan of fastBlock.
  private fastBlock: Uint8Array = EMPTY;
  private fastStop = 0;
  /** next()'s scratch array for takeFullRecords. */
  private readonly one: LevelDBRecord[] = [];
  /** The current block's runs are chunkRuns[blockRuns, blockRuns + 2 * RUNS_PER_BLOCK) (-1: none). */
  private blockRuns = -1;

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
      if (this.file === null && !this.finished) await this.start();
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
    const file = this.file;
    const ahead = this.prefetch;
    this.prefetch = [];
    for (const read of ahead) await read.done.catch(() => undefined);
    this.file = null;
    this.block = EMPTY;
    this.chunk = [];
    if (file !== null && !file.closed) await file.close();
  }

  private async start(): Promise<void> {
    this.file = await this.io.open(this.path, { read: true });
    const size = await this.file.size();
    this.fileSize = size;
    if (this.rocksdb) {
      // Only RocksDB logs batch their CRCs per block here (LevelDB logs: the fast path's scan).
      const records = Math.min(MAX_RECORDS_PER_BLOCK, Math.ceil(size / HEADER) + 1);
      this.crcPositions = new Int32Array(records);
      this.crcBounds = new Uint32Array(2 * records);
    }
    // LevelDB SkipToInitialBlock: a record cannot start in a block's last 6 bytes.
    const inBlock = this.initialOffset % BLOCK;
    let blockStart = this.initialOffset - inBlock;
    if (inBlock > BLOCK - 6) blockStart += BLOCK;
    this.endOfBufferOffset = blockStart;
  }

  /**
   * The next block (LevelDB: one read of up to kBlockSize bytes; a short block means end of file),
   * served from a read-ahead chunk of up to BLOCKS_PER_READ blocks so one I/O call covers several.
   */
  private async readBlock(): Promise<void> {
    const at = this.endOfBufferOffset;
    const available = this.chunkStart + this.chunkLen - at;
    if (at < this.chunkStart || available <= 0 || (available < BLOCK && !this.chunkAtEof)) await this.fill(at);
    const from = at - this.chunkStart; // a multiple of BLOCK: reads start at block boundaries
    const n = Math.max(0, Math.min(BLOCK, this.chunkLen - from));
    this.block = n === BLOCK ? this.chunk[from / BLOCK]! : n > 0 ? this.chunk[from / BLOCK]!.subarray(0, n) : EMPTY;
    this.blockRuns = this.chunkRuns !== null && n > 0 ? (from / BLOCK) * 2 * RUNS_PER_BLOCK : -1;
    this.bufStart = 0;
    this.bufEnd = n;
    this.endOfBufferOffset += n;
    this.eof = n < BLOCK;
    this.crcScanned = false;
  }

  /**
   * Makes the chunk hold the file from `at` (a block boundary). Full-size chunks are read ahead:
   * as soon as one is in, reads of the next READS_AHEAD chunks are under way.
   */
  private async fill(at: number): Promise<void> {
    const most = at + BLOCKS_PER_READ * BLOCK;
    let n: number;
    const ahead = this.prefetch.length > 0 && this.prefetch[0]!.start === at ? this.prefetch.shift()! : null;
    if (ahead !== null) {
      ({ n, runs: this.chunkRuns } = await ahead.done);
      this.chunk = ahead.blocks;
    } else {
      // Reads that do not start at `at` are of no use; never leave one running unobserved.
      for (const read of this.prefetch) await read.done.catch(() => undefined);
      this.prefetch = [];
      // Sized to the file as of open (a small file gets a buffer of its own size)...
      this.chunk = blocksFor(at, Math.min(most, this.fileSize));
      ({ n, runs: this.chunkRuns } = await this.readBlocks(this.chunk, at));
      // ...and extended while the file turns out to have grown since.
      while (n === totalLength(this.chunk)) {
        const end = Math.min(most, await this.file!.size());
        if (end <= at + n) break;
        const targets: Uint8Array[] = [];
        const last = this.chunk[this.chunk.length - 1];
        if (last !== undefined && last.length < BLOCK) {
          const whole = Buffer.allocUnsafeSlow(BLOCK);
          whole.set(last);
          this.chunk[this.chunk.length - 1] = whole;
          targets.push(whole.subarray(last.length));
        }
        const more = blocksFor(at + this.chunk.length * BLOCK, end);
        this.chunk.push(...more);
        targets.push(...more);
        const got = await this.readInto(targets, at + n);
        n += got;
        this.chunkRuns = null; // blocks changed after the runs were found
        if (got === 0) break;
      }
    }
    // The block where the file ends may be partly read: zero the rest (buffers are not zeroed
    // when allocated), so no stale memory shows through a record's `.buffer`.
    const full = totalLength(this.chunk);
    if (n < full) this.chunk[Math.floor(n / BLOCK)]!.fill(0, n % BLOCK);
    this.chunkStart = at;
    this.chunkLen = n;
    this.chunkAtEof = n < full || n === 0;
    if (this.chunkAtEof || full !== BLOCKS_PER_READ * BLOCK) return;
    // Read ahead, within the file's size as of open (fill() reads directly beyond it).
    const lastAhead = this.prefetch[this.prefetch.length - 1];
    let next = lastAhead !== undefined ? lastAhead.start + totalLength(lastAhead.blocks) : at + n;
    while (this.prefetch.length < READS_AHEAD && next < this.fileSize) {
      const blocks = blocksFor(next, Math.min(next + BLOCKS_PER_READ * BLOCK, this.fileSize));
      const done = this.readBlocks(blocks, next);
      done.catch(() => undefined); // observed when awaited; never an unhandled rejection
      this.prefetch.push({ start: next, blocks, done });
      next += totalLength(blocks);
    }
  }

  /**
   * Reads whole blocks from `at` (a block boundary), with their runs of FULL records when the
   * file can find them as it reads (native backend, LevelDB format).
   */
  private async readBlocks(blocks: Uint8Array[], at: number): Promise<BlocksRead> {
    const file = this.file!;
    if (this.rocksdb || file.readLevelDBBlocks === undefined || blocks.length === 0) {
      return { n: await this.readInto(blocks, at), runs: null };
    }
    const runs = new Uint32Array(blocks.length * 2 * RUNS_PER_BLOCK);
    let n: number;
    try {
      n = await file.readLevelDBBlocks(blocks, at, this.checksum, runs);
    } catch (err) {
      throw this.readFailed(err, at);
    }
    if (n === 0 || n === totalLength(blocks)) return { n, runs };
    // Short: the end of the file, or a short read to retry; runs found before a retry would be stale.
    const more = await this.readInto(afterBytes(blocks, n), at + n);
    return { n: n + more, runs: more === 0 ? runs : null };
  }

  /**
   * Reads into `targets` from `at` until they are full or the file ends: one preadv, repeated
   * after a short read (google/leveldb#1285: a short read is not the end of the file).
   */
  private async readInto(targets: Uint8Array[], at: number): Promise<number> {
    let pending = targets;
    let n = 0;
    while (pending.length > 0) {
      let got: number;
      try {
        got = await this.file!.readv(pending, at + n);
      } catch (err) {
        throw this.readFailed(err, at + n);
      }
      if (got === 0) break;
      n += got;
      pending = afterBytes(pending, got);
    }
    return n;
  }

  private readFailed(err: unknown, offset: number): WalError {
    return new WalError(WalErrorCodes.IO, `read failed: ${(err as Error).message}`, { file: this.path, offset, cause: err });
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
            return this.emit(this.prospective, this.concat(this.scratch, this.scratchSize));
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

  /**
   * `size` bytes for a record. Small ones come from Node's Buffer pool (8 KiB slabs, cheapest
   * below 1 KiB); larger ones are carved from a 64 KiB arena of our own, one ArrayBuffer per arena
   * instead of one per record (V8 allocates each ArrayBuffer separately: ~2 µs at 4 KiB).
   * Records larger than a quarter arena get their own buffer.
   */
  private allocate(size: number): Uint8Array {
    if (size < SMALL_RECORD || size > ARENA / 4) return Buffer.allocUnsafe(size);
    if (this.arena.byteLength - this.arenaUsed < size) {
      this.arena = new ArrayBuffer(Math.min(ARENA, Math.max(this.fileSize, size)));
      this.arenaUsed = 0;
    }
    const out = new Uint8Array(this.arena, this.arenaUsed, size);
    this.arenaUsed += size;
    return out;
  }

  /** The fragments of a record, joined. */
  private concat(parts: Uint8Array[], size: number): Uint8Array {
    const out = this.allocate(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
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
    const runs = this.chunkRuns;
    if (runs !== null && this.blockRuns >= 0) {
      for (let i = this.blockRuns, end = i + 2 * RUNS_PER_BLOCK; i < end; i += 2) {
        if (runs[i] === h) return runs[i + 1]!;
      }
    }
    return scanFullRecords(this.io, this.block, h, this.bufEnd, this.checksum);
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
    // block span; the few records that come here get theirs one by one (crcForRecordAt).
    if (!this.crcScanned && this.checksum && this.rocksdb) this.scanBlockCrcs();

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
      const expected = unmask(
        (b[h]! | (b[h + 1]! << 8) | (b[h + 2]! << 16) | (b[h + 3]! << 24)) >>> 0,
      );
      if (this.crcForRecordAt(h, headerSize, length) !== expected) {
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
    if (type >= RecordType.RECYCLABLE_FULL && type <= RecordType.RECYCLABLE_LAST) {
      return this.returnedNonRecyclable && !this.recycled ? BAD : type - 4;
    }
    if (type === RecordType.SET_COMPRESSION) {
      throw new WalError(WalErrorCodes.UNEXPECTED_RECORD_TYPE, 'compressed RocksDB logs are not supported', {
        file: this.path,
        offset: this.endOfBufferOffset - (this.bufEnd - this.bufStart) - this.fragHeader - this.fragLen,
      });
    }
    if (
      type === RecordType.USER_DEFINED_TIMESTAMP_SIZE ||
      type === RecordType.RECYCLABLE_USER_DEFINED_TIMESTAMP_SIZE ||
      (type & 0x80) !== 0
    ) {
      return IGNORED;
    }
    return type;
  }

  /** The CRC of the record whose header is at `h`, from the block's batch when it was scanned. */
  private crcForRecordAt(h: number, headerSize: number, length: number): number {
    while (this.crcNext < this.crcCount && this.crcPositions[this.crcNext]! < h) this.crcNext++;
    if (this.crcNext < this.crcCount && this.crcPositions[this.crcNext] === h) return this.crcValues[this.crcNext++]!;
    return this.io.crc32c(this.block.subarray(h + 6, h + headerSize + length));
  }

  /**
   * Finds the records of the block just read, the way readPhysical will walk them, and computes
   * all their CRCs with one io call. Anything unexpected just stops the scan (readPhysical then
   * computes that CRC on its own).
   */
  private scanBlockCrcs(): void {
    this.crcScanned = true;
    const b = this.block;
    const positions = this.crcPositions;
    const bounds = this.crcBounds;
    let count = 0;
    let h = this.bufStart;
    // The arrays were sized to the file when it was opened: in a file that has grown since, records
    // beyond their capacity get their CRC computed one by one (crcForRecordAt).
    while (this.bufEnd - h >= HEADER && count < positions.length) {
      const length = b[h + 4]! | (b[h + 5]! << 8);
      const type = b[h + 6]!;
      const headerSize = this.rocksdb && isRecyclable(type) ? RECYCLABLE_HEADER : HEADER;
      if (headerSize + length > this.bufEnd - h || (type === 0 && length === 0)) break;
      positions[count] = h;
      bounds[2 * count] = h + 6;
      bounds[2 * count + 1] = h + headerSize + length;
      count++;
      h += headerSize + length;
    }
    this.crcCount = count;
    this.crcNext = 0;
    this.crcValues = count > 0 ? crcsOfSlices(this.io, b, bounds.subarray(0, 2 * count)) : EMPTY_CRCS;
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

function isRecyclable(type: number): boolean {
  return (
    (type >= RecordType.RECYCLABLE_FULL && type <= RecordType.RECYCLABLE_LAST) ||
    type === RecordType.RECYCLABLE_USER_DEFINED_TIMESTAMP_SIZE ||
    type === RecordType.RECYCLABLE_PREDECESSOR_WAL_INFO
  );
}

/**
 * Buffers for the file bytes [from, to): one per block, each its own allocation (so a record keeps
 * only its block alive); the last one only as long as the file part it is for. Not zeroed: every
 * byte is overwritten by the read or, past the end of the file, by fill() before anything can see
 * it. Zeroing them would cost about as much as reading them from the page cache.
 */
function blocksFor(from: number, to: number): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  for (let at = from; at < to; at += BLOCK) blocks.push(Buffer.allocUnsafeSlow(Math.min(BLOCK, to - at)));
  return blocks;
}

/** A read of whole blocks: bytes read, and the runs of FULL records found beside it (or null). */
interface BlocksRead {
  n: number;
  runs: Uint32Array | null;
}


function isZero(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}


function logNumberFromName(file: string): number | undefined {
  const m = /^(\d+)\.log$/.exec(path.basename(file));
  return m ? Number(m[1]) : undefined;
}
