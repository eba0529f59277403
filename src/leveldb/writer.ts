/**
 * LevelDBLogWriter: appends records to a LevelDB-format log, byte for byte what LevelDB 1.23's
 * log::Writer writes (db/log_writer.cc), including the zero-length fragment when exactly 7 bytes
 * are left in a block and resuming an existing file at `size % 32768`.
 */
import { dirname } from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import { defaultBackend } from '../io/backend';
import type { IoBackend, WalFile } from '../io/types';
import { makeDirsDurably } from '../io/make-dirs';
import { fileSpot } from '../lock/directory';
import { Lease } from '../lock/lease';
import { resolveLockOptions, type LockOptions } from '../lock/options';
import { crc32cFallback } from '../io/fallback';
import { sliceCrcs } from '../crc32c-combine';
import { BLOCK_SIZE, HEADER_SIZE, RecordType, putMaskedCrc } from './format';
import { readLevelDBLog } from './reader';

// Module-local copies of the format constants used per fragment (cheaper than another module's exports).
const BLOCK = BLOCK_SIZE;
const HEADER = HEADER_SIZE;
const FULL = RecordType.FULL;
const FIRST = RecordType.FIRST;
const MIDDLE = RecordType.MIDDLE;
const LAST = RecordType.LAST;
/** crc32c of the single byte FULL: where a FULL record's CRC starts. */
const FULL_TYPE_CRC = crc32cFallback(Uint8Array.of(FULL));

/** Options for `LevelDBLogWriter.open`. */
export interface LevelDBLogWriterOptions {
  /** I/O backend; default the package's `defaultBackend` (native addon or fallback). */
  io?: IoBackend;
  /**
   * Before appending to an existing file, read it with the LevelDB reader (checksums on) and
   * truncate it to the end of the last complete record, so new records do not follow a torn
   * tail (what LevelDB's `reuse_logs` does, google/leveldb#1287). Default false: append at the
   * current size exactly as LevelDB does.
   */
  repairTail?: boolean;
  /**
   * Timings of the file's lease (`<file>.nodewal-lock.<n>.tmp` beside it; docs/durability.md
   * "One writer per directory"). Default { renewMs: 1000, staleMs: 10000 }.
   */
  lock?: LockOptions;
}

/** Per-call options for `addRecord` / `addRecords`. */
export interface LevelDBAddOptions {
  /** fdatasync in the same I/O call once the bytes are written (LevelDB `WriteOptions.sync`). Default false. */
  sync?: boolean;
}

/**
 * Bytes needed to append `records` at `blockOffset`, and how many fragments that takes: the same
 * decisions as LevelDB's `Writer::AddRecord` (pad when fewer than 7 bytes remain, fragments never
 * cross a block). `encodeLevelDBRecords` walks the same way a second time to fill the bytes in.
 */
function measure(records: readonly Uint8Array[], blockOffset: number): { size: number; fragments: number } {
  let size = 0;
  let fragments = 0;
  let offset = blockOffset;
  for (let r = 0; r < records.length; r++) {
    let left = records[r]!.length;
    do {
      if (BLOCK - offset < HEADER) {
        size += BLOCK - offset; // zero trailer
        offset = 0;
      }
      const n = Math.min(left, BLOCK - offset - HEADER);
      size += HEADER + n;
      offset += HEADER + n;
      left -= n;
      fragments++;
    } while (left > 0);
  }
  return { size, fragments };
}

/** Reused between calls (encoding is synchronous): CRC slice bounds, two entries per fragment. */
let boundsScratch = new Uint32Array(2048);

/**
 * Frames `records` as LevelDB physical records to be appended at `blockOffset` inside a block
 * (a file's `size % 32768`). Returns the bytes to append and the block offset after them. All
 * fragment CRCs come from one `io.crc32cChain` call.
 */
export function encodeLevelDBRecords(
  records: readonly Uint8Array[],
  blockOffset = 0,
  io: IoBackend = defaultBackend,
): { bytes: Uint8Array; blockOffset: number } {
  if (!Number.isInteger(blockOffset) || blockOffset < 0 || blockOffset > BLOCK) {
    throw new RangeError(`blockOffset must be an integer in [0, ${BLOCK}]`);
  }
  const { size, fragments } = measure(records, blockOffset);
  // Every byte is written below (trailers explicitly), so the buffer need not be zeroed; small
  // ones come from Node's pool, which is much cheaper than a new ArrayBuffer per call.
  const out = Buffer.allocUnsafe(size);
  if (boundsScratch.length < 2 * fragments) boundsScratch = new Uint32Array(2 * fragments);
  const bounds = boundsScratch;
  let at = 0;
  let offset = blockOffset;
  let fragment = 0;
  for (let r = 0; r < records.length; r++) {
    const record = records[r]!;
    let pos = 0;
    let begin = true; // not pos === 0: a zero-length FIRST fills a block's last 7 bytes
    do {
      if (BLOCK - offset < HEADER) {
        out.fill(0, at, at + BLOCK - offset);
        at += BLOCK - offset;
        offset = 0;
      }
      const n = Math.min(record.length - pos, BLOCK - offset - HEADER);
      const end = pos + n === record.length;
      out[at + 4] = n & 0xff;
      out[at + 5] = n >>> 8;
      out[at + 6] = begin && end ? FULL : begin ? FIRST : end ? LAST : MIDDLE;
      out.set(n === record.length ? record : record.subarray(pos, pos + n), at + HEADER);
      // The CRC covers the type byte and the payload, which are contiguous.
      bounds[2 * fragment] = at + 6;
      bounds[2 * fragment + 1] = at + HEADER + n;
      at += HEADER + n;
      offset += HEADER + n;
      pos += n;
      begin = false;
      fragment++;
    } while (pos < record.length);
  }
  // One fragment (a single small record): a plain crc32c call, which allocates no result array.
  const crcs = fragments === 1 ? null : sliceCrcs(io, out, bounds.subarray(0, 2 * fragments));
  for (let i = 0; i < fragments; i++) {
    const h = bounds[2 * i]! - 6;
    putMaskedCrc(out, h, crcs === null ? io.crc32c(out.subarray(bounds[0]!, bounds[1]!)) : crcs[i]!);
  }
  return { bytes: out, blockOffset: offset };
}

/** Writes accepted while another is in flight, written together by one call when it completes. */
interface Group {
  buffers: Uint8Array[];
  position: number;
  sync: boolean;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Appends records to a LevelDB log file. Writes are ordered: calls may overlap without awaiting,
 * each one's bytes land after the previous one's. Calls made while a write is in flight are
 * group-committed: written together by one pwritev, with one fdatasync if any of them asked for
 * `sync`. After a failed write or sync the writer refuses further writes (`ERR_WAL_FAILED`), as
 * LevelDB does, because its block position is no longer known to match the file.
 */
export class LevelDBLogWriter {
  private blockOffset: number;
  private position: number;
  /** A group's write is in progress. */
  private writing = false;
  /** Settles when the last submitted group is written (groups complete in order). */
  private lastDone: Promise<void> = Promise.resolve();
  /** Groups waiting for the one in flight, oldest first. */
  private queue: Group[] = [];
  private failure: unknown = null;
  private closed = false;
  /** addRecordSync's header buffer (a synchronous write is finished before it is reused). */
  private readonly syncHeader = new Uint8Array(HEADER);

  private constructor(
    private readonly file: WalFile,
    private readonly io: IoBackend,
    size: number,
    private readonly lease: Lease,
  ) {
    this.position = size;
    this.blockOffset = size % BLOCK;
  }

  /**
   * Opens (creating if needed, with any missing parent directories, mode 0700) `path` for appending. An existing file is resumed at
   * `size % 32768`, as LevelDB's `Writer(dest, dest_length)`; see `repairTail` to cut a torn tail first.
   */
  static async open(path: string, options: LevelDBLogWriterOptions = {}): Promise<LevelDBLogWriter> {
    try {
      return await LevelDBLogWriter.openFile(path, options);
    } catch (err) {
      // OS failures (EACCES, EMFILE, EROFS...) are reported as every other: a WalError with its cause.
      if (err instanceof WalError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new WalError(WalErrorCodes.IO, `cannot open the log: ${e?.message ?? String(err)}`, { file: path, cause: err });
    }
  }

  private static async openFile(path: string, options: LevelDBLogWriterOptions): Promise<LevelDBLogWriter> {
    const io = options.io ?? defaultBackend;
    // Like Log.open: a missing parent directory is created (0700), so `open('./data/000003.log')`
    // works in a fresh folder; the lease file lives in it, so this comes first.
    await makeDirsDurably(io, dirname(path));
    const lock = resolveLockOptions(options.lock, 'LevelDBLogWriter.open');
    // The lease first: the file is not read, cut or created before it is held.
    const lease = await Lease.acquire(fileSpot(path), { ...lock, io, what: 'the LevelDB log' });
    try {
      if (options.repairTail) await truncateTornTail(path, io);
      const { file, created } = await openOrCreate(path, io);
      try {
        // A new file's directory entry is not durable until its directory is fsynced: without this,
        // records synced into it could vanish with the whole file on power loss.
        if (created) await io.fsyncDir(dirname(path));
        return new LevelDBLogWriter(file, io, await file.size(), lease);
      } catch (err) {
        await file.close();
        if (created) await io.unlink(path).catch(() => undefined); // a failed open leaves no new file
        throw err;
      }
    } catch (err) {
      await lease.abandon();
      throw err;
    }
  }

  /** The file's length once every accepted record is written. */
  get size(): number {
    return this.position;
  }

  /** Appends one logical record (any length, empty allowed). */
  addRecord(data: Uint8Array, options?: LevelDBAddOptions): Promise<void> {
    return this.addRecords([data], options);
  }

  /** Appends several logical records with one write (and at most one fdatasync). */
  addRecords(records: readonly Uint8Array[], options: LevelDBAddOptions = {}): Promise<void> {
    // A promise-returning method reports every failure as a rejection, never a synchronous throw.
    try {
      this.checkWritable();
      return this.submit(this.encode(records), options.sync === true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Frames `records` at the current end and advances it; null when there is nothing to write. */
  private encode(records: readonly Uint8Array[]): Uint8Array | null {
    for (const r of records) {
      if (!(r instanceof Uint8Array)) throw new TypeError('addRecords: every record must be a Uint8Array or Buffer');
    }
    if (records.length === 0) return null;
    const { bytes, blockOffset } = encodeLevelDBRecords(records, this.blockOffset, this.io);
    this.blockOffset = blockOffset;
    this.position += bytes.length;
    return bytes;
  }

  /**
   * Synchronous twin of `addRecord`: encodes and writes on the calling thread (one pwrite, plus
   * fdatasync when `sync` is set). No threadpool hop, so a loop of single records runs at syscall
   * speed; it blocks the event loop for the duration of the write.
   */
  addRecordSync(data: Uint8Array, options?: LevelDBAddOptions): void {
    this.addRecordsSync([data], options);
  }

  /**
   * Synchronous twin of `addRecords`. Refused (`ERR_WAL_INVALID_ARGUMENT`) while asynchronous
   * writes are pending: its bytes would reach the disk before theirs, and a crash in between
   * would leave a hole before a synced record.
   */
  addRecordsSync(records: readonly Uint8Array[], options: LevelDBAddOptions = {}): void {
    this.checkWritable();
    if (this.writing || this.queue.length > 0) {
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'addRecordSync while asynchronous writes are pending: await them first', {
        file: this.file.path,
      });
    }
    const single = records.length === 1 ? records[0] : undefined;
    const position = this.position;
    let buffers: Uint8Array[];
    if (single instanceof Uint8Array && single.length <= BLOCK - this.blockOffset - HEADER) {
      // One record that fits the current block whole: write a header and the caller's bytes with one
      // pwritev, no copy (the write is done before this returns). The same bytes encode() makes.
      buffers = [this.fullHeader(single), single];
      this.blockOffset += HEADER + single.length;
      this.position += HEADER + single.length;
    } else {
      const bytes = this.encode(records);
      if (bytes === null) return;
      buffers = [bytes];
    }
    try {
      this.lease.assertHeld();
      this.file.writeSync(buffers, position, { datasync: options.sync === true });
    } catch (err) {
      this.failure = err;
      if (err instanceof WalError) throw err;
      throw new WalError(WalErrorCodes.IO, `write failed: ${(err as Error).message}`, {
        file: this.file.path,
        offset: position,
        cause: err,
      });
    }
  }

  /**
   * The header of `data` as one FULL record, in a buffer reused by every synchronous call. The CRC
   * covers the type byte then the payload: crc32c(data) continued from crc32c([FULL]).
   */
  private fullHeader(data: Uint8Array): Uint8Array {
    const header = this.syncHeader;
    putMaskedCrc(header, 0, this.io.crc32c(data, FULL_TYPE_CRC));
    header[4] = data.length & 0xff;
    header[5] = data.length >>> 8;
    header[6] = FULL;
    return header;
  }

  /** fdatasync after every write accepted so far. */
  sync(): Promise<void> {
    try {
      this.checkWritable();
      return this.submit(null, true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `await using writer = await LevelDBLogWriter.open(path)`: closes the writer when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Waits for pending writes and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.lastDone.catch(() => undefined);
    } finally {
      try {
        await this.file.close();
      } finally {
        await this.lease.release();
      }
    }
  }

  private checkWritable(): void {
    if (this.closed) throw new WalError(WalErrorCodes.CLOSED, 'LevelDB log writer is closed', { file: this.file.path });
    if (this.failure instanceof WalError && this.failure.code === WalErrorCodes.LOCKED) throw this.failure; // lease lost
    if (this.failure !== null) {
      throw new WalError(WalErrorCodes.FAILED, 'an earlier write failed; reopen the log to continue', {
        file: this.file.path,
        cause: this.failure,
      });
    }
  }

  /**
   * Adds `bytes` (which end at the current end of the log) and/or a sync to the pending group:
   * groups are contiguous because every encode advances the end and sync writes wait for them.
   */
  private submit(bytes: Uint8Array | null, sync: boolean): Promise<void> {
    let group = this.queue[this.queue.length - 1];
    if (group === undefined) {
      const position = this.position - (bytes === null ? 0 : bytes.length);
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      group = { buffers: [], position, sync: false, done, resolve, reject };
      this.queue.push(group);
      this.lastDone = done;
    }
    if (bytes !== null) group.buffers.push(bytes);
    if (sync) group.sync = true;
    if (!this.writing) this.flush();
    return group.done;
  }

  /** Starts writing the oldest group; when it completes, the next one (if any) starts. */
  private flush(): void {
    const group = this.queue.shift();
    if (group === undefined) return;
    this.writing = true;
    void this.writeGroup(group);
  }

  private async writeGroup(group: Group): Promise<void> {
    const where = { file: this.file.path, offset: group.position };
    let error: unknown = null;
    if (this.failure !== null) {
      error = new WalError(WalErrorCodes.FAILED, 'an earlier write failed', { ...where, cause: this.failure });
    } else {
      try {
        this.lease.assertHeld(); // a clock compare; a lost lease stops every write from here on
        if (group.buffers.length > 0) await this.file.write(group.buffers, group.position, { datasync: group.sync });
        else if (group.sync) await this.file.datasync();
      } catch (err) {
        this.failure = err;
        error =
          err instanceof WalError
            ? err
            : new WalError(WalErrorCodes.IO, `write failed: ${(err as Error).message}`, { ...where, cause: err });
      }
    }
    // Idle (or on to the next group) before the callers resume, so they may write synchronously.
    this.writing = false;
    this.flush();
    if (error === null) group.resolve();
    else group.reject(error);
  }
}

/** Opens `path` for appending, creating it if missing, and says whether it was created (race-free: O_EXCL first). */
async function openOrCreate(path: string, io: IoBackend): Promise<{ file: WalFile; created: boolean }> {
  try {
    return { file: await io.open(path, { read: true, write: true, create: true, exclusive: true }), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { file: await io.open(path, { read: true, write: true }), created: false };
}

/** Cuts `path` to the end of its last complete record (no-op when the file is missing or intact). */
async function truncateTornTail(path: string, io: IoBackend): Promise<void> {
  let size: number;
  try {
    size = (await io.stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const reader = readLevelDBLog(path, { io, onCorruption: () => undefined });
  for await (const _record of reader) {
    // only the end offset matters
  }
  if (reader.endOfLastRecord < size) {
    const file = await io.open(path, { read: true, write: true });
    try {
      await file.truncate(reader.endOfLastRecord);
      await file.datasync();
    } finally {
      await file.close();
    }
  }
}
