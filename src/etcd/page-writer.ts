/**
 * Emulation of etcd's `pkg/ioutil.PageWriter` (spec §6.1). etcd decides where to cut a segment
 * from the *flushed* file position, and that position depends on exactly when the page writer
 * flushes; reproducing its flush points is what makes our segment boundaries byte-identical.
 *
 * Bytes are never copied here: buffered and flushed data are kept as views of the caller's
 * (immutable) frame buffers, adjacent views are merged, and everything that etcd would have
 * handed to write(2) by the end of an operation goes out in one pwritev (`commit`).
 */
import type { WalFile } from '../io/types';

/** etcd `walPageBytes` = 8 × minSectorSize: flushes past the watermark stay page aligned. */
export const WAL_PAGE_BYTES = 4096;
/** The length word every frame starts with, written by etcd's encoder as a write of its own. */
const FRAME_LENGTH_WORD = 8;
/** etcd `defaultBufferBytes`: the page writer flushes once it would hold more than this. */
export const DEFAULT_BUFFER_BYTES = 128 * 1024;

/** A byte range of a caller's buffer; adjacent ranges of one buffer are merged. */
interface Span {
  buf: Uint8Array;
  start: number;
  end: number;
}

function pushSpan(list: Span[], buf: Uint8Array, start: number, end: number): void {
  if (end === start) return;
  const last = list[list.length - 1];
  if (last !== undefined && last.buf === buf && last.end === start) last.end = end;
  else list.push({ buf, start, end });
}

/**
 * etcd's PageWriter over a WalFile at an explicit position. `write` only simulates; `commit`
 * performs the writes etcd would have made so far (one pwritev); `offset` is what etcd's
 * `lseek(fd, 0, SEEK_CUR)` would return.
 */
export class PageWriter {
  /** etcd `pageOffset`: page offset of the buffer's base. */
  private pageOffset: number;
  private buffered = 0;
  private bufferedSpans: Span[] = [];
  /** Bytes etcd would already have written but we have not yet (issued by `commit`). */
  private outSpans: Span[] = [];
  private outBytes = 0;
  /** File position of the next physical write. */
  private diskOffset: number;

  constructor(
    readonly file: WalFile,
    offset: number,
  ) {
    this.pageOffset = offset;
    this.diskOffset = offset;
  }

  /** The flushed position etcd's `Seek(0, SeekCurrent)` reports (excludes the buffer). */
  get offset(): number {
    return this.diskOffset + this.outBytes;
  }

  /** Bytes held in the emulated buffer (not yet flushed). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Whether a span still waiting in the buffer or the write queue lies in `memory`. */
  references(memory: ArrayBufferLike): boolean {
    for (const s of this.bufferedSpans) if (s.buf.buffer === memory) return true;
    for (const s of this.outSpans) if (s.buf.buffer === memory) return true;
    return false;
  }

  /** etcd `PageWriter.Write(p)`. `p` must not change afterwards. */
  write(p: Uint8Array): void {
    this.writeRange(p, 0, p.length);
  }

  /**
   * etcd `PageWriter.Write(buf[start:end])`, byte for byte in its flush decisions, without
   * allocating views (the frame encoder calls it twice per record).
   */
  writeRange(buf: Uint8Array, start: number, end: number): void {
    for (;;) {
      const len = end - start;
      if (len + this.buffered <= DEFAULT_BUFFER_BYTES) {
        pushSpan(this.bufferedSpans, buf, start, end);
        this.buffered += len;
        return;
      }
      let slack = WAL_PAGE_BYTES - ((this.pageOffset + this.buffered) % WAL_PAGE_BYTES);
      if (slack !== WAL_PAGE_BYTES) {
        const partial = slack > len;
        if (partial) slack = len;
        pushSpan(this.bufferedSpans, buf, start, start + slack);
        this.buffered += slack;
        start += slack;
        // avoid forcing an unaligned flush
        if (partial) return;
      }
      this.flush();
      const rest = end - start;
      if (rest > WAL_PAGE_BYTES) {
        const whole = rest - (rest % WAL_PAGE_BYTES);
        this.emit(buf, start, start + whole);
        start += whole;
      }
      // the remainder is written to the buffer (etcd recurses)
    }
  }

  /**
   * Feeds frames laid out back to back in `bytes` (frame i ends at frameEnds[i]) as etcd's encoder
   * does: two writes per frame, length word then record. Runs of frames that fit under the
   * watermark are appended in one step (no flush decision can happen inside them).
   */
  writeFrames(bytes: Uint8Array, frameEnds: readonly number[]): void {
    const count = frameEnds.length;
    let pos = 0;
    let i = 0;
    while (i < count) {
      const room = DEFAULT_BUFFER_BYTES - this.buffered;
      if (frameEnds[i]! - pos <= room) {
        let j = i;
        while (j + 1 < count && frameEnds[j + 1]! - pos <= room) j++;
        const end = frameEnds[j]!;
        pushSpan(this.bufferedSpans, bytes, pos, end);
        this.buffered += end - pos;
        pos = end;
        i = j + 1;
        continue;
      }
      this.writeRange(bytes, pos, pos + FRAME_LENGTH_WORD);
      this.writeRange(bytes, pos + FRAME_LENGTH_WORD, frameEnds[i]!);
      pos = frameEnds[i]!;
      i++;
    }
  }

  /** etcd `PageWriter.Flush`: hands the buffer to write(2) (queued until `commit`). */
  flush(): void {
    if (this.buffered === 0) return;
    for (const s of this.bufferedSpans) this.emit(s.buf, s.start, s.end);
    this.pageOffset = (this.pageOffset + this.buffered) % WAL_PAGE_BYTES;
    this.buffered = 0;
    this.bufferedSpans = [];
  }

  /** Performs the queued writes in one call, optionally followed by fdatasync in the same call. */
  async commit(datasync = false): Promise<void> {
    if (this.outBytes === 0) {
      if (datasync) await this.file.datasync();
      return;
    }
    const views = this.outSpans.map((s) => s.buf.subarray(s.start, s.end));
    const at = this.diskOffset;
    const n = this.outBytes;
    this.outSpans = [];
    this.outBytes = 0;
    this.diskOffset = at + n;
    await this.file.write(views, at, datasync ? { datasync: true } : undefined);
  }

  private emit(buf: Uint8Array, start: number, end: number): void {
    pushSpan(this.outSpans, buf, start, end);
    this.outBytes += end - start;
  }
}
