/**
 * A consumer batch being put together, shared by the batch readers (batch-reader.ts,
 * read-only-batch-reader.ts). A reader hands each record to a `BatchTarget`: entries for
 * `Consumer#read`, one encoded body for `Consumer#readEncoded` (forward/batch-body.ts). A record
 * that would take a batch past its byte bound is held over and comes first in the next one (a
 * first record always goes in, however large).
 */
import type { LogEntry } from './log-types';
import type { RecordCopier } from './record-copier';

/** What a batch reader fills: records in index order, copied in. */
export interface BatchTarget {
  /** Records taken so far. */
  readonly count: number;
  /** Index of the last record taken (when count > 0). */
  readonly last: number;
  /** Whether a record of `n` data bytes still goes in under the batch's byte bound (always into an empty one). */
  fits(n: number): boolean;
  /** Takes record `index`, copying `data[start, end)` (the reader's buffer is reused). */
  add(index: number, data: Uint8Array, start: number, end: number): void;
  /** Drops the records after `index` (a truncateBack cut them while they were read). */
  dropAfter(index: number): void;
}

/** `Consumer#read`'s batch: entries whose data are copies in shared chunks. */
export class EntryBatch implements BatchTarget {
  readonly entries: LogEntry[] = [];
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly copier: RecordCopier,
  ) {}

  get count(): number {
    return this.entries.length;
  }

  get last(): number {
    return Number(this.entries[this.entries.length - 1]!.index);
  }

  fits(n: number): boolean {
    return this.entries.length === 0 || this.bytes + n <= this.maxBytes;
  }

  add(index: number, data: Uint8Array, start: number, end: number): void {
    this.entries.push({ index: BigInt(index), data: this.copier.copy(data, start, end) });
    this.bytes += end - start;
  }

  dropAfter(index: number): void {
    while (this.entries.length > 0 && this.last > index) this.bytes -= this.entries.pop()!.data.length;
  }
}

/** The record a reader read past a batch's bound, kept for the next batch. */
export class HeldRecord {
  private index = 0;
  private data: Uint8Array | null = null;

  /** The index of the record held over, or null. */
  get heldIndex(): number | null {
    return this.data === null ? null : this.index;
  }

  /** Starts filling `target` with the record held over; false when it does not fit (the batch is done). */
  begin(target: BatchTarget): boolean {
    const data = this.data;
    if (data === null) return true;
    if (!target.fits(data.length)) return false;
    this.data = null;
    target.add(this.index, data, 0, data.length);
    return true;
  }

  /** Adds the record to `target`, or holds it over (false: the batch is done). */
  take(target: BatchTarget, index: number, buf: Uint8Array, start: number, end: number): boolean {
    if (target.fits(end - start)) {
      target.add(index, buf, start, end);
      return true;
    }
    this.index = index;
    this.data = new Uint8Array(buf.subarray(start, end)); // a copy: the reader's buffer is reused
    return false;
  }

  /** Forgets the record (the reader is closing). */
  clear(): void {
    this.data = null;
  }
}
