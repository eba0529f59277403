/**
 * Log: the ingestion API on the etcd WAL format. Many producers `append` concurrently; appends that
 * arrive while an fdatasync is in flight are coalesced and written after its bytes at once (pipelined),
 * and one fdatasync covers them when it completes, so the cost of a sync is shared (batch-writer.ts).
 *
 * This file is the façade; the parts: append-queue.ts (queue, backpressure), batch-writer.ts (the
 * group-commit loop), segment-cut.ts, durability-waiters.ts, log-reads.ts, truncation.ts, log-open.ts,
 * over the shared state in log-core.ts. See docs/log.md for the design and the measurements behind it.
 */
import { EventEmitter } from 'node:events';
import { WalError, WalErrorCodes } from '../errors';
import { indexToNumber as toIndex, type IndexArg } from '../index-arg';
import { abortError, throwIfAborted } from './abort';
import { logStats } from './log-stats';
import type { IoBackend } from '../io/types';
import type { Lease } from '../lock/lease';
import { resolveLogOptions, type LogOptions, type ResolvedLogOptions } from './options';
import { AppendQueue } from './append-queue';
import { BatchWriter } from './batch-writer';
import { LogCore } from './log-core';
import { openTail, withLease, type OpenedTail } from './log-open';
import { LogReads } from './log-reads';
import { cutSegment } from './segment-cut';
import { Truncation } from './truncation';
import type { Consumer, ConsumerInfo, ConsumerOptions } from './consumer';
import { ConsumerHost, type HostedLog } from './consumer-host';
import { segmentBytesAfter } from './lag';
import { ensureLogId } from './log-id';
import { BatchReader } from './batch-reader';
import { DurablePublisher } from './durable-file';
import { ReadOnlyLog } from './read-only';
import { Retention, type RetainedLog } from './retention';
import type { AppendOptions, EntriesRange, LogEntry, LogStats, TailBatchOptions, TailOptions, WaitOptions } from './log-types';

export type {
  AppendOptions,
  EntriesRange,
  LogEntry,
  LogStats,
  LogStatsJSON,
  SlowSyncEvent,
  TailBatchOptions,
  TailOptions,
  WaitOptions,
} from './log-types';

/**
 * A durable, append-only log of records in an etcd-format WAL directory (readable by etcd's own
 * `ReadAll` and `wal dump`). One writer per directory, enforced by a lock on the tail segment.
 *
 * Events: 'slowSync' ({@link SlowSyncEvent}) when one write+fdatasync exceeds `slowSyncMs`;
 * 'fsync' (same shape) after every write+fdatasync or fdatasync (metrics use it);
 * 'error' is never emitted — failures reject the affected promises.
 */
export class Log extends EventEmitter {
  private readonly core: LogCore;
  private readonly queue: AppendQueue;
  private readonly batches: BatchWriter;
  private readonly reads: LogReads;
  private readonly truncation: Truncation;
  private timer: NodeJS.Timeout | null = null;
  private syncQueued = false;
  private logId = '';
  private host: ConsumerHost | null = null;
  private publisher: DurablePublisher | null = null;
  private retention: Retention | null = null;
  /** Retention with policy 'block' holds appends (they queue as for a full queue). */
  private retentionHold = false;
  /** A torn tail repaired at open: the `.broken` copy kept. */
  private readonly repaired: string | null;

  private constructor(
    /** The directory holding the segments. */
    readonly dir: string,
    private readonly opts: ResolvedLogOptions,
    private readonly io: IoBackend,
    tail: OpenedTail,
    private readonly lease: Lease,
  ) {
    super();
    const core = new LogCore(dir, opts, io, tail.segments, tail.writer, tail.preparer, tail.scan, this);
    this.core = core;
    this.repaired = tail.repaired;
    core.onDurable = () => {
      this.publish();
      this.host?.onDurable();
    };
    this.queue = new AppendQueue(
      opts.maxQueuedBytes,
      opts.onQueueFull,
      () => this.batches.kick(),
      () => this.retentionHold && core.state === 'open',
    );
    this.batches = new BatchWriter(core, this.queue, lease, {
      cut: () => cutSegment(core, (seq) => this.retention?.segmentClosed(seq)),
      fail: (err) => this.fail(err),
      writtenNotDurable: () => this.timer?.ref(),
    });
    this.reads = new LogReads(core);
    this.truncation = new Truncation(
      core,
      this.reads,
      (run) => this.batches.exclusive(run),
      () => this.host!,
      () => this.publish(true),
    );
    if (typeof opts.syncPolicy === 'object') {
      this.timer = setInterval(() => this.intervalSync(), opts.syncPolicy.intervalMs);
      this.timer.unref();
    }
  }

  /**
   * Opens the log in `dir`, creating it (mode 0700, first segment as etcd's `Create` writes it)
   * unless `mustExist`. A torn tail (a crash mid-write) is repaired as etcd's `Repair` does, keeping
   * a `.broken` copy; corruption before the tail is an error. Fails with ERR_WAL_LOCKED when another
   * writer holds the directory: this library on either backend (the directory lease,
   * src/lock/lease.ts), or etcd (through the native OFD lock); a refused open changes nothing.
   */
  static open(dir: string, options: LogOptions & { readOnly: true }): Promise<ReadOnlyLog>;
  static open(dir: string, options?: LogOptions): Promise<Log>;
  static async open(dir: string, options?: LogOptions): Promise<Log | ReadOnlyLog> {
    try {
      const o = resolveLogOptions(options);
      if (options?.readOnly === true) {
        return await ReadOnlyLog.open(dir, { io: o.io, readBufferBytes: o.readBufferBytes, pollMs: o.pollMs });
      }
      return await withLease(dir, o, (lease) => openTail(dir, o, (tail) => Log.start(dir, o, tail, lease)));
    } catch (err) {
      // An OS failure (EACCES, EMFILE, EROFS...) is reported like every other: a WalError with its cause.
      if (err instanceof WalError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new WalError(WalErrorCodes.IO, `cannot open the log: ${e?.message ?? String(err)}`, { file: e?.path ?? dir, cause: err });
    }
  }

  private static async start(dir: string, opts: ResolvedLogOptions, tail: OpenedTail, lease: Lease): Promise<Log> {
    const log = new Log(dir, opts, opts.io, tail, lease);
    await log.truncation.restoreFront();
    log.logId = await ensureLogId(opts.io, dir);
    log.host = await ConsumerHost.create(log.hosted());
    log.publisher = await DurablePublisher.open(opts.io, dir);
    log.publish(true);
    if (opts.retention !== null) {
      log.retention = new Retention(log.retained(), opts.retention);
      log.retention.schedule();
    }
    // The next segment's zero-fill starts last: begun with the open, its writes made the log-id
    // file's fdatasync above wait 8 ms behind them (bench/README.md, "Open and close").
    log.core.preparer.start();
    return log;
  }

  // ------------------------------------------------------------------------------------------
  // Appending (append-queue.ts, batch-writer.ts)

  /**
   * Appends one record. Resolves with its index once it is durable (syncPolicy 'always') or
   * written to the OS (interval / 'none'; see `durable()`). Rejects with ERR_WAL_QUEUE_FULL when
   * the queue is full and `onQueueFull` is 'reject'; ERR_WAL_CLOSED after close; ERR_WAL_FAILED
   * after a write or fdatasync failed (the log then refuses everything until reopened).
   * `data` is not copied (a copy would cost more than the append): do not modify it until the
   * promise settles — what it holds when its batch is written is what is stored.
   */
  append(data: Uint8Array | string, options?: AppendOptions): Promise<bigint> {
    if (this.core.state !== 'open') return Promise.reject(this.core.unusable());
    if (options?.signal?.aborted === true) return Promise.reject(abortError(options.signal, 'append'));
    return this.queue.append(data, options?.signal);
  }

  /** Appends records as consecutive entries; resolves with the index of the last one. */
  appendBatch(datas: readonly (Uint8Array | string)[], options?: AppendOptions): Promise<bigint> {
    if (this.core.state !== 'open') return Promise.reject(this.core.unusable());
    if (options?.signal?.aborted === true) return Promise.reject(abortError(options.signal, 'appendBatch'));
    return this.queue.appendBatch(datas, options?.signal);
  }

  /**
   * Makes every record appended so far durable (writes what is queued, then fdatasync) and
   * resolves with the durable index. Under 'always' it only waits for the queued appends.
   */
  sync(): Promise<bigint> {
    const core = this.core;
    return this.batches.exclusive(async () => {
      if (core.durableN < core.written) {
        const target = core.written;
        await core.timedSync(core.writer.file);
        core.durableN = target;
        core.notifyDurable();
      }
      if (core.durableN >= core.written) this.timer?.unref();
      return BigInt(core.durableN);
    });
  }

  private intervalSync(): void {
    if (this.syncQueued || this.core.state !== 'open' || this.core.durableN >= this.core.written) return;
    this.syncQueued = true;
    this.sync().then(
      () => (this.syncQueued = false),
      () => (this.syncQueued = false),
    );
  }

  /**
   * Resolves once entry `index` (default: the last one written) is durable. Under 'none' this
   * requests a sync; under an interval it waits for the next one.
   */
  async durable(index?: IndexArg, options?: WaitOptions): Promise<void> {
    const core = this.core;
    const target = index === undefined ? core.written : toIndex('index', index);
    const signal = options?.signal;
    throwIfAborted(signal, 'durable');
    if (core.durableN >= target) return;
    if (this.opts.syncPolicy === 'none') {
      await this.sync();
      if (core.durableN >= target) return;
    }
    await core.waitDurable(target, signal, 'durable');
    if (core.durableN < target) throw core.unusable();
  }

  // ------------------------------------------------------------------------------------------
  // Indexes

  /** Index of the first entry readable (1 for a new log; moves with truncateFront). */
  get firstIndex(): bigint {
    return BigInt(this.core.firstIndexN());
  }

  /** Index of the last entry written (visible to readers); firstIndex - 1 when empty. */
  get lastIndex(): bigint {
    return BigInt(this.core.written);
  }

  /** Index of the last entry known durable (fdatasync'd). */
  get durableIndex(): bigint {
    return BigInt(this.core.durableN);
  }

  // ------------------------------------------------------------------------------------------
  // Reading (log-reads.ts)

  /**
   * Streams entries in [from, to] (defaults: firstIndex, lastIndex at the first `next()`), segment by
   * segment; memory is bounded by the read buffer, not by the log. Entries appended later are not
   * included (see `tail()`). Truncating concurrently may end the iteration with an error.
   */
  entries(range: EntriesRange = {}): AsyncGenerator<LogEntry, void, undefined> {
    return this.reads.entries(range);
  }

  /**
   * Follows the log: yields entries from `from` (default: the next one to become durable) as they
   * become durable, waiting for new ones; ends when the log closes. Throws ERR_WAL_OUT_OF_RANGE if
   * truncateBack removes entries this follower already yielded.
   */
  tail(opts: TailOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    return this.reads.tail(opts);
  }

  /**
   * `tail()` a batch at a time: each step yields every record that is durable and ready now (up to
   * `maxRecords`, default 10,000) as one array, behind one promise. The same records, order, waits,
   * errors and end as `tail()`; what a live follower costs the producers is less (bench/README.md).
   * The data are views the log never writes again, as `tail()`'s.
   *
   * @example
   * for await (const batch of log.tailBatches()) {
   *   for (const { index, data } of batch) handle(index, data);
   * }
   */
  tailBatches(opts: TailBatchOptions = {}): AsyncGenerator<LogEntry[], void, undefined> {
    return this.reads.tailBatches(opts);
  }

  /** The data of entry `index` (a copy). ERR_WAL_OUT_OF_RANGE when it is not in [firstIndex, lastIndex]. */
  get(index: IndexArg): Promise<Uint8Array> {
    return this.reads.get(index);
  }

  private checkReadable(): void {
    if (this.core.state === 'closed') throw this.core.unusable();
  }

  // ------------------------------------------------------------------------------------------
  // Consumers (src/log/consumer*.ts; docs/consumers.md)

  /** The log's stable random id (32 hex digits), kept across reopens and truncations. */
  get id(): string {
    return this.logId;
  }

  /** Opens the durable consumer `name`, creating it at `start` if it does not exist. */
  consumer(name: string, opts?: ConsumerOptions): Promise<Consumer> {
    if (this.core.state !== 'open') return Promise.reject(this.core.unusable());
    return this.host!.consumer(name, opts);
  }

  /** Every consumer of this log directory: position, lag, last commit. */
  consumers(): Promise<ConsumerInfo[]> {
    this.checkReadable();
    return this.host!.list();
  }

  /** Deletes a consumer that is not open anywhere (ERR_WAL_LOCKED otherwise). */
  deleteConsumer(name: string): Promise<void> {
    this.checkReadable();
    return this.host!.delete(name);
  }

  private hosted(): HostedLog {
    const core = this.core;
    return {
      dir: this.dir,
      writer: true,
      io: this.io,
      id: this.logId,
      firstIndex: () => core.firstIndexN(),
      durableIndex: () => core.durableN,
      lagBytes: (after) => segmentBytesAfter(core.segments, after),
      openReader: (from) => new BatchReader(this.io, core.files, () => core.segments, this.opts.readBufferBytes, from, core),
      closed: () => core.ended,
      onCut: (to, cuts) => this.publisher?.publish(Math.min(core.durableN, to), core.firstIndexN(), cuts, true),
      onCommit: () => this.retention?.committed(),
    };
  }

  private retained(): RetainedLog {
    const core = this.core;
    return {
      dir: this.dir,
      segments: () => core.segments,
      lastIndex: () => core.written,
      firstIndex: () => core.firstIndexN(),
      consumers: () => this.host!,
      truncateFront: (index, o) => this.truncateFront(index, o),
      setHold: (on) => {
        this.retentionHold = on;
        if (!on) {
          this.queue.admitBlocked();
          this.batches.kick();
        }
      },
      emit: (ev) => this.emit('retention', ev),
      isOpen: () => core.state === 'open',
    };
  }

  /** Tells read-only opens how far the log is durable (durable-file.ts); a 40-byte page-cache write. */
  private publish(now = false): void {
    if (this.publisher !== null) this.publisher.publish(this.core.durableN, this.core.firstIndexN(), this.host!.cutCount, now);
  }

  // ------------------------------------------------------------------------------------------
  // Truncation (truncation.ts)

  /**
   * Drops entries below `index` (they become unreadable; firstIndex = index) the etcd way: a
   * snapshot record {index-1, term} is written and synced, then every whole segment that etcd's
   * `Open` at that snapshot would not select is unlinked, then the directory is fsynced.
   */
  truncateFront(index: IndexArg, opts: { force?: boolean } = {}): Promise<void> {
    return this.truncation.truncateFront(index, opts);
  }

  /**
   * Drops entries after `index` (lastIndex = index; the next append gets index + 1). Physically:
   * later segments are unlinked and the bytes from entry index+1 on are overwritten with zeros and
   * synced, so neither this Log nor etcd's ReadAll can see them again, even after a reopen.
   */
  truncateBack(index: IndexArg): Promise<void> {
    return this.truncation.truncateBack(index);
  }

  // ------------------------------------------------------------------------------------------
  // Stats, failure, close

  /** Counters, fsync latency percentiles and the state of the queue. */
  stats(): LogStats {
    return logStats(this.core, this.queue, this.repaired, this.retention);
  }

  /** A write or sync failed: after fsync errors the page cache cannot be trusted, so stop. */
  private fail(err: unknown): void {
    const core = this.core;
    if (core.state === 'failed') return;
    core.state = 'failed';
    // A lost lease is reported as what it is: another writer holds the directory now.
    const failure =
      err instanceof WalError && err.code === WalErrorCodes.LOCKED
        ? err
        : new WalError(WalErrorCodes.FAILED, `the log failed and refuses further writes: ${String((err as Error)?.message ?? err)}`, {
            file: this.dir,
            cause: err,
          });
    core.failure = failure;
    core.recent.clear();
    this.queue.rejectAll(failure);
    this.batches.rejectAll(failure);
    core.waiters.wakeAll();
  }

  /**
   * Writes and syncs everything appended, then closes the files and releases the lock. Appends
   * after close() reject with ERR_WAL_CLOSED; followers (`tail()`) end.
   */
  close(): Promise<void> {
    this.core.closePromise ??= this.doClose();
    return this.core.closePromise;
  }

  /** `await using log = await Log.open(dir)`: closes the log when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async doClose(): Promise<void> {
    const core = this.core;
    await this.retention?.close();
    this.retentionHold = false;
    this.queue.admitBlocked();
    await this.host?.closeAll();
    if (core.state === 'open') {
      core.state = 'closing';
      try {
        while (this.queue.blockedCount > 0 || this.queue.length > 0) await this.batches.exclusive(async () => undefined);
        await this.sync();
      } catch {
        // The failure was reported to the appends; still release the files below.
      }
    }
    if (this.timer !== null) clearInterval(this.timer);
    core.state = core.state === 'failed' ? 'failed' : 'closed';
    core.recent.clear();
    core.waiters.wakeAll();
    this.host?.onDurable();
    try {
      await core.files.close();
      await this.publisher?.close();
      await core.preparer.close();
      await core.writer.file.close();
    } finally {
      await this.lease.release(); // even after a failed close: this process must not look like the holder
    }
  }
}
