/**
 * The group-commit loop: appends that arrive while a write+fdatasync is in flight are coalesced
 * into the next batch, written with one `io` call, so the cost of a sync is shared. Exclusive
 * operations (sync, truncation, close) run alone, once every append accepted before them is written.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { Lease } from '../lock/lease';
import type { AppendQueue, PendingBatch } from './append-queue';
import { uvarintBytes } from '../codec/varint';
import type { LogCore } from './log-core';
import { batchCheckpoints, type SegmentInfo } from './segment-index';

type Reject = (err: unknown) => void;

interface Op {
  /** Run once this many appends (counted since open) have been written. */
  barrier: number;
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: Reject;
}

/** Errors of an exclusive operation that refuse it without failing the log. */
const NON_FATAL_OP_ERRORS = new Set<string>([
  WalErrorCodes.OUT_OF_RANGE,
  WalErrorCodes.INVALID_ARGUMENT,
  WalErrorCodes.CONSUMER_UNCOMMITTED,
  WalErrorCodes.CONSUMER_CORRUPT,
]);

/** A batch written into the tail (entries first..last, ending at file offset `end`), awaiting its sync. */
interface Written {
  batch: PendingBatch;
  first: number;
  last: number;
  end: number;
}

/** What the batch writer asks of the rest of the log. */
export interface BatchWriterHooks {
  /** Cuts the full tail segment (segment-cut.ts). */
  cut(): Promise<void>;
  /** A write or sync failed: the log stops. */
  fail(err: unknown): void;
  /** Records were written but are not durable yet (interval / 'none'). */
  writtenNotDurable(): void;
}

export class BatchWriter {
  private ops: Op[] = [];
  private scheduled = false;
  private running = false;
  /** The fdatasync in flight (settles after its appends resolved), or null. */
  private syncing: Promise<void> | null = null;
  /** Batches written while it runs: the next sync covers them. */
  private next: Written[] = [];
  private nextBytes = 0;
  /** Last index staged, while a sync is in flight. */
  private staged = 0;
  private readonly syncEach: boolean;
  private readonly termBytes: Uint8Array;

  constructor(
    private readonly core: LogCore,
    private readonly queue: AppendQueue,
    private readonly lease: Lease,
    private readonly hooks: BatchWriterHooks,
  ) {
    this.syncEach = core.opts.syncPolicy === 'always';
    this.termBytes = uvarintBytes(core.opts.term);
  }

  /** Schedules the loop (records were queued or an operation is waiting). */
  kick(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate, not a microtask: producers resumed by the last batch get to append first.
    setImmediate(this.loop);
  }

  /** Queues `run` to execute alone, after every append accepted so far is written. */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.core.ended) return Promise.reject(this.core.unusable());
    return new Promise<T>((resolve, reject) => {
      this.ops.push({ barrier: this.queue.accepted, run, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** The log failed: every queued operation rejects with `failure`. */
  rejectAll(failure: WalError): void {
    for (const op of this.ops) op.reject(failure);
    this.ops = [];
  }

  private readonly loop = (): void => {
    this.scheduled = false;
    if (this.running) return;
    this.running = true;
    this.step().then(
      () => {
        this.running = false;
        if (this.core.state !== 'failed' && (this.ops.length > 0 || (this.queue.length > 0 && this.hasRoom()))) this.kick();
      },
      (err: unknown) => {
        this.running = false;
        this.hooks.fail(err);
      },
    );
  };

  /** One batch, or the next exclusive operation once every append before it is written. */
  private async step(): Promise<void> {
    this.lease.assertHeld(); // a clock compare; a lost lease stops every write from here on
    const op = this.ops[0];
    const queue = this.queue;
    if (op !== undefined && queue.taken >= op.barrier) {
      // Alone means alone: every batch before it is durable (or the log failed) before it runs.
      await this.drain();
      this.ops.shift();
      try {
        op.resolve(await op.run());
      } catch (err) {
        op.reject(err);
        if (!(err instanceof WalError && NON_FATAL_OP_ERRORS.has(err.code))) {
          throw err;
        }
      }
      return;
    }
    const available = queue.length;
    const limit = op === undefined ? available : Math.min(available, op.barrier - queue.taken);
    if (limit <= 0) return;
    if (!this.hasRoom()) {
      await this.syncing; // its completion makes room and kicks the loop again
      return;
    }
    const core = this.core;
    if (core.writer.pos >= core.opts.segmentSize) {
      await this.drain();
      await this.hooks.cut();
    }
    if (this.syncEach && !core.writer.direct) await this.writePipelined(queue.nextBatch(limit, this.batchBytes()));
    else await this.writeBatch(queue.nextBatch(limit, core.opts.maxBatchBytes));
  }

  // ---------------------------------------------------------------------------------------------
  // Pipelined group commit (syncPolicy 'always', buffered tail): while one fdatasync is in flight,
  // the next batches are encoded and written (not synced) after its bytes; when it completes, one
  // fdatasync for all of them starts at once, then the completed sync's appends resolve. Appends
  // resolve in index order and only once a sync that started after their write has completed.

  /** Can another batch be taken now? While a sync is in flight, the writes for the next are bounded. */
  private hasRoom(): boolean {
    return this.syncing === null || this.nextBytes < this.batchBytes();
  }

  /** Bytes one sync may cover: past about 1 MiB a sync costs more than sharing it saves (bench/README.md). */
  private batchBytes(): number {
    return Math.min(this.core.opts.maxBatchBytes, this.core.opts.maxSyncBytes);
  }

  /** Encodes `batch` (entries from `first`) after what `seg` holds, adding its checkpoints. */
  private stage(seg: SegmentInfo, batch: PendingBatch, first: number): void {
    const writer = this.core.writer;
    const cps = batchCheckpoints(seg, writer.pos);
    writer.stageEntries(batch.datas, batch.from, batch.count, batch.bytes, first, this.termBytes, cps);
  }

  private async writePipelined(batch: PendingBatch): Promise<void> {
    const writer = this.core.writer;
    const first = this.lastStaged() + 1;
    const seg = this.core.tailSegment;
    this.stage(seg, batch, first);
    this.core.recent.add(batch.datas, batch.from, batch.count, first);
    const w: Written = { batch, first, last: first + batch.count - 1, end: 0 };
    this.staged = w.last;
    if (this.syncing === null) {
      // Nothing in flight: write and fdatasync in one job (one hop, on the tail's own thread).
      const io = writer.submit(true);
      w.end = writer.pos;
      this.startSync([w], io);
      return;
    }
    const io = writer.submit(false);
    w.end = writer.pos;
    this.nextBytes += batch.bytes;
    // Errors surface here and fail the log; no sync then resolves these appends.
    await io;
    // Only a write that has completed may be covered by the next sync to start.
    this.next.push(w);
    if (this.syncing === null) this.startNextSync();
  }

  private startNextSync(): void {
    const more = this.next;
    this.next = [];
    this.nextBytes = 0;
    this.startSync(more, this.core.writer.syncWritten());
  }

  /** Index of the last entry staged for writing (the last written when nothing is in flight). */
  private lastStaged(): number {
    return this.syncing === null ? this.core.written : this.staged;
  }

  private startSync(covers: Written[], io: Promise<void>): void {
    const t0 = process.hrtime.bigint();
    this.syncing = io.then(
      () => this.synced(covers, t0),
      (err: unknown) => {
        this.syncing = null;
        this.hooks.fail(err);
      },
    );
  }

  /** The sync covering `covers` completed: start the next one, then resolve what this one made durable. */
  private synced(covers: Written[], t0: bigint): void {
    const core = this.core;
    this.syncing = null;
    if (core.state === 'failed') return; // an earlier write failed: these appends were rejected
    const micros = Number(process.hrtime.bigint() - t0) / 1000;
    if (this.next.length > 0) this.startNextSync();
    const c = core.counters;
    const seg = core.tailSegment;
    let records = 0;
    let bytes = 0;
    for (const w of covers) {
      c.appends += w.batch.count;
      c.bytes += w.batch.bytes;
      c.batches++;
      records += w.batch.count;
      bytes += w.batch.bytes;
      if (seg.last < seg.first) seg.first = w.first;
      seg.last = w.last;
      seg.end = w.end;
      core.written = w.last;
      this.queue.settle(w.batch, w.first);
    }
    core.durableN = core.written;
    core.recordSync(micros, records, bytes);
    this.queue.admitBlocked();
    core.notifyDurable();
    if (this.queue.length > 0 || this.ops.length > 0) this.kick();
  }

  /** Resolves once nothing is in flight (every batch taken is durable, or the log failed). */
  private async drain(): Promise<void> {
    while (this.syncing !== null) await this.syncing;
    if (this.core.state === 'failed') throw this.core.unusable();
  }

  /** One batch written (and synced, under 'always') in one awaited call: O_DIRECT, or no per-batch sync. */
  private async writeBatch(batch: PendingBatch): Promise<void> {
    const core = this.core;
    const writer = core.writer;
    const { count, bytes } = batch;
    const first = core.written + 1;
    const seg = core.tailSegment;
    this.stage(seg, batch, first);
    core.recent.add(batch.datas, batch.from, count, first);
    const t0 = process.hrtime.bigint();
    try {
      await writer.commit(this.syncEach);
    } catch (err) {
      writer.discard();
      throw err;
    }
    const micros = Number(process.hrtime.bigint() - t0) / 1000;
    const c = core.counters;
    c.appends += count;
    c.bytes += bytes;
    c.batches++;
    if (this.syncEach) core.recordSync(micros, count, bytes);
    const last = first + count - 1;
    core.written = last;
    if (seg.last < seg.first) seg.first = first;
    seg.last = last;
    seg.end = writer.pos;
    if (this.syncEach) core.durableN = last;
    // Written but not durable: keep the process alive until the interval sync has run.
    else this.hooks.writtenNotDurable();
    this.queue.settle(batch, first);
    this.queue.admitBlocked();
    if (this.syncEach) core.notifyDurable();
  }
}
