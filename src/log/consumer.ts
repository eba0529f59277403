/**
 * A named durable consumer of a Log: reads batches of durable records after its position and
 * commits positions durably in the consumer journal (cursor-journal.ts). Commits issued while a
 * journal write is in flight are coalesced into the next write, with those of every other consumer
 * of the same host (commit-journal.ts), as appends are. After a crash the consumer resumes just after its
 * last durable commit, so every record is delivered at least once, in index order.
 * Guarantees and crash behaviour: docs/consumers.md.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import type { JournalEntry } from './commit-journal';
import { ConsumerGapError, ConsumerTruncatedError } from './consumer-errors';
import type { CursorState } from './cursor-file';
import type { SequentialReader } from './batch-reader';
import { type BatchTarget, EntryBatch } from './batch-assembly';
import { RecordCopier } from './record-copier';
import { BatchBody } from '../forward/batch-body';
import { toIndex } from './indexes';
import type { LogEntry } from './log';

/** Position and lag of a consumer. */
export interface ConsumerInfo {
  name: string;
  /** Last durably committed index (0 before the first commit of a consumer started at the oldest record). */
  committed: bigint;
  /** Last index handed out by read() or set by seek() (equals `committed` for a consumer not open here). */
  delivered: bigint;
  /** Durable records after `committed`. */
  lagRecords: bigint;
  /**
   * Bytes of the segments after `committed` (frame bytes; exact to within one 64 KiB read checkpoint).
   * Read-only opens: `lagRecords` × the mean data size of the records that open has read (docs/consumers.md).
   */
  lagBytes: number;
  lastCommitAt: Date | null;
}

export interface ConsumerReadOptions {
  /**
   * At most this many records. Default 10,000: with `maxBytes` the real bound, small records come
   * in batches large enough that a commit per batch costs little (1,000 × 100 B: one fdatasync per
   * 100 KB; bench/README.md, Consumers).
   */
  maxRecords?: number;
  /** At most this many data bytes (one larger record is still returned alone). Default 1 MiB. */
  maxBytes?: number;
  /** Wait up to this long for a first record when none is durable yet. Default 0 (do not wait). */
  timeoutMs?: number;
  /** Ends the wait early (read then returns []). */
  signal?: AbortSignal;
}

export interface ConsumerOptions {
  /**
   * Where a consumer that does not exist yet starts: 'oldest' (default: the first record still in
   * the log), 'newest' (after the last durable record) or an index (the first record it delivers).
   * Ignored when the consumer exists: it resumes after its committed position.
   */
  start?: 'oldest' | 'newest' | bigint;
}

/** What a consumer needs from the log hosting it (a writable Log or a read-only open). */
export interface ConsumerSource {
  readonly dir: string;
  readonly io: IoBackend;
  readonly id: string;
  firstIndex(): number;
  durableIndex(): number;
  lagBytes(afterIndex: number): number;
  /** Resolves once durableIndex() >= index, after timeoutMs, on abort, or when the log closes. */
  waitDurable(index: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<void>;
  /** truncateBack calls so far (persisted) and the lowest cut among those after `since`. */
  truncationsSince(since: number): { count: number; lowest: number | null };
  /** After a read: learn of any truncateBack that ran meanwhile (read-only opens poll for it). */
  settle(): Promise<void>;
  /** A sequential batch reader from `from` (batch-reader.ts, read-only-batch-reader.ts). */
  openReader(from: number): SequentialReader;
}

/** Where a consumer's positions go: its host's journal, and the lease holding its name. */
export interface CursorStore {
  /** The journal file (named in errors). */
  readonly path: string;
  /** Resolves once the entry's record is durable (group commit with the host's other consumers). */
  write(entry: JournalEntry): Promise<void>;
  /** Gives up the name. */
  release(): Promise<void>;
}

/** How a Consumer leaves its host. */
export interface ConsumerOwner {
  released(c: Consumer): void;
  /** A commit became durable (retention may now drop more). */
  committed(): void;
}

function count(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v >= 0) || (name !== 'timeoutMs' && !(v >= 1))) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `read: ${name} must be a positive number, got ${String(v)}`);
  }
  return v;
}

export class Consumer implements AsyncDisposable {
  private committedN: number;
  private lastCommitMs: number;
  private truncations: number;
  private seq: bigint;
  private deliveredN: number;
  /** Highest commit accepted (durable once the flush loop reaches it). */
  private target: number;
  /** truncateBack cut below what this consumer delivered or committed: reads fail until seek. */
  private cutTo: number | null = null;
  /** After seek() out of a truncation: commits may go back to here. */
  private floor: number | null = null;
  /** Lowest truncateBack cut seen while a read was running. */
  private cutDuringRead: number | null = null;
  private reader: SequentialReader | null = null;
  /** Shared chunks read() copies records into. */
  private readonly copier = new RecordCopier();
  private reading = false;
  /** Commits whose journal write has not resolved yet. */
  private readonly inFlight = new Set<Promise<void>>();
  private failure: WalError | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  /** @internal Created by Log.consumer(). */
  constructor(
    /** The consumer's name (unique per log directory). */
    readonly name: string,
    private readonly src: ConsumerSource,
    private readonly file: CursorStore,
    state: CursorState,
    private readonly owner: ConsumerOwner,
  ) {
    this.committedN = Number(state.committed);
    this.lastCommitMs = state.lastCommitAt;
    this.truncations = state.truncations;
    this.seq = state.seq;
    this.deliveredN = this.committedN;
    this.target = this.committedN;
    const t = src.truncationsSince(state.truncations);
    if (t.lowest !== null && t.lowest < this.committedN) this.cutTo = t.lowest;
    else this.truncations = t.count;
  }

  /** Last durable commit. */
  get committed(): bigint {
    return BigInt(this.committedN);
  }

  /**
   * The next batch after what was delivered (initially after `committed`): only durable records, in
   * index order, bounded by `maxRecords` and `maxBytes`. Waits up to `timeoutMs` (or until `signal`
   * aborts) for a first record; returns [] when none came. Throws ConsumerGapError when records after
   * the position were removed uncommitted (the consumer then continues after the gap) and
   * ConsumerTruncatedError when truncateBack removed records it had read.
   */
  async read(opts: ConsumerReadOptions = {}): Promise<LogEntry[]> {
    this.checkOpen();
    const maxRecords = Math.floor(count('maxRecords', opts.maxRecords, 10_000));
    const batch = new EntryBatch(count('maxBytes', opts.maxBytes, 1024 * 1024), this.copier);
    await this.readInto(batch, maxRecords, opts);
    return batch.entries;
  }

  /**
   * read() into `body`, in the body format of a batch message (forward/batch.ts): the records
   * after what was delivered are appended to what `body` holds, each copied once and no object made
   * per record: what a forwarder sends as one message (`encodeBatchBody`). The byte bound is the
   * body's (`BatchBody#maxBytes`, counted encoded); `maxRecords` counts every record in the body.
   * Resolves to the number of records added. A body that is not empty must end at the last record
   * delivered (no seek since it was filled).
   *
   * @example
   * const body = new BatchBody(1 << 20);
   * await consumer.readEncoded(body, { timeoutMs: 1000 });
   * if (body.count > 0) console.log(`records ${body.first}-${body.last}: ${body.size} bytes`);
   */
  async readEncoded(body: BatchBody, opts: Omit<ConsumerReadOptions, 'maxBytes'> = {}): Promise<number> {
    this.checkOpen();
    if (!(body instanceof BatchBody)) throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'readEncoded: body must be a BatchBody');
    if (body.count > 0 && body.last !== this.deliveredN) {
      throw new WalError(
        WalErrorCodes.INVALID_ARGUMENT,
        `consumer '${this.name}': readEncoded into a body ending at ${body.last}, but the last record delivered is ${this.deliveredN}`,
      );
    }
    const before = body.count;
    await this.readInto(body, Math.floor(count('maxRecords', opts.maxRecords, 10_000)), opts);
    return body.count - before;
  }

  private async readInto(target: BatchTarget, maxRecords: number, opts: Omit<ConsumerReadOptions, 'maxBytes'>): Promise<void> {
    const timeoutMs = count('timeoutMs', opts.timeoutMs, 0);
    if (this.reading)
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `consumer '${this.name}': read() called while another read() is running`);
    this.reading = true;
    this.cutDuringRead = null;
    try {
      // A commit just issued starts its journal write a microtask later (commit-journal.ts groups
      // the commits of one turn): yield once so the write and its fdatasync run during this read's
      // synchronous decoding rather than after it (measured: without this, overlapping commits with
      // reads gained nothing).
      if (this.inFlight.size > 0) await Promise.resolve();
      this.checkPosition();
      if (target.count >= maxRecords) return; // a full body: nothing to wait for
      const from = this.deliveredN + 1;
      if (this.src.durableIndex() < from) {
        if (timeoutMs > 0 && opts.signal?.aborted !== true) await this.src.waitDurable(from, timeoutMs, opts.signal);
        if (this.closed) return;
        this.checkPosition();
        if (this.src.durableIndex() < this.deliveredN + 1) return;
      }
      await this.take(target, maxRecords);
    } finally {
      this.reading = false;
    }
  }

  /** Gap and truncation checks before a read. */
  private checkPosition(): void {
    if (this.cutTo !== null)
      throw new ConsumerTruncatedError(this.name, BigInt(Math.max(this.deliveredN, this.committedN)), BigInt(this.cutTo), this.file.path);
    const from = this.deliveredN + 1;
    const first = this.src.firstIndex();
    if (from < first) {
      this.dropReader();
      this.deliveredN = first - 1;
      throw new ConsumerGapError(this.name, BigInt(from), BigInt(first - 1), this.file.path);
    }
  }

  private async take(target: BatchTarget, maxRecords: number): Promise<void> {
    const before = target.count;
    // Records an earlier read put in the target were delivered then: a cut below them is the next
    // read's ConsumerTruncatedError, never a silent drop here.
    const keep = before > 0 ? target.last : 0;
    try {
      await this.takeBatch(target, maxRecords);
    } catch (err) {
      this.dropReader();
      await this.src.settle();
      // A truncation while reading explains a failed read: return what is still valid.
      if (this.cutDuringRead === null) {
        target.dropAfter(keep);
        if (this.deliveredN + 1 < this.src.firstIndex()) this.checkPosition();
        throw err;
      }
      target.dropAfter(keep);
    }
    // Sequence lock: bytes read while a truncateBack rewrote them are dropped below.
    await this.src.settle();
    if (this.cutDuringRead !== null) {
      const cut = this.cutDuringRead;
      this.dropReader();
      target.dropAfter(Math.max(cut, keep));
    }
    if (target.count > before) this.deliveredN = target.last;
  }

  /** One batch from the sequential reader, which stays open between reads. */
  private async takeBatch(target: BatchTarget, maxRecords: number): Promise<void> {
    const next = this.deliveredN + 1;
    const to = Math.min(this.src.durableIndex(), next + (maxRecords - target.count) - 1);
    if (this.reader === null || this.reader.position !== next) {
      this.dropReader();
      this.reader = this.src.openReader(next);
    }
    await this.reader.read(target, to, maxRecords);
  }

  private dropReader(): void {
    const rd = this.reader;
    this.reader = null;
    if (rd !== null) void rd.close().catch(() => undefined);
  }

  /**
   * Moves the read position: the next read starts at index + 1. Does not commit. Also the way out
   * of a ConsumerTruncatedError (seek to an index at or below the cut).
   */
  seek(index: bigint): void {
    this.checkOpen();
    const i = toIndex('index', index);
    if (i > this.src.durableIndex()) {
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `seek(${i}) is past the durable index ${this.src.durableIndex()}`, {
        file: this.file.path,
      });
    }
    if (this.cutTo !== null) {
      if (i > this.cutTo) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `seek(${i}) is past the truncateBack cut ${this.cutTo}`, { file: this.file.path });
      }
      this.cutTo = null;
    }
    if (i < this.target) this.floor = Math.min(this.floor ?? i, i);
    this.dropReader();
    this.deliveredN = i;
  }

  /**
   * Makes `index` the committed position; resolves once it is durable. Commits that arrive while a
   * cursor write is in flight share the next write. ERR_WAL_CONSUMER_COMMIT_RANGE when `index` is
   * below the last commit or beyond what was delivered or seeked.
   */
  commit(index: bigint): Promise<void> {
    try {
      this.checkOpen();
      const i = toIndex('index', index);
      const low = this.floor ?? this.target;
      if (i < low || i > this.deliveredN) {
        throw new WalError(
          WalErrorCodes.CONSUMER_COMMIT_RANGE,
          `consumer '${this.name}': commit(${i}) outside [${low}, ${this.deliveredN}] (committed .. delivered)`,
          { file: this.file.path },
        );
      }
      if (this.cutTo !== null) throw new ConsumerTruncatedError(this.name, BigInt(this.deliveredN), BigInt(this.cutTo), this.file.path);
      const changed = i !== this.target || this.floor !== null;
      this.target = i;
      this.floor = null;
      if (!changed && this.committedN === i && this.inFlight.size === 0) return Promise.resolve();
      const p: Promise<void> = this.file.write(this.entry).then(
        () => {
          this.inFlight.delete(p);
        },
        (err: unknown) => {
          this.inFlight.delete(p);
          // A failed fdatasync leaves the page cache untrustworthy: refuse further commits.
          this.failure ??=
            err instanceof WalError
              ? err
              : new WalError(WalErrorCodes.FAILED, `consumer '${this.name}': cursor write failed`, { file: this.file.path, cause: err });
          throw this.failure;
        },
      );
      this.inFlight.add(p);
      return p;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * This consumer's journal entry: the record is made when its write round starts, so every
   * commit accepted before then shares it (the highest target; targets only grow, except after a
   * seek out of a truncation, which supersedes older commits).
   */
  private readonly entry: JournalEntry = {
    make: () => ({
      kind: 'position',
      name: this.name,
      epoch: 0,
      seq: this.seq + 1n,
      committed: BigInt(this.target),
      lastCommitAt: Date.now(),
      truncations: this.src.truncationsSince(this.truncations).count,
      logId: this.src.id,
    }),
    durable: (r) => {
      this.seq = r.seq;
      this.committedN = Number(r.committed);
      this.lastCommitMs = r.lastCommitAt;
      this.truncations = r.truncations;
      this.owner.committed();
    },
  };

  /** Position and lag. */
  info(): ConsumerInfo {
    const durable = this.src.durableIndex();
    return {
      name: this.name,
      committed: BigInt(this.committedN),
      delivered: BigInt(this.deliveredN),
      lagRecords: BigInt(Math.max(0, durable - this.committedN)),
      lagBytes: this.src.lagBytes(this.committedN),
      lastCommitAt: this.lastCommitMs > 0 ? new Date(this.lastCommitMs) : null,
    };
  }

  /** @internal truncateBack(to) is about to run (or ran, in another process). */
  truncatedBack(to: number): void {
    if (this.reading) this.cutDuringRead = Math.min(this.cutDuringRead ?? to, to);
    this.dropReader();
    if (Math.max(this.deliveredN, this.committedN) > to) this.cutTo = Math.min(this.cutTo ?? to, to);
  }

  private checkOpen(): void {
    if (this.closed) throw new WalError(WalErrorCodes.CLOSED, `consumer '${this.name}' is closed`, { file: this.file.path });
    if (this.failure !== null) throw this.failure;
  }

  /** Waits for commits in flight, then releases the name. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      this.closed = true;
      this.dropReader();
      this.owner.released(this);
      await this.file.release();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
