/**
 * etcd's `wal/encoder.go`: frames records onto a segment through the page writer, continuing the
 * CRC chain. Every frame reaches the page writer as two writes (length word, then record +
 * padding) because that split decides etcd's flush points.
 */
import type { IoBackend, WalFile } from '../io/types';
import type { Entry } from './codec';
import { type EncodedFrames, type RecordInput, encodeEntryFrames, encodeFrames, FRAME_SIZE_BYTES } from './frame';
import { PageWriter } from './page-writer';

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

  /** Encodes entry records through the one-copy fast path. Nothing is written on error. */
  encodeEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.feed(encodeEntryFrames(this.io, entries, this.crc));
  }

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
    const { bytes, frameEnds } = frames;
    let start = 0;
    for (const end of frameEnds) {
      this.pw.write(bytes.subarray(start, start + FRAME_SIZE_BYTES));
      this.pw.write(bytes.subarray(start + FRAME_SIZE_BYTES, end));
      start = end;
    }
    this.crc = frames.crc;
  }
}
