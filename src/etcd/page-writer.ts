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
/** etcd `defaultBufferBytes`: the page writer flushes once it would hold more than this. */
export const DEFAULT_BUFFER_BYTES = 128 * 1024;

/** Appends `p` to `list`, merging it into the last view when it continues it in the same memory. */
function pushView(list: Uint8Array[], p: Uint8Array): void {
  if (p.length === 0) return;
  const last = list[list.length - 1];
  if (last !== undefined && last.buffer === p.buffer && last.byteOffset + last.length === p.byteOffset) {
    list[list.length - 1] = new Uint8Array(p.buffer, last.byteOffset, last.length + p.length);
  } else {
    list.push(p);
  }
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
  private bufferedViews: Uint8Array[] = [];
  /** Bytes etcd would already have written but we have not yet (issued by `commit`). */
  private outViews: Uint8Array[] = [];
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

  /** etcd `PageWriter.Write`, byte for byte in its flush decisions. `p` must not change afterwards. */
  write(p: Uint8Array): void {
    for (;;) {
      if (p.length + this.buffered <= DEFAULT_BUFFER_BYTES) {
        pushView(this.bufferedViews, p);
        this.buffered += p.length;
        return;
      }
      let slack = WAL_PAGE_BYTES - ((this.pageOffset + this.buffered) % WAL_PAGE_BYTES);
      if (slack !== WAL_PAGE_BYTES) {
        const partial = slack > p.length;
        if (partial) slack = p.length;
        pushView(this.bufferedViews, p.subarray(0, slack));
        this.buffered += slack;
        p = p.subarray(slack);
        // avoid forcing an unaligned flush
        if (partial) return;
      }
      this.flush();
      if (p.length > WAL_PAGE_BYTES) {
        const whole = p.length - (p.length % WAL_PAGE_BYTES);
        this.emit(p.subarray(0, whole));
        p = p.subarray(whole);
      }
      // the remainder is written to the buffer (etcd recurses)
    }
  }

  /** etcd `PageWriter.Flush`: hands the buffer to write(2) (queued until `commit`). */
  flush(): void {
    if (this.buffered === 0) return;
    for (const v of this.bufferedViews) this.emit(v);
    this.pageOffset = (this.pageOffset + this.buffered) % WAL_PAGE_BYTES;
    this.buffered = 0;
    this.bufferedViews = [];
  }

  /** Performs the queued writes in one call, optionally followed by fdatasync in the same call. */
  async commit(datasync = false): Promise<void> {
    if (this.outBytes === 0) {
      if (datasync) await this.file.datasync();
      return;
    }
    const views = this.outViews;
    const at = this.diskOffset;
    const n = this.outBytes;
    this.outViews = [];
    this.outBytes = 0;
    this.diskOffset = at + n;
    await this.file.write(views, at, datasync ? { datasync: true } : undefined);
  }

  private emit(v: Uint8Array): void {
    pushView(this.outViews, v);
    this.outBytes += v.length;
  }
}
