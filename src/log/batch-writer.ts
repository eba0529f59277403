/**
 * The group-commit loop: appends that arrive while a write+fdatasync is in flight are coalesced
 * into the next batch, written with one `io` call, so the cost of a sync is shared. Exclusive
 * operations (sync, truncation, close) run alone, once every append accepted before them is written.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { Lease } from '../lock/lease';
import type { AppendQueue, PendingBatch } from './append-queue';
import { varintBytes } from './frames';
import type { LogCore } from './log-core';
import { maybeCheckpoint } from './segment-index';

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
  private readonly syncEach: boolean;
  private readonly termBytes: Uint8Array;

  constructor(
    private readonly core: LogCore,
    private readonly queue: AppendQueue,
    private readonly lease: Lease,
    private readonly hooks: BatchWriterHooks,
  ) {
    this.syncEach = core.opts.syncPolicy === 'always';
    this.termBytes = varintBytes(core.opts.term);
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
        if (this.core.state !== 'failed' && (this.queue.length > 0 || this.ops.length > 0)) this.kick();
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
    if (this.core.writer.pos >= this.core.opts.segmentSize) await this.hooks.cut();
    await this.writeBatch(queue.nextBatch(limit, this.core.opts.maxBatchBytes));
  }

  private async writeBatch(batch: PendingBatch): Promise<void> {
    const core = this.core;
    const writer = core.writer;
    const { count, bytes } = batch;
    const first = core.written + 1;
    const seg = core.tailSegment;
    maybeCheckpoint(seg, first, writer.pos, writer.crc);
    writer.stageEntries(batch.datas, batch.from, count, bytes, first, this.termBytes);
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
