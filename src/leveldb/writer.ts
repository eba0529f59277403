/**
 * LevelDBLogWriter: appends records to a LevelDB-format log, byte for byte what LevelDB 1.23's
 * log::Writer writes (db/log_writer.cc), including the zero-length fragment when exactly 7 bytes
 * are left in a block and resuming an existing file at `size % 32768`.
 */
import { WalError, WalErrorCodes } from '../errors';
import { defaultBackend } from '../io/backend';
import type { IoBackend, WalFile } from '../io/types';
import { BLOCK_SIZE, HEADER_SIZE, RecordType, maskCrc, sliceCrcs } from './format';
import { readLevelDBLog } from './reader';

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
}

/** Per-call options for `addRecord` / `addRecords`. */
export interface LevelDBAddOptions {
  /** fdatasync in the same I/O call once the bytes are written (LevelDB `WriteOptions.sync`). Default false. */
  sync?: boolean;
}

/** Where the fragments of a batch go in the output buffer. */
interface Layout {
  size: number;
  /** Header offsets inside the output buffer, one per fragment. */
  headers: number[];
  /** Block offset after the batch. */
  blockOffset: number;
}

/**
 * Plans the fragments of `records` starting at `blockOffset`: the same decisions as LevelDB's
 * `Writer::AddRecord` (pad when fewer than 7 bytes remain, fragments never cross a block).
 */
function layout(records: readonly Uint8Array[], blockOffset: number): Layout {
  const headers: number[] = [];
  let size = 0;
  let offset = blockOffset;
  for (const record of records) {
    let left = record.length;
    do {
      const leftover = BLOCK_SIZE - offset;
      if (leftover < HEADER_SIZE) {
        size += leftover; // zero trailer
        offset = 0;
      }
      const n = Math.min(left, BLOCK_SIZE - offset - HEADER_SIZE);
      headers.push(size);
      size += HEADER_SIZE + n;
      offset += HEADER_SIZE + n;
      left -= n;
    } while (left > 0);
  }
  return { size, headers, blockOffset: offset };
}

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
  if (!Number.isInteger(blockOffset) || blockOffset < 0 || blockOffset > BLOCK_SIZE) {
    throw new RangeError(`blockOffset must be an integer in [0, ${BLOCK_SIZE}]`);
  }
  const plan = layout(records, blockOffset);
  const out = new Uint8Array(plan.size); // zero-filled: trailers need zeros
  const bounds = new Uint32Array(plan.headers.length * 2);
  let fragment = 0;
  for (const record of records) {
    let pos = 0;
    let begin = true;
    do {
      const at = plan.headers[fragment]!;
      const room = BLOCK_SIZE - ((blockOffset + at) % BLOCK_SIZE) - HEADER_SIZE;
      const n = Math.min(record.length - pos, room);
      const end = pos + n === record.length;
      const type = begin && end ? RecordType.FULL : begin ? RecordType.FIRST : end ? RecordType.LAST : RecordType.MIDDLE;
      out[at + 4] = n & 0xff;
      out[at + 5] = n >>> 8;
      out[at + 6] = type;
      out.set(record.subarray(pos, pos + n), at + HEADER_SIZE);
      // The CRC covers the type byte and the payload, which are contiguous.
      bounds[2 * fragment] = at + 6;
      bounds[2 * fragment + 1] = at + HEADER_SIZE + n;
      pos += n;
      begin = false;
      fragment++;
    } while (pos < record.length);
  }
  const crcs = sliceCrcs(io, out, bounds);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < crcs.length; i++) view.setUint32(plan.headers[i]!, maskCrc(crcs[i]!), true);
  return { bytes: out, blockOffset: plan.blockOffset };
}

/**
 * Appends records to a LevelDB log file. Writes are ordered: calls may overlap without awaiting,
 * each one's bytes land after the previous one's. After a failed write or sync the writer refuses
 * further writes (`ERR_WAL_FAILED`), as LevelDB does, because its block position is no longer known
 * to match the file.
 */
export class LevelDBLogWriter {
  private blockOffset: number;
  private position: number;
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  private constructor(
    private readonly file: WalFile,
    private readonly io: IoBackend,
    size: number,
  ) {
    this.position = size;
    this.blockOffset = size % BLOCK_SIZE;
  }

  /**
   * Opens (creating if needed) `path` for appending. An existing file is resumed at
   * `size % 32768`, as LevelDB's `Writer(dest, dest_length)`; see `repairTail` to cut a torn tail first.
   */
  static async open(path: string, options: LevelDBLogWriterOptions = {}): Promise<LevelDBLogWriter> {
    const io = options.io ?? defaultBackend;
    if (options.repairTail) await truncateTornTail(path, io);
    const file = await io.open(path, { read: true, write: true, create: true });
    try {
      return new LevelDBLogWriter(file, io, await file.size());
    } catch (err) {
      await file.close();
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
    this.checkWritable();
    for (const r of records) {
      if (!(r instanceof Uint8Array)) throw new TypeError('addRecords: every record must be a Uint8Array or Buffer');
    }
    if (records.length === 0) return options.sync ? this.sync() : this.tail;
    const { bytes, blockOffset } = encodeLevelDBRecords(records, this.blockOffset, this.io);
    const position = this.position;
    this.blockOffset = blockOffset;
    this.position += bytes.length;
    return this.enqueue(() => this.file.write([bytes], position, { datasync: options.sync === true }), position);
  }

  /** fdatasync after every write accepted so far. */
  sync(): Promise<void> {
    this.checkWritable();
    return this.enqueue(() => this.file.datasync(), this.position);
  }

  /** Waits for pending writes and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.tail;
    } finally {
      await this.file.close();
    }
  }

  private checkWritable(): void {
    if (this.closed) throw new WalError(WalErrorCodes.CLOSED, 'LevelDB log writer is closed', { file: this.file.path });
    if (this.failure !== null) {
      throw new WalError(WalErrorCodes.FAILED, 'an earlier write failed; reopen the log to continue', {
        file: this.file.path,
        cause: this.failure,
      });
    }
  }

  private enqueue(op: () => Promise<void>, offset: number): Promise<void> {
    const run = this.tail.then(async () => {
      if (this.failure !== null) {
        throw new WalError(WalErrorCodes.FAILED, 'an earlier write failed', { file: this.file.path, offset });
      }
      try {
        await op();
      } catch (err) {
        this.failure = err;
        throw new WalError(WalErrorCodes.IO, `write failed: ${(err as Error).message}`, {
          file: this.file.path,
          offset,
          cause: err,
        });
      }
    });
    // Later operations wait for this one whether it succeeds or not.
    this.tail = run.catch(() => undefined);
    return run;
  }
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
