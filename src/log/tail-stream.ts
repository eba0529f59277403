/**
 * `Log.tail()`: follows the durable end as a hand-written async iterator. A record still in the
 * writer's window of recent records (recent-records.ts) is handed out as one resolved promise; only
 * waiting, reading from disk, a truncation or the end take the async path. An async-generator step
 * per record cost as much as the rest of a follower's work on the producers' thread (as it did for
 * entries(): entry-stream.ts; figures in bench/README.md, Log).
 */
import { WalError, WalErrorCodes } from '../errors';
import { indexToNumber as toIndex } from '../index-arg';
import { throwIfAborted } from './abort';
import type { LogCore } from './log-core';
import type { EntriesRange, LogEntry, TailOptions } from './log-types';

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

export class TailStream implements AsyncGenerator<LogEntry, void, undefined> {
  /** The next index to hand out; -1 until the first next() (which checks the options, as a generator body would). */
  private nextIndex = -1;
  private cutsSeen = 0;
  /** Reading from disk: the entries() stream over what was durable, until it ends. */
  private inner: AsyncGenerator<LogEntry, void, undefined> | null = null;
  private retained = false;
  private finished = false;
  /** The async step in flight: a next() called meanwhile runs after it, as a generator's would. */
  private busy: Promise<IteratorResult<LogEntry, void>> | null = null;

  constructor(
    private readonly core: LogCore,
    private readonly entries: (range: EntriesRange) => AsyncGenerator<LogEntry, void, undefined>,
    private readonly opts: TailOptions,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LogEntry, void>> {
    if (this.busy !== null) return this.busy.then(() => this.next());
    if (this.finished) return Promise.resolve(DONE);
    const core = this.core;
    const i = this.nextIndex;
    // The fast path: nothing to check since the last record, and the next one is durable and held.
    if (this.inner === null && this.nothingToCheck() && i <= core.durableN) {
      if (i >= core.firstIndexN()) {
        const held = core.recent.get(i);
        if (held !== undefined) {
          if (this.opts.signal?.aborted === true) return this.run(this.step());
          this.nextIndex = i + 1;
          return Promise.resolve({ done: false, value: { index: BigInt(i), data: held } });
        }
      }
    }
    return this.run(this.step());
  }

  /**
   * Appends to `out` (up to `max` in it) the records the fast path of next() would hand out now:
   * durable, held in the window, nothing to check since the last one. For tailBatches().
   */
  takeHeld(out: LogEntry[], max: number): void {
    const core = this.core;
    if (this.busy !== null || this.finished || this.inner !== null || this.opts.signal?.aborted === true) return;
    let i = this.nextIndex;
    if (!this.nothingToCheck() || i < core.firstIndexN()) return;
    const recent = core.recent;
    const durable = core.durableN;
    while (out.length < max && i <= durable) {
      const held = recent.get(i);
      if (held === undefined) break;
      out.push({ index: BigInt(i), data: held });
      i++;
    }
    this.nextIndex = i;
  }

  /** Whether next() has a durable record to give without waiting for one (read from disk, maybe). */
  hasDurableNext(): boolean {
    return this.busy === null && !this.finished && this.nothingToCheck() && this.nextIndex <= this.core.durableN;
  }

  /** Started, no truncateBack since the last record, the log not ended: the fast paths' condition. */
  private nothingToCheck(): boolean {
    return this.nextIndex >= 0 && this.cutsSeen === this.core.backCuts.length && !this.core.ended;
  }

  /** Runs an async step; a next() called meanwhile waits for it. An error ends the stream. */
  private run(step: Promise<IteratorResult<LogEntry, void>>): Promise<IteratorResult<LogEntry, void>> {
    const p = step.then(
      (r) => {
        this.busy = null;
        if (r.done === true) this.finish();
        return r;
      },
      (err: unknown) => {
        this.busy = null;
        this.finish();
        throw err;
      },
    );
    this.busy = p;
    return p;
  }

  /** One step of the follower: its next record, or the end. */
  private async step(): Promise<IteratorResult<LogEntry, void>> {
    const core = this.core;
    const signal = this.opts.signal;
    if (this.nextIndex < 0) {
      throwIfAborted(signal, 'tail');
      this.nextIndex = this.opts.from === undefined ? core.durableN + 1 : Math.max(toIndex('from', this.opts.from), core.firstIndexN());
      this.cutsSeen = core.backCuts.length;
      // While this follower runs, the writer keeps recent records in memory for it.
      core.recent.retain();
      this.retained = true;
    }
    const cuts = core.backCuts;
    for (;;) {
      if (this.inner !== null) {
        const r = await this.inner.next();
        if (r.done === true) {
          this.inner = null;
          continue;
        }
        // A truncation meanwhile: the decoder's buffer may hold entries the log has since dropped.
        if (cuts.length !== this.cutsSeen || Number(r.value.index) < core.firstIndexN()) {
          this.closeInner();
          continue;
        }
        this.nextIndex = Number(r.value.index) + 1;
        return { done: false, value: r.value };
      }
      // Truncation first: a close racing a truncateBack must not end the follower normally. A cut
      // below `next - 1` counts even when appends have since refilled the log past it.
      while (this.cutsSeen < cuts.length) {
        if (cuts[this.cutsSeen++]! < this.nextIndex - 1) {
          throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entries before ${this.nextIndex} were truncated`, { file: core.dir });
        }
      }
      if (this.nextIndex > core.written + 1) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entries before ${this.nextIndex} were truncated`, { file: core.dir });
      }
      if (core.ended) return DONE;
      // A truncateFront moved the front past `next`: continue there, as entries() would (and do
      // not spin on an empty range when the new front is past the durable end).
      if (this.nextIndex < core.firstIndexN()) this.nextIndex = core.firstIndexN();
      const next = this.nextIndex;
      if (next <= core.durableN) {
        // Just durable: from the writer's window while it holds the record (no reopen, no decode).
        const held = core.recent.get(next);
        if (held !== undefined) {
          throwIfAborted(signal, 'tail');
          this.nextIndex = next + 1;
          return { done: false, value: { index: BigInt(next), data: held } };
        }
        this.inner = this.entries(signal === undefined ? { from: next, to: core.durableN } : { from: next, to: core.durableN, signal });
        continue;
      }
      if (core.state === 'closing') {
        // Operations queued before close() (a truncateBack) still run: end only once they have.
        await core.closePromise?.catch(() => undefined);
        continue;
      }
      await core.waitDurable(next, signal, 'tail');
    }
  }

  private closeInner(): void {
    const it = this.inner;
    this.inner = null;
    if (it !== null) void it.return(undefined).catch(() => undefined);
  }

  /** Ends the stream: the window is no longer held for it. */
  private finish(): void {
    this.finished = true;
    this.closeInner();
    if (this.retained) {
      this.retained = false;
      this.core.recent.release();
    }
  }

  /** Stops early (a `break` out of for-await). */
  async return(): Promise<IteratorReturnResult<void>> {
    if (this.busy !== null) await this.busy.catch(() => undefined);
    this.finish();
    return DONE;
  }

  async throw(err: unknown): Promise<IteratorResult<LogEntry, void>> {
    if (this.busy !== null) await this.busy.catch(() => undefined);
    this.finish();
    throw err;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
