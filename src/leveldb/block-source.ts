/**
 * The LevelDB reader's block source: the file's 32 KiB blocks in order, served from read-ahead
 * chunks of several blocks (one I/O call each, the next ones already in flight), with the runs of
 * plain FULL records of each block when the native backend found them beside the read.
 */
import { WalError, WalErrorCodes } from '../errors';
import { afterBytes, totalLength } from '../io/buffer-list';
import type { IoBackend, WalFile } from '../io/types';
import { BLOCK_SIZE } from './format';
import { levelDBScanFor, type LevelDBScan } from './native-scan';

const BLOCK = BLOCK_SIZE;
const EMPTY = new Uint8Array(0);
/**
 * Blocks read per I/O call (one preadv into that many block buffers). A threadpool read costs a
 * round trip (~50-80 µs here), so few, large reads: 82 MB read in 256 KiB reads one at a time took
 * 24-28 ms, in 1 MiB reads two at a time 10-11 ms, the same as blocking reads.
 */
const BLOCKS_PER_READ = 32;
/** Reads in flight ahead of the parser, so the disk (or page-cache copy) overlaps the parsing. */
const READS_AHEAD = 2;
/** Runs of FULL records per block found beside the read (LevelDBScan.readBlocks). */
export const RUNS_PER_BLOCK = 4;

/** A read of whole blocks: bytes read, and the runs of FULL records found beside it (or null). */
interface BlocksRead {
  n: number;
  runs: Uint32Array | null;
}

export class BlockSource {
  private file: WalFile | null = null;
  private readonly scan: LevelDBScan;
  /** The file's size as of open: read-ahead stays within it, and buffers are sized to it. */
  fileSize = 0;
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

  /** The block `load` got: whole, or shorter at the end of the file (empty past it). */
  block: Uint8Array = EMPTY;
  /** Its runs are runs[runsAt, runsAt + 2 * RUNS_PER_BLOCK) when runsAt >= 0. */
  runs: Uint32Array | null = null;
  runsAt = -1;

  /** `findRuns`: ask the file for the runs of FULL records as it reads (LevelDB logs, not RocksDB). */
  constructor(
    private readonly io: IoBackend,
    readonly path: string,
    private readonly verify: boolean,
    private readonly findRuns: boolean,
  ) {
    this.scan = levelDBScanFor(io);
  }

  /** Opens the file; returns its size. */
  async open(): Promise<number> {
    this.file = await this.io.open(this.path, { read: true });
    this.fileSize = await this.file.size();
    return this.fileSize;
  }

  /**
   * Makes `block` the block at `at` (a block boundary; LevelDB: one read of up to kBlockSize
   * bytes, a short block means end of file), from the read-ahead chunk, filling it when needed.
   */
  async load(at: number): Promise<void> {
    const available = this.chunkStart + this.chunkLen - at;
    if (at < this.chunkStart || available <= 0 || (available < BLOCK && !this.chunkAtEof)) await this.fill(at);
    const from = at - this.chunkStart; // a multiple of BLOCK: reads start at block boundaries
    const n = Math.max(0, Math.min(BLOCK, this.chunkLen - from));
    this.block = n === BLOCK ? this.chunk[from / BLOCK]! : n > 0 ? this.chunk[from / BLOCK]!.subarray(0, n) : EMPTY;
    this.runs = this.chunkRuns;
    this.runsAt = this.chunkRuns !== null && n > 0 ? (from / BLOCK) * 2 * RUNS_PER_BLOCK : -1;
  }

  /** Waits for the reads in flight, then closes the file. */
  async close(): Promise<void> {
    const file = this.file;
    const ahead = this.prefetch;
    this.prefetch = [];
    for (const read of ahead) await read.done.catch(() => undefined);
    this.file = null;
    this.block = EMPTY;
    this.chunk = [];
    if (file !== null && !file.closed) await file.close();
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
   * backend can find them as it reads (native backend, LevelDB format).
   */
  private async readBlocks(blocks: Uint8Array[], at: number): Promise<BlocksRead> {
    const file = this.file!;
    const runs = this.findRuns && blocks.length > 0 ? new Uint32Array(blocks.length * 2 * RUNS_PER_BLOCK) : null;
    let read: Promise<number> | undefined;
    try {
      read = runs === null ? undefined : this.scan.readBlocks(file, blocks, at, this.verify, runs);
    } catch (err) {
      throw this.readFailed(err, at);
    }
    if (read === undefined) return { n: await this.readInto(blocks, at), runs: null };
    let n: number;
    try {
      n = await read;
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
