/**
 * Copies of records' data for readers that hand out records a caller may keep (consumers): each
 * copy is a view into a shared 256 KiB chunk, one allocation per chunk rather than one
 * ArrayBuffer per record, which cost more than the rest of a small record's read
 * (bench/README.md, Consumers). Chunks are never reused, so a view stays valid as long as it is held.
 */
const CHUNK_BYTES = 256 * 1024;

export class RecordCopier {
  private chunk = new Uint8Array(0);
  private at = 0;

  /** A copy of `buf[start, end)`. */
  copy(buf: Uint8Array, start = 0, end = buf.length): Uint8Array {
    const n = end - start;
    if (this.at + n > this.chunk.length) {
      this.chunk = new Uint8Array(Math.max(CHUNK_BYTES, n));
      this.at = 0;
    }
    const at = this.at;
    this.chunk.set(start === 0 && end === buf.length ? buf : buf.subarray(start, end), at);
    this.at = at + n;
    return this.chunk.subarray(at, at + n);
  }
}
