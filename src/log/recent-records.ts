/**
 * A bounded window of the records the writer wrote last (index -> data), so that `tail()` followers
 * and consumers take just-durable records from memory instead of reopening and decoding the tail
 * segment. Readers take records only up to the index they pass (the durable index): the window
 * also holds written-but-not-yet-durable records, which must never reach a reader.
 *
 * One copy per record: the batch buffer the frames are encoded into is reused for the next batch,
 * and the appender's own buffer may change once its append resolved. The copies go into shared
 * chunks that are never reused or written again, so a view handed out stays valid and unchanged.
 * Where each record lies is kept in a typed-array ring, and a record's view is made only when a
 * reader asks for it: one small object per record held cost ~0.5-1.5 µs per append in GC (see
 * bench/README.md), more than the rest of an append's JavaScript. And records are only kept while
 * some follower or consumer is reading (retain/release): a log without readers pays nothing.
 */

/** Bytes a record counts for besides its data, so a window of empty records is bounded too. */
const RECORD_OVERHEAD = 32;
/** Size of one copy chunk: one allocation per this many bytes of small records. */
const CHUNK_BYTES = 256 * 1024;
const EMPTY = new Uint8Array(0);
/** Per record in the ring: its chunk's sequence number, offset in the chunk, length. */
const CHUNK = 0;
const OFFSET = 1;
const LENGTH = 2;
const SLOT = 3;

/** A record's bytes: `buf[start, end)`. */
export interface RecordPlace {
  buf: Uint8Array;
  start: number;
  end: number;
}

export class RecentRecords {
  /** chunks[k] has sequence number chunkBase + k; the last one is being filled. */
  private chunks: Uint8Array[] = [];
  private chunkBase = 0;
  private chunk = EMPTY;
  private chunkAt = 0;
  /** Ring of SLOT int32s per record; record `first + k` is at ring slot (head + k) & mask. */
  private ring = new Int32Array(1024 * SLOT);
  private mask = 1023;
  private head = 0;
  private count = 0;
  private first = 1;
  private bytes = 0;
  /** Live followers and consumer readers; while there are none nothing is kept. */
  private readers = 0;

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
    return this.first + this.count - 1;
  }

  /**
   * Records `datas[from..from+count)` were written as entries firstIndex.. (copied now: the caller's
   * buffers may change once their appends resolved). A batch that does not follow the last one
   * held starts the window afresh.
   */
  add(datas: readonly Uint8Array[], from: number, count: number, firstIndex: number): void {
    if (this.maxBytes === 0) return;
    if (this.readers === 0) {
      if (this.count > 0 || this.chunks.length > 0) this.dropAll();
      return;
    }
    if (firstIndex !== this.first + this.count) this.reset(firstIndex);
    for (let k = from; k < from + count; k++) {
      const d = datas[k]!;
      const n = d.length;
      if (this.count > this.mask) this.grow();
      if (this.chunkAt + n > this.chunk.length || this.chunks.length === 0) this.newChunk(n);
      this.chunk.set(d, this.chunkAt);
      const at = ((this.head + this.count) & this.mask) * SLOT;
      const ring = this.ring;
      ring[at + CHUNK] = this.chunkBase + this.chunks.length - 1;
      ring[at + OFFSET] = this.chunkAt;
      ring[at + LENGTH] = n;
      this.chunkAt += n;
      this.count++;
      this.bytes += n + RECORD_OVERHEAD;
    }
    while (this.bytes > this.maxBytes && this.count > 0) this.shift();
    this.dropUnusedChunks();
  }

  /** A follower or consumer reader starts: keep records from the next batch on. */
  retain(): void {
    this.readers++;
  }

  /** One stopped: with none left, the next batch frees the window. */
  release(): void {
    if (this.readers > 0) this.readers--;
  }

  /** The data of record `index` (a view into memory that is never written again), or undefined. */
  get(index: number): Uint8Array | undefined {
    const k = index - this.first;
    if (k < 0 || k >= this.count) return undefined;
    const at = ((this.head + k) & this.mask) * SLOT;
    const ring = this.ring;
    const off = ring[at + OFFSET]!;
    return this.chunks[ring[at + CHUNK]! - this.chunkBase]!.subarray(off, off + ring[at + LENGTH]!);
  }

  /**
   * Where record `index` lies (its chunk and offsets, into `place`) without making a view: false
   * when it is not held. For readers that copy the bytes out anyway.
   */
  locate(index: number, place: RecordPlace): boolean {
    const k = index - this.first;
    if (k < 0 || k >= this.count) return false;
    const at = ((this.head + k) & this.mask) * SLOT;
    const ring = this.ring;
    const off = ring[at + OFFSET]!;
    place.buf = this.chunks[ring[at + CHUNK]! - this.chunkBase]!;
    place.start = off;
    place.end = off + ring[at + LENGTH]!;
    return true;
  }

  /** truncateBack: records after `index` are gone (their bytes are not reused: views stay intact). */
  dropAfter(index: number): void {
    if (index >= this.end) return;
    if (index < this.first) {
      this.reset(index + 1);
      return;
    }
    const keep = index - this.first + 1;
    for (let k = keep; k < this.count; k++) this.bytes -= this.ring[((this.head + k) & this.mask) * SLOT + LENGTH]! + RECORD_OVERHEAD;
    this.count = keep;
  }

  /** truncateFront: records before `index` are no longer readable. */
  dropBefore(index: number): void {
    if (index > this.end) {
      this.reset(index);
      return;
    }
    while (this.first < index) this.shift();
    this.dropUnusedChunks();
  }

  /** close: nothing more is served. */
  clear(): void {
    this.reset(this.end + 1);
  }

  /** No reader left: give the memory back (views handed out keep their own chunks). */
  private dropAll(): void {
    this.reset(this.first + this.count);
    this.chunks = [];
    this.chunk = EMPTY;
    this.chunkAt = 0;
    this.chunkBase++;
  }

  private reset(firstIndex: number): void {
    this.head = 0;
    this.count = 0;
    this.first = firstIndex;
    this.bytes = 0;
    // Keep filling the current chunk: bytes already handed out are never written again.
    if (this.chunks.length > 1) {
      this.chunkBase += this.chunks.length - 1;
      this.chunks = [this.chunk];
    }
  }

  private shift(): void {
    this.bytes -= this.ring[this.head * SLOT + LENGTH]! + RECORD_OVERHEAD;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    this.first++;
  }

  /** Chunks before the first record's are no longer the window's (views a reader holds keep theirs alive). */
  private dropUnusedChunks(): void {
    const oldest = this.count > 0 ? this.ring[this.head * SLOT + CHUNK]! : this.chunkBase + this.chunks.length - 1;
    const n = oldest - this.chunkBase;
    if (n > 0) {
      this.chunks.splice(0, n);
      this.chunkBase = oldest;
    }
  }

  private newChunk(n: number): void {
    this.chunk = new Uint8Array(Math.max(CHUNK_BYTES, n));
    this.chunkAt = 0;
    this.chunks.push(this.chunk);
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const next = new Int32Array(cap * SLOT);
    for (let k = 0; k < this.count; k++) {
      const from = ((this.head + k) & this.mask) * SLOT;
      next.set(this.ring.subarray(from, from + SLOT), k * SLOT);
    }
    this.ring = next;
    this.mask = cap - 1;
    this.head = 0;
  }
}
