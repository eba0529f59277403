/**
 * The state a Log's parts share: the files, the segment list, how far the log is written and
 * durable, the front (snapshot) record, its lifecycle, and the sync counters. The façade (log.ts)
 * and each part (append-queue, batch-writer, segment-cut, log-reads, truncation) read and advance
 * it; none of them owns it alone.
 */
import type { EventEmitter } from 'node:events';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { DurabilityWaiters } from './durability-waiters';
import { LatencyHistogram } from './histogram';
import type { SlowSyncEvent } from './log-types';
import type { ResolvedLogOptions } from './options';
import { SegmentFiles } from './segment-files';
import { RecentRecords } from './recent-records';
import type { SegmentInfo } from './segment-index';
import type { SegmentPreparer } from './segment-preparer';
import type { TailWriter } from './tail-writer';

/** Where a Log is in its life: only 'open' accepts appends; 'closing' still runs what was queued. */
export type LifeState = 'open' | 'closing' | 'closed' | 'failed';

/** Where the last front-truncation (snapshot) record lies. */
export interface SnapshotAt {
  seq: number;
  offset: number;
}

export class LogCore {
  state: LifeState = 'open';
  failure: WalError | null = null;
  /** Index of the last entry written (visible to readers), and of the last one fdatasync'd. */
  written: number;
  durableN: number;
  snapshotIndex: number;
  snapshotTerm: bigint;
  snapshotAt: SnapshotAt | null;
  closePromise: Promise<void> | null = null;
  readonly waiters = new DurabilityWaiters();
  /** Read handles shared by get(), entries() and the truncations' lookups (segment-files.ts). */
  readonly files: SegmentFiles;
  readonly counters = { appends: 0, bytes: 0, batches: 0, fsyncs: 0 };
  readonly hist = new LatencyHistogram();
  /** The records written last, for followers and consumers (served only up to durableN). */
  readonly recent: RecentRecords;
  /** Every truncateBack cut since open, in order: a follower checks those made since it last looked. */
  readonly backCuts: number[] = [];
  /** Called after durableN advanced (publishes it, wakes consumers); set by the façade. */
  onDurable: () => void = () => undefined;

  constructor(
    readonly dir: string,
    readonly opts: ResolvedLogOptions,
    readonly io: IoBackend,
    readonly segments: SegmentInfo[],
    readonly writer: TailWriter,
    readonly preparer: SegmentPreparer,
    scan: { lastIndex: number; snapshotIndex: number; snapshotTerm: bigint; snapshotAt: SnapshotAt | null },
    /** Receives 'fsync' and 'slowSync'. */
    private readonly events: EventEmitter,
  ) {
    this.files = new SegmentFiles(io);
    this.recent = new RecentRecords(opts.recentRecordsBytes);
    this.written = scan.lastIndex;
    this.durableN = scan.lastIndex;
    this.snapshotIndex = scan.snapshotIndex;
    this.snapshotTerm = scan.snapshotTerm;
    this.snapshotAt = scan.snapshotAt;
  }

  /** Index of the first entry readable. */
  firstIndexN(): number {
    return Math.max(this.snapshotIndex + 1, this.segments[0]!.first);
  }

  get tailSegment(): SegmentInfo {
    return this.segments[this.segments.length - 1]!;
  }

  /** Closed or failed: nothing more is written, followers end. */
  get ended(): boolean {
    return this.state === 'closed' || this.state === 'failed';
  }

  unusable(): WalError {
    if (this.failure !== null) return this.failure;
    return new WalError(WalErrorCodes.CLOSED, 'the log is closed', { file: this.dir });
  }

  /** Resolves once entry `index` is durable, or at once when it is or the log has ended. */
  waitDurable(index: number, signal?: AbortSignal, what = 'wait'): Promise<void> {
    if (this.durableN >= index || this.ended) return Promise.resolve();
    return this.waiters.wait(index, signal, what);
  }

  /** durableN advanced: tell the façade's listeners, then the waiters it satisfies. */
  notifyDurable(): void {
    this.onDurable();
    this.waiters.notify(this.durableN);
  }

  recordSync(micros: number, records: number, bytes: number): void {
    this.counters.fsyncs++;
    this.hist.record(micros);
    const ev = this.events;
    if (ev.listenerCount('fsync') > 0) ev.emit('fsync', { durationMs: micros / 1000, records, bytes } satisfies SlowSyncEvent);
    if (micros >= this.opts.slowSyncMs * 1000 && ev.listenerCount('slowSync') > 0) {
      const e: SlowSyncEvent = { durationMs: micros / 1000, records, bytes };
      ev.emit('slowSync', e);
    }
  }

  async timedSync(file: WalFile): Promise<void> {
    const t0 = process.hrtime.bigint();
    await file.datasync();
    this.recordSync(Number(process.hrtime.bigint() - t0) / 1000, 0, 0);
  }
}
