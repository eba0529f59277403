/**
 * A read-only open of a live Log (`Log.open(dir, { readOnly: true })`): no writer lock, hosts
 * consumers in another thread or process. It learns the durable index from the writer's
 * `durable.tmp` (durable-file.ts), polled every `pollMs`, so new durable records are seen within
 * about that delay and an undurable record is never handed out. Segments are read sequentially
 * from the last position reached, through the same decoder as the writer's reads.
 */
import * as path from 'node:path';
import { readWalNames } from '../etcd/segments';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import type { Consumer, ConsumerInfo, ConsumerOptions } from './consumer';
import { ConsumerHost } from './consumer-host';
import { DURABLE_FILE, type DurableMark, readMarkSync } from './durable-file';
import { type EntrySpan, RecordType } from '../etcd/codec';
import type { EntriesRange, LogEntry, TailBatchOptions, TailOptions } from './log';
import { type DurableReads, followDurable, followDurableBatches, getDurable } from './read-only-reads';
import { checkMaxRecords } from './tail-batches';
import type { IndexArg } from '../index-arg';
import { readLogId } from './log-id';
import { ReadOnlyBatchReader, startSegment } from './read-only-batch-reader';
import { ReadOnlyLookup } from './read-only-lookup';
import { entryAt } from './batch-reader';
import { type Checkpoints, checkpointFor, maybeCheckpoint } from './segment-index';
import { closeSegment, nextLogRecord, openSegment } from './segment-reader';
import { lowestCutSince, readTruncations } from './truncation-history';

export interface ReadOnlyOptions {
  io: IoBackend;
  readBufferBytes: number;
  pollMs: number;
}

/** Where the last sequential read stopped: the frame of entry `index`, and the CRC before it. */
interface Resume {
  index: number;
  name: string;
  offset: number;
  crc: number;
}

/** A Log opened with `{ readOnly: true }`: reads, follows and hosts consumers; never writes a segment. */
export class ReadOnlyLog {
  readonly readOnly = true;
  private host!: ConsumerHost;
  private mark: DurableMark;
  private cuts: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private refreshing: Promise<void> | null = null;
  private resume: Resume | null = null;
  /**
   * Checkpoints in the segments this open has decoded, by name (segment-index.ts's rule, one per
   * 2 KiB): a read starts at the nearest one at or before its first index, not at its segment's
   * start (a get() at random indexes of a 64 MB segment decoded ~32 MB each). Dropped with
   * `resume` when the writer truncates, pruned when segments are removed.
   */
  private readonly seen = new Map<string, Checkpoints>();
  /** get()'s pread on a cached descriptor from those checkpoints (read-only-lookup.ts). */
  private readonly lookup: ReadOnlyLookup;
  private recordBytes = 0;
  private records = 0;

  private constructor(
    readonly dir: string,
    readonly id: string,
    private readonly io: IoBackend,
    private readonly markFile: WalFile,
    private readonly opts: ReadOnlyOptions,
    mark: DurableMark,
  ) {
    this.mark = mark;
    this.lookup = new ReadOnlyLookup(io, dir, this.seen);
  }

  static async open(dir: string, opts: ReadOnlyOptions): Promise<ReadOnlyLog> {
    const io = opts.io;
    const names = await readWalNames(io, dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    if (names.length === 0) throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'no log in directory', { file: dir });
    const id = await readLogId(io, dir);
    let markFile: WalFile | null = null;
    try {
      markFile = await io.open(path.join(dir, DURABLE_FILE), { read: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (id === null || markFile === null) {
      await markFile?.close();
      throw new WalError(
        WalErrorCodes.FILE_NOT_FOUND,
        'this log has not been opened for writing by a version that publishes its durable index; open it for writing once',
        { file: dir },
      );
    }
    try {
      const mark = await readMarkRetrying(io, markFile);
      const log = new ReadOnlyLog(dir, id, io, markFile, opts, mark);
      log.cuts = await readTruncations(io, dir);
      log.host = await ConsumerHost.create(log.hosted());
      log.timer = setInterval(() => void log.refresh(), opts.pollMs);
      log.timer.unref();
      return log;
    } catch (err) {
      await markFile.close();
      throw err;
    }
  }

  /** The durable index as far as this reader may trust it (a cut not yet published lowers it). */
  private durableN(): number {
    const low = lowestCutSince(this.cuts, this.mark.cuts);
    return low === null ? this.mark.durable : Math.min(this.mark.durable, low);
  }

  get firstIndex(): bigint {
    return BigInt(this.mark.first);
  }
  /** The last durable record (a read-only open sees nothing beyond it). */
  get lastIndex(): bigint {
    return BigInt(this.durableN());
  }
  get durableIndex(): bigint {
    return BigInt(this.durableN());
  }

  /** Reads the writer's mark again; on a new cut, adopts it (telling the consumers) before anything else. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    if (this.closed) return;
    const m = readMarkSync(this.io, this.markFile);
    if (m === null || m.seq === this.mark.seq) return; // unchanged, or caught mid-write: next poll
    if (m.cuts > this.cuts.length) {
      const cuts = await readTruncations(this.io, this.dir);
      this.resume = null;
      this.seen.clear();
      this.lookup.reset();
      this.cuts = cuts;
      this.host.adoptCuts(cuts);
    }
    if (m.first > this.mark.first) this.lookup.dropBefore(m.first);
    this.mark = m;
    this.host.onDurable();
  }

  /** Entries in [from, to], both clamped to what is durable. */
  async *entries(range: EntriesRange = {}): AsyncGenerator<LogEntry, void, undefined> {
    const from = Math.max(range.from === undefined ? 0 : Number(range.from), this.mark.first);
    const to = Math.min(range.to === undefined ? this.durableN() : Number(range.to), this.durableN());
    yield* this.read(from, to);
  }

  /** Follows the durable records as Log.tail does (read-only-reads.ts). */
  tail(opts: TailOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    return followDurable(this.durableReads(), opts);
  }

  /** Follows the durable records a batch at a time, as Log.tailBatches does. */
  tailBatches(opts: TailBatchOptions = {}): AsyncGenerator<LogEntry[], void, undefined> {
    const max = checkMaxRecords(opts.maxRecords);
    return followDurableBatches(this.durableReads(), opts, max);
  }

  /** The data of durable entry `index` (a copy); ERR_WAL_OUT_OF_RANGE outside [firstIndex, durableIndex]. */
  get(index: IndexArg): Promise<Uint8Array> {
    return getDurable(this.durableReads(), index);
  }

  /** Built once: a get() made it anew, and its closures showed in a get's profile. */
  private reads: DurableReads | null = null;

  private durableReads(): DurableReads {
    return (this.reads ??= this.makeDurableReads());
  }

  private makeDurableReads(): DurableReads {
    const h = this.hosted();
    return {
      ...h,
      read: (from, to) => this.read(from, to),
      lookup: (index) => this.lookup.get(index),
      truncationsSince: (s) => this.host.truncationsSince(s),
      waitDurable: (i, t, s) => this.host.waitDurable(i, t, s),
    };
  }

  private async *read(from: number, to: number): AsyncGenerator<LogEntry, void, undefined> {
    if (from > to) return;
    let names = await readWalNames(this.io, this.dir);
    this.lookup.learnNames(names);
    let k = startSegment(names, from);
    // Where the last read stopped helps only inside the segment that holds `from`: from an earlier
    // one, the read would decode every segment in between.
    const r = this.resume !== null && this.resume.index <= from && names.indexOf(this.resume.name) === k ? this.resume : null;
    let next = from;
    // Live reads (a few records at the tail) do not need a full read buffer.
    const bufferBytes = to - from < 256 ? 64 * 1024 : this.opts.readBufferBytes;
    let startAt: { offset: number; crc: number } | null = r;
    if (this.seen.size > names.length) for (const name of [...this.seen.keys()]) if (!names.includes(name)) this.seen.delete(name);
    const known = k >= 0 && k < names.length ? this.seen.get(names[k]!) : undefined;
    if (known !== undefined) {
      const cp = checkpointFor(known, from);
      if (cp.offset > (startAt?.offset ?? 0)) startAt = cp;
    }
    while (next <= to) {
      if (k >= names.length) this.lookup.learnNames((names = await readWalNames(this.io, this.dir)));
      if (k >= names.length || k < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} not found`, { file: this.dir });
      const name = names[k]!;
      let dec;
      try {
        dec = await openSegment(this.io, path.join(this.dir, name), {
          offset: startAt?.offset ?? 0,
          crc: startAt?.crc ?? 0,
          last: true,
          bufferBytes,
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} is no longer in the log`, { file: this.dir });
        }
        throw err;
      }
      startAt = null;
      const span: EntrySpan = { type: 0, index: 0, dataStart: 0, dataEnd: 0 };
      let seen = this.seen.get(name);
      if (seen === undefined) this.seen.set(name, (seen = { cpIndex: [], cpOffset: [], cpCrc: [] }));
      try {
        let before = dec.crc;
        const rec = dec.record;
        for (;;) {
          let more = nextLogRecord(dec);
          if (typeof more !== 'boolean') more = await more;
          if (!more) break;
          const crcBefore = before;
          before = dec.crc;
          // In place (no object per entry): most entries a get decodes are only passed over.
          const isNext = entryAt(dec, span, next, name);
          if (rec.type !== RecordType.Entry) continue;
          maybeCheckpoint(seen, span.index, rec.offset, crcBefore);
          if (!isNext) continue;
          const data = rec.buf.subarray(span.dataStart, span.dataEnd);
          this.resume = { index: next, name, offset: rec.offset, crc: crcBefore };
          this.records++;
          this.recordBytes += data.length;
          yield { index: BigInt(next), data };
          next++;
          if (next > to) return;
        }
        if (k > 0 && dec.lastValidOffset === 0) {
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
      } finally {
        await closeSegment(dec);
      }
      k++;
    }
  }

  private hosted() {
    return {
      dir: this.dir,
      io: this.io,
      id: this.id,
      firstIndex: () => this.mark.first,
      durableIndex: () => this.durableN(),
      openReader: (from: number) =>
        new ReadOnlyBatchReader(
          this.io,
          this.dir,
          this.opts.readBufferBytes,
          from,
          () => this.durableN(),
          (records, bytes) => {
            this.records += records;
            this.recordBytes += bytes;
          },
        ),
      // No segment index here: an estimate from the mean record size read so far.
      lagBytes: (after: number) =>
        Math.round(Math.max(0, this.durableN() - after) * (this.records > 0 ? this.recordBytes / this.records : 0)),
      closed: () => this.closed,
      // A poll already under way may have read the mark before our bytes: read it once more after.
      settle: async () => {
        await this.refreshing?.catch(() => undefined);
        await this.refresh();
      },
    };
  }

  /** Opens the durable consumer `name` here (see Log.consumer). */
  consumer(name: string, opts?: ConsumerOptions): Promise<Consumer> {
    if (this.closed) return Promise.reject(new WalError(WalErrorCodes.CLOSED, 'the log is closed', { file: this.dir }));
    return this.host.consumer(name, opts);
  }

  consumers(): Promise<ConsumerInfo[]> {
    return this.host.list();
  }

  deleteConsumer(name: string): Promise<void> {
    return this.host.delete(name);
  }

  /** Appending is for the writer: always ERR_WAL_READ_ONLY. */
  append(_data: Uint8Array | string): Promise<bigint> {
    return Promise.reject(new WalError(WalErrorCodes.READ_ONLY, 'the log was opened read-only', { file: this.dir }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.host.closeAll();
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.refreshing?.catch(() => undefined);
    this.host.onDurable();
    await this.lookup.close();
    await this.markFile.close();
  }
}

/** The mark, retried briefly if caught mid-write. */
async function readMarkRetrying(io: IoBackend, f: WalFile): Promise<DurableMark> {
  for (let i = 0; i < 50; i++) {
    const m = readMarkSync(io, f);
    if (m !== null) return m;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new WalError(WalErrorCodes.CONSUMER_CORRUPT, 'the durable-index file is damaged', { file: f.path, offset: 0 });
}
