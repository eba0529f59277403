/**
 * etcd's `wal/encoder.go`: frames records onto a segment through the page writer, continuing the
 * CRC chain. Every frame reaches the page writer as two writes (length word, then record +
 * padding) because that split decides etcd's flush points.
 */
import type { IoBackend, WalFile } from '../io/types';
import type { Entry } from './codec';
import { type EncodedFrames, type RecordInput, encodeEntryFrames, encodeFrames } from './frame';
import { PageWriter } from './page-writer';

const MIN_POOLED = 256 * 1024;
const MAX_POOLED = 4 * 1024 * 1024;
const POOL_SIZE = 4;

/** An encoder bound to one open segment, starting at `offset` with running CRC `crc`. */
export class Encoder {
  /** Running CRC-32C after the last encoded record. */
  crc: number;
  readonly pw: PageWriter;

  constructor(
    private readonly io: IoBackend,
    file: WalFile,
    crc: number,
    offset: number,
  ) {
    this.crc = crc >>> 0;
    this.pw = new PageWriter(file, offset);
  }

  /** Encodes generic records (metadata, state, crc, snapshot). Nothing is written on error. */
  encode(records: readonly RecordInput[]): void {
    this.feed(encodeFrames(this.io, records, this.crc));
  }

  /**
   * Encodes entry records through the one-copy fast path, then `trailing` records into the same
   * buffer (one contiguous write per Save). Nothing is written on error.
   */
  encodeEntries(entries: readonly Entry[], trailing: readonly RecordInput[] = []): void {
    if (entries.length === 0) {
      if (trailing.length > 0) this.encode(trailing);
      return;
    }
    this.feed(encodeEntryFrames(this.io, entries, this.crc, this.alloc, trailing));
  }

  /**
   * Frame buffers are recycled once the page writer no longer refers to them: allocating (and
   * zero-filling) a fresh buffer per Save cost more than encoding it.
   */
  private readonly pool: Uint8Array[] = [];
  private readonly alloc = (size: number): Uint8Array => {
    for (const b of this.pool) {
      if (b.length >= size && !this.pw.references(b.buffer)) return b;
    }
    if (size > MAX_POOLED) return new Uint8Array(size);
    const b = new Uint8Array(Math.max(size, MIN_POOLED));
    if (this.pool.length >= POOL_SIZE) this.pool.shift();
    this.pool.push(b);
    return b;
  };

  /** Writes what etcd would have written by now (one call). */
  commit(datasync = false): Promise<void> {
    return this.pw.commit(datasync);
  }

  /** etcd `encoder.flush` + the write it triggers, optionally with fdatasync. */
  async flush(datasync = false): Promise<void> {
    this.pw.flush();
    await this.pw.commit(datasync);
  }

  private feed(frames: EncodedFrames): void {
    this.pw.writeFrames(frames.bytes, frames.frameEnds);
    this.crc = frames.crc;
  }
}
