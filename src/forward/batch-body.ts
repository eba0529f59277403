/**
 * The body of a batch message (batch.ts): consecutive records, each a uvarint length then its
 * bytes. `BatchBody` builds one as records are read, so a forwarder's batch costs one copy of each
 * record and no object per record: `Consumer#readEncoded` copies the bytes straight out of the
 * writer's window or the read buffer into it (bench/README.md, Forward).
 */
import { WalError, WalErrorCodes } from '../errors';
import { getUvarint, putUvarint, uvarintSize } from '../codec/varint';

/** Bytes a record takes in a body: its length as a uvarint, then the data. */
export function encodedRecordSize(dataLength: number): number {
  return uvarintSize(dataLength) + dataLength;
}

/** First capacity of a body whose bound is larger: it grows by doubling, up to the bound. */
const FIRST_CAPACITY = 64 * 1024;

/**
 * A batch body being filled with consecutive records, up to `maxBytes` encoded bytes (a first
 * record always goes in, however large). Records are copied in: the caller's buffers may change.
 *
 * @example
 * const body = new BatchBody(1 << 20);
 * await consumer.readEncoded(body);
 * if (body.count > 0) await sink.sendBatch(encodeBatchBody(log.id, body));
 */
export class BatchBody {
  private buf: Uint8Array;
  private at = 0;
  private firstN = 0;
  private countN = 0;
  private dataN = 0;

  constructor(
    /** Bound on the encoded size (what a sink's `maxBatchBytes` counts). */
    readonly maxBytes: number,
    /** Bytes to allocate first (grows by doubling, up to maxBytes). */
    capacity = Math.min(maxBytes, FIRST_CAPACITY),
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `BatchBody: maxBytes must be a positive integer, got ${maxBytes}`);
    this.buf = new Uint8Array(capacity);
  }

  /** Records in the body. */
  get count(): number {
    return this.countN;
  }

  /** Index of the first record (0 while empty). */
  get first(): number {
    return this.countN === 0 ? 0 : this.firstN;
  }

  /** Index of the last record (0 while empty). */
  get last(): number {
    return this.countN === 0 ? 0 : this.firstN + this.countN - 1;
  }

  /** Data bytes of the records (without their length prefixes). */
  get dataBytes(): number {
    return this.dataN;
  }

  /** Encoded bytes so far. */
  get size(): number {
    return this.at;
  }

  /** The encoded records: a view, valid until the next add or dropAfter. */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  /** Whether a record of `n` data bytes still goes in (always, into an empty body). */
  fits(n: number): boolean {
    return this.countN === 0 || this.at + encodedRecordSize(n) <= this.maxBytes;
  }

  /** Appends record `index` (the one after the last), copying `data[start, end)`. */
  add(index: number, data: Uint8Array, start = 0, end = data.length): void {
    if (this.countN === 0) this.firstN = index;
    else if (index !== this.firstN + this.countN) {
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `BatchBody: record ${index} does not follow ${this.firstN + this.countN - 1}`);
    }
    const n = end - start;
    const need = this.at + encodedRecordSize(n);
    if (need > this.buf.length) this.grow(need);
    const buf = this.buf;
    let at = putUvarint(buf, this.at, n);
    // Short records byte by byte: a subarray per record cost more than the copy.
    if (n <= 32) for (let i = start; i < end; i++) buf[at++] = data[i]!;
    else {
      buf.set(start === 0 && end === data.length ? data : data.subarray(start, end), at);
      at += n;
    }
    this.at = at;
    this.countN++;
    this.dataN += n;
  }

  /** Drops the records after `index` (all of them for an index below the first). */
  dropAfter(index: number): void {
    if (this.countN === 0 || index >= this.last) return;
    const keep = Math.max(0, index - this.firstN + 1);
    let at = 0;
    let data = 0;
    for (let k = 0; k < keep; k++) {
      const len = getUvarint(this.buf, at);
      at += uvarintSize(len) + len;
      data += len;
    }
    this.at = at;
    this.countN = keep;
    this.dataN = data;
  }

  private grow(need: number): void {
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(Math.max(need, Math.min(cap, this.maxBytes)));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }
}
