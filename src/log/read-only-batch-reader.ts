/**
 * A consumer's sequential reader in a read-only open (read-only.ts): the counterpart of
 * batch-reader.ts without the writer's segment index or window of recent records. It lists the
 * segments itself, keeps its decoder between batches and takes the records already in the read
 * buffer synchronously, copying them into shared chunks (an async-generator step and an
 * ArrayBuffer per record were most of a read-only consumer's cost; bench/README.md, Consumers).
 *
 * A decoder only hands out records that were durable when it was opened: bytes it buffered past
 * them may have been read while the writer was still writing them. For later records it is
 * reopened at the frame after the last record it gave (the spot), with the CRC chain there.
 */
import * as path from 'node:path';
import type { EntrySpan } from '../etcd/codec';
import type { Decoder } from '../etcd/decoder';
import { parseWalName, readWalNames } from '../etcd/segments';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { entryAt, type SequentialReader } from './batch-reader';
import { type BatchTarget, HeldRecord } from './batch-assembly';
import { closeSegment, nextLogRecord, openSegment } from './segment-reader';

/** The last segment whose name index is <= index (etcd's searchIndex), or 0. */
export function startSegment(names: readonly string[], index: number): number {
  let k = 0;
  for (let i = 0; i < names.length; i++) if (Number(parseWalName(names[i]!)!.index) <= index) k = i;
  return k;
}

/** Where the decoder stopped: segment `name`, the frame at `offset`, the CRC chain before it. */
interface Spot {
  name: string;
  offset: number;
  crc: number;
}

/** Fewer records than this to read: a small read buffer will do (a live consumer at the tail). */
const LIVE_RECORDS = 256;
const LIVE_BUFFER_BYTES = 64 * 1024;

export class ReadOnlyBatchReader implements SequentialReader {
  private names: string[] = [];
  private k = -1;
  private dec: Decoder | null = null;
  /** The decoder was opened at offset 0 (a segment read from its header). */
  private fromHeader = false;
  /** The durable index when the decoder was opened: it may hand out records up to here. */
  private openedDurable = 0;
  private spot: Spot | null = null;
  /** The segment the decoder reads (named in errors). */
  private segPath = '';
  /** A record read past the last batch's bound. */
  private readonly held = new HeldRecord();
  private readonly span: EntrySpan = { type: 0, index: 0, dataStart: 0, dataEnd: 0 };

  constructor(
    private readonly io: IoBackend,
    private readonly dir: string,
    private readonly bufferBytes: number,
    /** The next index this reader returns. */
    private next: number,
    /** The durable index now (records up to it are whole on disk). */
    private readonly durableIndex: () => number,
    /** Told of every batch read (the host's mean record size, for lagBytes). */
    private readonly seen: (records: number, bytes: number) => void,
  ) {}

  get position(): number {
    return this.held.heldIndex ?? this.next;
  }

  async read(target: BatchTarget, to: number, maxRecords: number): Promise<void> {
    if (!this.held.begin(target)) return;
    let read = 0;
    let readBytes = 0;
    try {
      while (target.count < maxRecords && this.next <= to) {
        if (this.dec !== null && this.next > this.openedDurable) await this.closeDecoder();
        const dec = this.dec ?? (await this.open(to));
        let more = nextLogRecord(dec);
        if (typeof more !== 'boolean') more = await more;
        if (!more) {
          await this.segmentEnded(dec);
          continue;
        }
        const span = this.span;
        if (!entryAt(dec, span, this.next, this.segPath)) continue;
        this.next++;
        read++;
        readBytes += span.dataEnd - span.dataStart;
        if (!this.held.take(target, span.index, dec.record.buf, span.dataStart, span.dataEnd)) break;
      }
    } finally {
      if (read > 0) this.seen(read, readBytes);
    }
  }

  /** Opens the decoder at the spot (or, without one, at the segment holding `next`). */
  private async open(to: number): Promise<Decoder> {
    let spot = this.spot;
    if (spot === null || this.names[this.k] !== spot.name) {
      this.names = await readWalNames(this.io, this.dir);
      const k = spot === null ? -1 : this.names.indexOf(spot.name);
      if (k < 0) {
        spot = null;
        this.k = startSegment(this.names, this.next);
      } else this.k = k;
    }
    const name = this.names[this.k];
    if (name === undefined) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.next} not found`, { file: this.dir });
    this.segPath = path.join(this.dir, name);
    try {
      this.dec = await openSegment(this.io, this.segPath, {
        offset: spot?.offset ?? 0,
        crc: spot?.crc ?? 0,
        last: true,
        bufferBytes: to - this.next < LIVE_RECORDS ? LIVE_BUFFER_BYTES : this.bufferBytes,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.next} is no longer in the log`, { file: this.dir });
      }
      throw err;
    }
    this.fromHeader = (spot?.offset ?? 0) === 0;
    this.openedDurable = Math.max(to, this.durableIndex());
    this.spot = null;
    return this.dec;
  }

  /**
   * The decoder found no further frame. Records up to what was durable at its open are whole on
   * disk, and `next` is one of them, so it is in a later segment: move there (listing again if
   * none is known); without one the log lost a durable record.
   */
  private async segmentEnded(dec: Decoder): Promise<void> {
    const name = this.names[this.k]!;
    if (this.fromHeader && this.k > 0 && dec.lastValidOffset === 0) {
      // A later segment without its header: damage, never a crash (its header is synced before
      // it is renamed into place). The same code and place as Log.open and `wal verify` give.
      throw new WalError(
        WalErrorCodes.CHAIN_MISMATCH,
        'the segment has no header: its first frame (the crc record) is zeroed, torn or missing',
        {
          file: path.join(this.dir, name),
          offset: 0,
        },
      );
    }
    await this.closeDecoder();
    if (this.k + 1 >= this.names.length) this.names = await readWalNames(this.io, this.dir);
    const k = this.names.indexOf(name);
    if (k < 0 || k + 1 >= this.names.length)
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${this.next} not found`, { file: path.join(this.dir, name) });
    this.k = k + 1;
    this.spot = { name: this.names[this.k]!, offset: 0, crc: 0 };
  }

  /** Closes the decoder, remembering where it stopped so the next open continues there. */
  private async closeDecoder(): Promise<void> {
    const dec = this.dec;
    if (dec === null) return;
    this.dec = null;
    this.spot = { name: this.names[this.k]!, offset: dec.lastValidOffset, crc: dec.crc };
    await closeSegment(dec);
  }

  close(): Promise<void> {
    this.held.clear();
    return this.closeDecoder();
  }
}
