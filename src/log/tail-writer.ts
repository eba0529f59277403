/**
 * Owns the tail segment's file handle, write position, running CRC and the one batch buffer.
 * A batch is encoded straight into the buffer and written with ONE `io` call (pwritev, and
 * fdatasync in the same job when asked; with `dedicatedThread`, on the file's own I/O thread).
 *
 * O_DIRECT: the buffer is aligned, and since writes must cover whole blocks, the buffer starts with
 * the partial block already on disk before `pos` (the "carry"); each batch rewrites that block and
 * pads its own end with zeros up to the block boundary — the bytes past the last record are zeros
 * on disk anyway (the preallocated tail), so the file stays byte-identical to a buffered write.
 */
import type { IoBackend, WalFile } from '../io/types';
import { type BatchCheckpoints, encodeEntryBatch, entryBatchCapacity } from './frames';

const INITIAL_BUFFER = 256 * 1024;
const NO_BYTES = new Uint8Array(0);

/** The tail segment's writer. */
export class TailWriter {
  private buf: Uint8Array;
  private bounds = new Uint32Array(1024);
  private alignment: number;
  /** Bytes of the block before `pos` held at buf[0..carry) (O_DIRECT only). */
  private carry = 0;
  /** End of the staged (encoded, not yet written) bytes in buf, and the CRC after them. */
  private stagedEnd = 0;
  private stagedCrc = 0;
  /** The file's size as far as this writer knows (preallocated size, or more once written past it). */
  private fileSize = 0;
  /** Buffers whose submitted write has completed, for the next batches to stage into. */
  private free: Uint8Array[] = [];
  private constructor(
    private readonly io: IoBackend,
    public file: WalFile,
    /** File offset where the next frame goes. */
    public pos: number,
    /** Running CRC after the last frame written. */
    public crc: number,
    /** Write + fdatasync batches on the file's own I/O thread rather than the threadpool (Log's `syncThread`). */
    private readonly dedicatedThread: boolean,
  ) {
    this.alignment = file.direct ? file.alignment : 1;
    this.buf = this.alloc(INITIAL_BUFFER);
  }

  /** A writer continuing `file` at `pos` with the chain at `crc`. */
  static async attach(io: IoBackend, file: WalFile, pos: number, crc: number, dedicatedThread = false): Promise<TailWriter> {
    const w = new TailWriter(io, file, pos, crc, dedicatedThread);
    await w.loadCarry();
    return w;
  }

  /** True when writes bypass the page cache. */
  get direct(): boolean {
    return this.alignment > 1;
  }

  /** Switches to another tail file (after a cut or a truncation). */
  async switchTo(file: WalFile, pos: number, crc: number): Promise<void> {
    this.file = file;
    this.pos = pos;
    this.crc = crc;
    const alignment = file.direct ? file.alignment : 1;
    if (alignment !== this.alignment) {
      this.alignment = alignment;
      this.buf = this.alloc(this.buf.length);
    }
    await this.loadCarry();
  }

  private alloc(size: number): Uint8Array {
    const a = this.alignment;
    return this.io.allocAligned(Math.ceil(size / a) * a, Math.max(a, 8));
  }

  private async loadCarry(): Promise<void> {
    this.fileSize = await this.file.size();
    const a = this.alignment;
    this.carry = this.pos % a;
    this.stagedEnd = this.carry;
    this.stagedCrc = this.crc;
    if (this.carry > 0) {
      // O_DIRECT reads need whole aligned blocks too.
      const got = await this.file.read(this.buf.subarray(0, a), this.pos - this.carry);
      this.buf.fill(0, Math.max(got, this.carry), a);
    }
  }

  private ensure(extra: number): void {
    const need = this.stagedEnd + extra + this.alignment;
    if (need <= this.buf.length) return;
    const next = this.alloc(Math.max(need, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.stagedEnd));
    this.buf = next;
  }

  /** Bytes staged so far in this batch (frames only, not the carry). */
  get stagedBytes(): number {
    return this.stagedEnd - this.carry;
  }

  /** Encodes entries `datas[from..from+count)` with indexes from `firstIndex` after what is staged. */
  stageEntries(
    datas: readonly Uint8Array[],
    from: number,
    count: number,
    dataBytes: number,
    firstIndex: number,
    term: Uint8Array,
    checkpoints?: BatchCheckpoints,
  ): void {
    this.ensure(entryBatchCapacity(dataBytes, count));
    if (this.bounds.length < 2 * count) this.bounds = new Uint32Array(4 * count);
    const { io, buf, stagedEnd, stagedCrc, bounds } = this;
    const r = encodeEntryBatch(io, buf, stagedEnd, datas, from, count, firstIndex, term, stagedCrc, bounds, 0, undefined, checkpoints);
    this.stagedEnd = r.end;
    this.stagedCrc = r.crc;
  }

  /** Stages ready-made frames whose chain already continues from the staged CRC. */
  stageFrames(bytes: Uint8Array, crcAfter: number): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.stagedEnd);
    this.stagedEnd += bytes.length;
    this.stagedCrc = crcAfter;
  }

  /** The running CRC after everything staged. */
  get stagedChainCrc(): number {
    return this.stagedCrc;
  }

  /** Writes what is staged in one call (with fdatasync when `datasync`), then advances. */
  async commit(datasync: boolean): Promise<void> {
    const a = this.alignment;
    const end = this.stagedEnd;
    const writeEnd = Math.ceil(end / a) * a;
    if (writeEnd > end) this.buf.fill(0, end, writeEnd);
    if (end > this.carry) {
      const dedicatedThread = datasync && this.dedicatedThread;
      await this.file.write([this.buf.subarray(0, writeEnd)], this.pos - this.carry, { datasync, dedicatedThread });
    } else if (datasync) await this.file.datasync();
    const blockStart = this.pos - this.carry;
    this.pos += end - this.carry;
    this.crc = this.stagedCrc;
    if (blockStart + writeEnd > this.fileSize) {
      // Past the preallocated end, O_DIRECT's block padding grew the file beyond the last record:
      // cut it back so the file has the size a buffered write would give.
      if (writeEnd > end) await this.file.truncate(this.pos);
      this.fileSize = this.pos;
    }
    // Keep the new partial block at the front for the next batch.
    const keep = end % a;
    if (keep > 0 && a > 1) this.buf.copyWithin(0, end - keep, end);
    this.carry = keep;
    this.stagedEnd = keep;
  }

  /**
   * Starts writing what is staged (with fdatasync when `datasync`) and advances at once, so that the
   * next batch can be staged while this one is in flight (pipelined group commit); the promise
   * settles when the I/O has. The staged buffer stays with the write until it completes; staging
   * continues in another. Buffered files only: an O_DIRECT batch rewrites the previous batch's
   * last block, so two of them must never be in flight together (the Log uses `commit` there).
   */
  submit(datasync: boolean): Promise<void> {
    if (this.alignment > 1) throw new Error('TailWriter.submit: O_DIRECT writes are committed one at a time');
    const end = this.stagedEnd;
    const buf = this.buf;
    const dedicatedThread = datasync && this.dedicatedThread;
    let io: Promise<void>;
    try {
      io =
        end > 0
          ? this.file.write([buf.subarray(0, end)], this.pos, { datasync, dedicatedThread })
          : datasync
            ? this.file.datasync()
            : Promise.resolve();
    } catch (err) {
      io = Promise.reject(err);
    }
    this.pos += end;
    this.crc = this.stagedCrc;
    if (this.pos > this.fileSize) this.fileSize = this.pos;
    this.stagedEnd = 0;
    this.buf = this.free.pop() ?? this.alloc(buf.length);
    return io.then(() => {
      this.free.push(buf);
    });
  }

  /**
   * fdatasync of everything written so far; on the file's own I/O thread when the writer uses it (a
   * write of no bytes with fdatasync: the thread runs the sync alone).
   */
  syncWritten(): Promise<void> {
    if (this.dedicatedThread) return this.file.write([NO_BYTES], this.pos, { datasync: true, dedicatedThread: true });
    return this.file.datasync();
  }

  /** Drops whatever is staged (after a failed write the log stops anyway). */
  discard(): void {
    this.stagedEnd = this.carry;
    this.stagedCrc = this.crc;
  }

  /**
   * Moves the write position back to `pos` (a frame boundary, chain at `crc`) and makes
   * [pos, zeroTo) zeros on disk, durably — used by truncateBack.
   */
  async rewind(pos: number, crc: number, zeroTo: number): Promise<void> {
    this.pos = pos;
    this.crc = crc;
    await this.loadCarry();
    const a = this.alignment;
    const chunk = Math.max(this.buf.length - a, a);
    let at = pos - this.carry;
    let first = true;
    while (at < zeroTo) {
      const len = Math.min(chunk, Math.ceil((zeroTo - at) / a) * a);
      if (!first) this.buf.fill(0, 0, len);
      else this.buf.fill(0, this.carry, len);
      await this.file.write([this.buf.subarray(0, len)], at);
      at += len;
      first = false;
    }
    // Block padding must not leave the file longer than a buffered rewrite would.
    const size = Math.max(this.fileSize, zeroTo);
    if (at > size) await this.file.truncate(size);
    await this.file.datasync();
    await this.loadCarry();
  }
}
