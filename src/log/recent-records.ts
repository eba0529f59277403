/**
 * A bounded window of the records the writer wrote last (index -> data), so that `tail()` followers
 * and consumers take just-durable records from memory instead of reopening and decoding the tail
 * segment. Readers take records only up to the index they pass (the durable index): the window
 * also holds written-but-not-yet-durable records, which must never reach a reader.
 *
 * One copy per record: the batch buffer the frames are encoded into is reused for the next batch,
 * and the appender's own buffer may change once its append resolved. The copies go into shared
 * chunks that are never reused or written again, so a view handed out stays valid and unchanged.
 */

/** Bytes a record counts for besides its data, so a window of empty records is bounded too. */
const RECORD_OVERHEAD = 32;
/** Size of one copy chunk: one allocation per this many bytes of small records. */
const CHUNK_BYTES = 256 * 1024;
const EMPTY = new Uint8Array(0);

export class RecentRecords {
  /** Record `first + k` is `datas[head + k]`; datas[0..head) are evicted slots. */
  private datas: Uint8Array[] = [];
  private head = 0;
  private first = 1;
  private bytes = 0;
  private chunk = EMPTY;
  private chunkAt = 0;

  constructor(
    /** Bound on the data (plus a small per-record overhead) held; 0 keeps nothing. */
    readonly maxBytes: number,
  ) {}

  /** Index of the first record held (`end + 1` when empty). */
  get firstIndex(): number {
    return this.first;
  }

  /** Index of the last record held (`firstIndex - 1` when empty). */
  get end(): number {
    return this.first + this.datas.length - this.head - 1;
  }

  /**
   * Records `datas[from..from+count)` were written as entries firstIndex.. (copied now: the caller's
   * buffers may change once their appends resolved). A batch that does not follow the last one
   * held starts the window afresh.
   */
  add(datas: readonly Uint8Array[], from: number, count: number, firstIndex: number): void {
    if (this.maxBytes === 0) return;
    if (firstIndex !== this.end + 1) this.reset(firstIndex);
    const list = this.datas;
    for (let k = from; k < from + count; k++) {
      const d = this.copy(datas[k]!);
      list.push(d);
      this.bytes += d.length + RECORD_OVERHEAD;
    }
    this.evict();
  }

  /** The data of record `index` when the window holds it, else undefined. */
  get(index: number): Uint8Array | undefined {
    if (index < this.first) return undefined;
    return this.datas[this.head + index - this.first];
  }

  /** truncateBack: records after `index` are gone. */
  dropAfter(index: number): void {
    if (index >= this.end) return;
    if (index < this.first) {
      this.reset(index + 1);
      return;
    }
    const keep = this.head + index - this.first + 1;
    for (let k = keep; k < this.datas.length; k++) this.bytes -= this.datas[k]!.length + RECORD_OVERHEAD;
    this.datas.length = keep;
  }

  /** truncateFront: records before `index` are no longer readable. */
  dropBefore(index: number): void {
    if (index > this.end) {
      this.reset(index);
      return;
    }
    while (this.first < index) this.shift();
    this.compact();
  }

  /** close: nothing more is served. */
  clear(): void {
    this.reset(this.end + 1);
  }

  private reset(firstIndex: number): void {
    this.datas = [];
    this.head = 0;
    this.first = firstIndex;
    this.bytes = 0;
  }

  private evict(): void {
    while (this.bytes > this.maxBytes && this.head < this.datas.length) this.shift();
    this.compact();
  }

  private shift(): void {
    const d = this.datas[this.head]!;
    this.bytes -= d.length + RECORD_OVERHEAD;
    this.datas[this.head] = EMPTY;
    this.head++;
    this.first++;
  }

  /** Drops the evicted slots once they are the larger part (amortised O(1) per record). */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.datas.length) {
      this.datas = this.datas.slice(this.head);
      this.head = 0;
    }
  }

  private copy(data: Uint8Array): Uint8Array {
    const n = data.length;
    if (n > CHUNK_BYTES / 4) return data.slice(); // a large record gets its own buffer
    if (this.chunkAt + n > this.chunk.length) {
      this.chunk = new Uint8Array(CHUNK_BYTES);
      this.chunkAt = 0;
    }
    const at = this.chunkAt;
    this.chunk.set(data, at);
    this.chunkAt = at + n;
    return this.chunk.subarray(at, at + n);
  }
}
