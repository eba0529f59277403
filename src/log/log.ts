/**
 * Log: the ingestion API on the etcd WAL format. Many producers `append` concurrently; appends that
 * arrive while a write+fdatasync is in flight are coalesced into the next batch, written with one
 * `io` call (pwrite + fdatasync in one job, on the tail file's own I/O thread by default), so the cost
 * of a sync is shared.
 * See docs/log.md for the design and the measurements behind it.
 */
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { readWalNames, walName } from '../etcd/segments';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { MAX_ENTRY_DATA, RecordType, encodeSegmentHeader, encodeSnapshotFrame, varintBytes } from './frames';
import { LatencyHistogram, type LatencySummary } from './histogram';
import { resolveLogOptions, type LogOptions, type ResolvedLogOptions } from './options';
import { scanLog } from './recovery';
import { closeSegment, forEachRecord, logReadError, openSegment, parseEntry, recordData } from './segment-reader';
import {
  CHECKPOINT_BYTES,
  checkpointFor,
  dropCheckpointsFrom,
  findSegment,
  maybeCheckpoint,
  newSegment,
  type SegmentInfo,
} from './segment-index';
import { FRONT_MARKER, readFrontMarker, removeFrontMarker, writeFrontMarker } from './front-marker';
import { SegmentPreparer, initialPreparation, prepareRange } from './segment-preparer';
import { TailWriter } from './tail-writer';
import type { Consumer, ConsumerInfo, ConsumerOptions } from './consumer';
import { ConsumerHost, type HostedLog } from './consumer-host';
import { checkFrontTruncation } from './front-guard';
import { segmentBytesAfter } from './lag';
import { ensureLogId } from './log-id';
import { DurablePublisher } from './durable-file';
import { ReadOnlyLog } from './read-only';

/** One record read back: its index and data (a view into a read buffer; copy it to keep many). */
export interface LogEntry {
  index: bigint;
  data: Uint8Array;
}

/** Range of `entries()`; both ends inclusive, clamped to [firstIndex, lastIndex]. */
export interface EntriesRange {
  from?: bigint;
  to?: bigint;
}

/** Counters and latencies of a Log since it was opened. */
export interface LogStats {
  /** Records appended (written) and their data bytes. */
  appends: number;
  bytes: number;
  /** Write calls that carried records, and fdatasyncs (batches under 'always', plus syncs and cuts). */
  batches: number;
  fsyncs: number;
  /** Latency of write+fdatasync (or fdatasync alone) in microseconds. */
  fsyncLatency: LatencySummary;
  /** Records and bytes waiting to be written, and appends waiting for queue space. */
  queueDepth: number;
  queuedBytes: number;
  blockedAppends: number;
  segments: number;
  firstIndex: bigint;
  lastIndex: bigint;
  durableIndex: bigint;
  /** 'native' | 'fallback' | 'custom', and whether writes use O_DIRECT. */
  backend: string;
  direct: boolean;
  /** Why O_DIRECT is off although `direct: true` was asked (refused by the filesystem or backend). */
  directUnavailable: string | null;
  /** A torn tail repaired at open: the `.broken` copy kept. */
  repaired: string | null;
  /** How the next segment is being prepared (with `preallocation: 'auto'`, chosen by fill rate). */
  preparation: 'zero-fill' | 'fallocate';
}

/** Payload of the 'slowSync' event. */
export interface SlowSyncEvent {
  durationMs: number;
  records: number;
  bytes: number;
}

/** Resolves an append; a failure resolves it with a rejected promise (so no reject is kept). */
type Resolver = (index: bigint | Promise<never>) => void;
type Resolve = Resolver | null;
type Reject = (err: unknown) => void;

// One shared executor instead of a closure per append: it hands the resolver out through `captured`.
let captured: Resolver | null = null;
const capture = (resolve: Resolver): void => {
  captured = resolve;
};

interface Blocked {
  datas: Uint8Array[];
  bytes: number;
  resolve: Resolver;
  reject: Reject;
}

interface Op {
  /** Run once this many appends (counted since open) have been written. */
  barrier: number;
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: Reject;
}

const EMPTY = new Uint8Array(0);
/** Errors of an exclusive operation that refuse it without failing the log. */
const NON_FATAL_OP_ERRORS = new Set<string>([
  WalErrorCodes.OUT_OF_RANGE,
  WalErrorCodes.INVALID_ARGUMENT,
  WalErrorCodes.CONSUMER_UNCOMMITTED,
  WalErrorCodes.CONSUMER_CORRUPT,
]);
/** A module-local copy: read on every append (an imported binding can cost a getter call per read). */
const MAX_DATA = MAX_ENTRY_DATA;
const enum State {
  Open,
  Closing,
  Closed,
  Failed,
}

function toData(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (!(data instanceof Uint8Array)) throw new TypeError('Log.append: data must be a Uint8Array, Buffer or string');
  if (data.length > MAX_DATA) {
    throw new WalError(WalErrorCodes.RECORD_TOO_LARGE, `record of ${data.length} bytes exceeds ${MAX_ENTRY_DATA}`);
  }
  return data;
}

function toIndex(name: string, v: bigint): number {
  if (typeof v !== 'bigint' || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `${name} must be a non-negative bigint`);
  }
  return Number(v);
}

/**
 * A durable, append-only log of records in an etcd-format WAL directory (readable by etcd's own
 * `ReadAll` and `wal dump`). One writer per directory, enforced by a lock on the tail segment.
 *
 * Events: 'slowSync' ({@link SlowSyncEvent}) when one write+fdatasync exceeds `slowSyncMs`;
 * 'error' is never emitted — failures reject the affected promises.
 */
export class Log extends EventEmitter {
  private state = State.Open;
  private failure: WalError | null = null;
  private readonly syncEach: boolean;
  private readonly termBytes: Uint8Array;
  private readonly hist = new LatencyHistogram();

  // Queue of appends not yet written (parallel arrays; head index instead of shift()).
  private qData: Uint8Array[] = [];
  private qRes: Resolve[] = [];
  private qHead = 0;
  private queuedBytes = 0;
  private blocked: Blocked[] = [];
  private accepted = 0;
  private taken = 0;
  private ops: Op[] = [];
  private scheduled = false;
  private running = false;

  private written: number;
  private durableN: number;
  private snapshotIndex: number;
  private snapshotTerm: bigint;
  private snapshotAt: { seq: number; offset: number } | null;
  private durableWaiters: { index: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private syncQueued = false;
  private closePromise: Promise<void> | null = null;
  private readonly counters = { appends: 0, bytes: 0, batches: 0, fsyncs: 0 };
  private logId = '';
  private host: ConsumerHost | null = null;
  private publisher: DurablePublisher | null = null;

  private constructor(
    /** The directory holding the segments. */
    readonly dir: string,
    private readonly opts: ResolvedLogOptions,
    private readonly io: IoBackend,
    private readonly segments: SegmentInfo[],
    private readonly writer: TailWriter,
    private readonly preparer: SegmentPreparer,
    scan: { lastIndex: number; snapshotIndex: number; snapshotTerm: bigint; snapshotAt: Log['snapshotAt'] },
    private readonly repaired: string | null,
  ) {
    super();
    this.syncEach = opts.syncPolicy === 'always';
    this.termBytes = varintBytes(opts.term);
    this.written = scan.lastIndex;
    this.durableN = scan.lastIndex;
    this.snapshotIndex = scan.snapshotIndex;
    this.snapshotTerm = scan.snapshotTerm;
    this.snapshotAt = scan.snapshotAt;
    if (typeof opts.syncPolicy === 'object') {
      this.timer = setInterval(() => this.intervalSync(), opts.syncPolicy.intervalMs);
      this.timer.unref();
    }
  }

  /**
   * Opens the log in `dir`, creating it (mode 0700, first segment as etcd's `Create` writes it)
   * unless `mustExist`. A torn tail (a crash mid-write) is repaired as etcd's `Repair` does, keeping
   * a `.broken` copy; corruption before the tail is an error. Fails with ERR_WAL_LOCKED when another
   * writer (this library or etcd, through the native OFD lock) holds the directory.
   */
  static open(dir: string, options: LogOptions & { readOnly: true }): Promise<ReadOnlyLog>;
  static open(dir: string, options?: LogOptions): Promise<Log>;
  static async open(dir: string, options?: LogOptions): Promise<Log | ReadOnlyLog> {
    try {
      if (options?.readOnly === true) {
        const o = resolveLogOptions(options);
        return await ReadOnlyLog.open(dir, { io: o.io, readBufferBytes: o.readBufferBytes, pollMs: o.pollMs });
      }
      return await Log.openLocked(dir, options);
    } catch (err) {
      // An OS failure (EACCES, EMFILE, EROFS...) is reported like every other: a WalError with its cause.
      if (err instanceof WalError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new WalError(WalErrorCodes.IO, `cannot open the log: ${e?.message ?? String(err)}`, { file: e?.path ?? dir, cause: err });
    }
  }

  private static async openLocked(dir: string, options?: LogOptions): Promise<Log> {
    const opts = resolveLogOptions(options);
    const io = opts.io;
    await io.mkdir(dir, 0o700);
    for (const name of await io.readdir(dir)) {
      // Our prepared-but-unused next segments; a crash may leave one behind.
      if (/^[01]\.tmp$/.test(name)) await io.unlink(path.join(dir, name));
    }
    let names = await readWalNames(io, dir);
    if (names.length === 0) {
      if (opts.mustExist) throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'no log in directory', { file: dir });
      await createFirstSegment(io, dir, opts);
      names = await readWalNames(io, dir);
    }
    const tailPath = path.join(dir, names[names.length - 1]!);
    const tailFile = await io.open(tailPath, { read: true, write: true, direct: opts.direct });
    try {
      await tailFile.lock({ wait: false });
    } catch (err) {
      await tailFile.close();
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        throw new WalError(WalErrorCodes.LOCKED, 'the log is locked by another writer', { file: tailPath, cause: err });
      }
      throw err;
    }
    try {
      const scan = await scanLog(io, dir, names, opts.readBufferBytes);
      const tailSeg = scan.segments[scan.segments.length - 1]!;
      // Zeros after the last record (etcd ZeroToEnd), prepared like a new segment so syncs stay cheap.
      const size = await tailFile.size();
      const zeroEnd = Math.max(size, opts.segmentSize);
      const plain = await io.open(tailPath, { read: false, write: true });
      try {
        // Cut first: fallocate keeps existing bytes, and frames left beyond a hole of lost writes
        // must never become readable again after an append (etcd's ZeroToEnd truncates too).
        await plain.truncate(tailSeg.end);
        await prepareRange(plain, tailSeg.end, zeroEnd, initialPreparation(opts.preallocation));
      } finally {
        await plain.close();
      }
      const tail = await TailWriter.attach(io, tailFile, tailSeg.end, scan.tailCrc, opts.syncThread === 'dedicated');
      const preparer = new SegmentPreparer(io, dir, opts.segmentSize, opts.preallocation);
      preparer.start();
      const log = new Log(dir, opts, io, scan.segments, tail, preparer, scan, scan.repaired);
      await log.restoreFront();
      log.logId = await ensureLogId(io, dir);
      log.host = await ConsumerHost.create(log.hosted());
      log.publisher = await DurablePublisher.open(io, dir);
      log.publish();
      return log;
    } catch (err) {
      await tailFile.close();
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Appending

  /**
   * Appends one record. Resolves with its index once it is durable (syncPolicy 'always') or
   * written to the OS (interval / 'none'; see `durable()`). Rejects with ERR_WAL_QUEUE_FULL when
   * the queue is full and `onQueueFull` is 'reject'; ERR_WAL_CLOSED after close; ERR_WAL_FAILED
   * after a write or fdatasync failed (the log then refuses everything until reopened).
   */
  append(data: Uint8Array | string): Promise<bigint> {
    if (this.state !== State.Open) return Promise.reject(this.unusable());
    let d: Uint8Array;
    if (data instanceof Uint8Array && data.length <= MAX_DATA) d = data;
    else {
      try {
        d = toData(data);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.blocked.length > 0 || (this.queuedBytes + d.length > this.opts.maxQueuedBytes && this.qData.length > this.qHead)) {
      return this.backpressure([d], d.length);
    }
    const promise = new Promise<bigint>(capture as (resolve: (v: bigint) => void) => void);
    this.qData.push(d);
    this.qRes.push(captured);
    this.queuedBytes += d.length;
    this.accepted++;
    this.kick();
    return promise;
  }

  /** Appends records as consecutive entries; resolves with the index of the last one. */
  appendBatch(datas: readonly (Uint8Array | string)[]): Promise<bigint> {
    if (this.state !== State.Open) return Promise.reject(this.unusable());
    if (!Array.isArray(datas) || datas.length === 0) {
      return Promise.reject(new WalError(WalErrorCodes.INVALID_ARGUMENT, 'appendBatch needs a non-empty array'));
    }
    let list: Uint8Array[];
    let bytes = 0;
    try {
      list = datas.map(toData);
      for (const d of list) bytes += d.length;
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.blocked.length > 0 || (this.queuedBytes + bytes > this.opts.maxQueuedBytes && this.qData.length > this.qHead)) {
      return this.backpressure(list, bytes);
    }
    return new Promise<bigint>((resolve) => this.enqueue(list, bytes, resolve as Resolver));
  }

  private enqueue(list: Uint8Array[], bytes: number, resolve: Resolver): void {
    for (let i = 0; i < list.length; i++) {
      this.qData.push(list[i]!);
      this.qRes.push(i === list.length - 1 ? resolve : null);
    }
    this.queuedBytes += bytes;
    this.accepted += list.length;
    this.kick();
  }

  private backpressure(datas: Uint8Array[], bytes: number): Promise<bigint> {
    if (this.opts.onQueueFull === 'reject') {
      return Promise.reject(
        new WalError(WalErrorCodes.QUEUE_FULL, `append queue holds ${this.queuedBytes} bytes (maxQueuedBytes ${this.opts.maxQueuedBytes})`),
      );
    }
    return new Promise<bigint>((resolve, reject) => this.blocked.push({ datas, bytes, resolve: resolve as Resolver, reject }));
  }

  /** Moves waiting appends into the queue while there is room (always at least one when it is empty). */
  private admitBlocked(): void {
    while (this.blocked.length > 0) {
      const b = this.blocked[0]!;
      const empty = this.qData.length === this.qHead;
      if (!empty && this.queuedBytes + b.bytes > this.opts.maxQueuedBytes) break;
      this.blocked.shift();
      this.enqueue(b.datas, b.bytes, b.resolve);
    }
  }

  private kick(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate, not a microtask: producers resumed by the last batch get to append first.
    setImmediate(this.loop);
  }

  private readonly loop = (): void => {
    this.scheduled = false;
    if (this.running) return;
    this.running = true;
    this.step().then(
      () => {
        this.running = false;
        if (this.state !== State.Failed && (this.qData.length > this.qHead || this.ops.length > 0)) this.kick();
      },
      (err: unknown) => {
        this.running = false;
        this.fail(err);
      },
    );
  };

  /** One batch, or the next exclusive operation once every append before it is written. */
  private async step(): Promise<void> {
    const op = this.ops[0];
    if (op !== undefined && this.taken >= op.barrier) {
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
    const available = this.qData.length - this.qHead;
    const limit = op === undefined ? available : Math.min(available, op.barrier - this.taken);
    if (limit <= 0) return;
    if (this.writer.pos >= this.opts.segmentSize) await this.cut();
    await this.writeBatch(limit);
  }

  private async writeBatch(limit: number): Promise<void> {
    const from = this.qHead;
    const max = this.opts.maxBatchBytes;
    let count = 0;
    let bytes = 0;
    const q = this.qData;
    while (count < limit) {
      const len = q[from + count]!.length;
      if (count > 0 && bytes + len > max) break;
      bytes += len;
      count++;
    }
    const first = this.written + 1;
    const seg = this.segments[this.segments.length - 1]!;
    maybeCheckpoint(seg, first, this.writer.pos, this.writer.crc);
    this.writer.stageEntries(q, from, count, bytes, first, this.termBytes);
    const t0 = process.hrtime.bigint();
    try {
      await this.writer.commit(this.syncEach);
    } catch (err) {
      this.writer.discard();
      throw err;
    }
    const micros = Number(process.hrtime.bigint() - t0) / 1000;
    const c = this.counters;
    c.appends += count;
    c.bytes += bytes;
    c.batches++;
    if (this.syncEach) this.recordSync(micros, count, bytes);
    const last = first + count - 1;
    this.written = last;
    if (seg.last < seg.first) seg.first = first;
    seg.last = last;
    seg.end = this.writer.pos;
    if (this.syncEach) this.durableN = last;
    // Written but not durable: keep the process alive until the interval sync has run.
    else this.timer?.ref();
    const res = this.qRes;
    if (from + count === q.length) {
      // The queue drains (the arrays are dropped below): no need to clear the consumed slots.
      for (let i = 0; i < count; i++) {
        const r = res[from + i];
        if (r !== null) r!(BigInt(first + i));
      }
    } else {
      for (let i = 0; i < count; i++) {
        const r = res[from + i];
        q[from + i] = EMPTY;
        if (r !== null) r!(BigInt(first + i));
      }
    }
    this.qHead += count;
    this.taken += count;
    this.queuedBytes -= bytes;
    if (this.qHead === q.length) {
      this.qData = [];
      this.qRes = [];
      this.qHead = 0;
    } else if (this.qHead >= 4096 && this.qHead * 2 >= q.length) {
      // Appends keep arriving during every write, so the queue never drains: drop the consumed half.
      this.qData = q.slice(this.qHead);
      this.qRes = this.qRes.slice(this.qHead);
      this.qHead = 0;
    }
    this.admitBlocked();
    if (this.syncEach) this.notifyDurable();
  }

  private recordSync(micros: number, records: number, bytes: number): void {
    this.counters.fsyncs++;
    this.hist.record(micros);
    if (micros >= this.opts.slowSyncMs * 1000 && this.listenerCount('slowSync') > 0) {
      const ev: SlowSyncEvent = { durationMs: micros / 1000, records, bytes };
      this.emit('slowSync', ev);
    }
  }

  /** Closes the full tail and continues in a prepared segment (etcd `cut`). Runs between batches. */
  private async cut(): Promise<void> {
    const old = this.segments[this.segments.length - 1]!;
    const oldFile = this.writer.file;
    // A closed segment ends at its last frame, as etcd leaves it.
    await oldFile.truncate(this.writer.pos);
    await this.timedSync(oldFile);
    this.durableN = this.written;
    const tmp = await this.preparer.take();
    const seq = old.seq + 1;
    const nameIndex = this.written + 1;
    const name = walName(BigInt(seq), BigInt(nameIndex));
    const header = encodeSegmentHeader(this.io, this.writer.crc, false);
    const hf = await this.io.open(tmp, { read: false, write: true });
    try {
      await hf.write([header.bytes], 0, { datasync: true });
    } finally {
      await hf.close();
    }
    const full = path.join(this.dir, name);
    await this.io.rename(tmp, full);
    await this.io.fsyncDir(this.dir);
    const nf = await this.io.open(full, { read: true, write: true, direct: this.opts.direct });
    await lockOrClose(nf);
    await this.writer.switchTo(nf, header.bytes.length, header.crc);
    await oldFile.close();
    const seg = newSegment(seq, nameIndex, name, full);
    seg.end = header.bytes.length;
    this.segments.push(seg);
    this.notifyDurable();
  }

  private async timedSync(file: WalFile): Promise<void> {
    const t0 = process.hrtime.bigint();
    await file.datasync();
    this.recordSync(Number(process.hrtime.bigint() - t0) / 1000, 0, 0);
  }

  /** Queues `run` to execute alone, after every append accepted so far is written. */
  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.state === State.Failed || this.state === State.Closed) return Promise.reject(this.unusable());
    return new Promise<T>((resolve, reject) => {
      this.ops.push({ barrier: this.accepted, run, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /**
   * Makes every record appended so far durable (writes what is queued, then fdatasync) and
   * resolves with the durable index. Under 'always' it only waits for the queued appends.
   */
  sync(): Promise<bigint> {
    return this.exclusive(async () => {
      if (this.durableN < this.written) {
        const target = this.written;
        await this.timedSync(this.writer.file);
        this.durableN = target;
        this.notifyDurable();
      }
      if (this.durableN >= this.written) this.timer?.unref();
      return BigInt(this.durableN);
    });
  }

  private intervalSync(): void {
    if (this.syncQueued || this.state !== State.Open || this.durableN >= this.written) return;
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
  async durable(index?: bigint): Promise<void> {
    const target = index === undefined ? this.written : toIndex('index', index);
    if (this.durableN >= target) return;
    if (this.opts.syncPolicy === 'none') {
      await this.sync();
      if (this.durableN >= target) return;
    }
    await this.waitDurable(target);
    if (this.durableN < target) throw this.unusable();
  }

  private waitDurable(index: number): Promise<void> {
    if (this.durableN >= index || this.state === State.Closed || this.state === State.Failed) return Promise.resolve();
    return new Promise((resolve) => this.durableWaiters.push({ index, resolve }));
  }

  private notifyDurable(): void {
    this.publish();
    this.host?.onDurable();
    const ws = this.durableWaiters;
    if (ws.length === 0) return;
    const d = this.durableN;
    const keep: typeof ws = [];
    for (const w of ws) {
      if (w.index <= d) w.resolve();
      else keep.push(w);
    }
    this.durableWaiters = keep;
  }

  // ------------------------------------------------------------------------------------------
  // Indexes

  /** Index of the first entry readable (1 for a new log; moves with truncateFront). */
  get firstIndex(): bigint {
    return BigInt(this.firstIndexN());
  }

  private firstIndexN(): number {
    return Math.max(this.snapshotIndex + 1, this.segments[0]!.first);
  }

  /** Index of the last entry written (visible to readers); firstIndex - 1 when empty. */
  get lastIndex(): bigint {
    return BigInt(this.written);
  }

  /** Index of the last entry known durable (fdatasync'd). */
  get durableIndex(): bigint {
    return BigInt(this.durableN);
  }

  // ------------------------------------------------------------------------------------------
  // Reading

  /**
   * Streams entries in [from, to] (defaults: firstIndex, lastIndex at the first `next()`), segment by
   * segment; memory is bounded by the read buffer, not by the log. Entries appended later are not
   * included (see `tail()`). Truncating concurrently may end the iteration with an error.
   */
  async *entries(range: EntriesRange = {}): AsyncGenerator<LogEntry, void, undefined> {
    this.checkReadable();
    let next = Math.max(range.from === undefined ? 0 : toIndex('from', range.from), this.firstIndexN());
    const end = Math.min(range.to === undefined ? this.written : toIndex('to', range.to), this.written);
    while (next <= end) {
      const si = findSegment(this.segments, next);
      if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} is no longer in the log`, { file: this.dir });
      const seg = this.segments[si]!;
      const cp = checkpointFor(seg, next);
      const dec = await openSegment(this.io, seg.path, {
        offset: cp.offset,
        crc: cp.crc,
        limit: seg.end,
        last: false,
        bufferBytes: this.opts.readBufferBytes,
      });
      const before = next;
      try {
        for (;;) {
          let r: number;
          try {
            r = dec.tryNextRaw();
            if (r < 0) {
              await dec.fill();
              continue;
            }
          } catch (err) {
            throw logReadError(err);
          }
          if (r === 0) break;
          if (dec.recType !== RecordType.entry) continue;
          const e = parseEntry(recordData(dec)!);
          if (e === null) throw new WalError(WalErrorCodes.CORRUPT_PAYLOAD, 'entry does not decode', { file: seg.path, offset: dec.recOffset });
          if (e.index < next) continue;
          if (e.index > end) return;
          yield { index: BigInt(e.index), data: e.data };
          next = e.index + 1;
        }
      } finally {
        await closeSegment(dec);
      }
      if (next === before) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} not found in ${seg.name}`, { file: seg.path });
      }
    }
  }

  /**
   * Follows the log: yields entries from `from` (default: the next one to become durable) as they
   * become durable, waiting for new ones; ends when the log closes. Throws ERR_WAL_OUT_OF_RANGE if
   * truncateBack removes entries this follower already yielded.
   */
  async *tail(opts: { from?: bigint } = {}): AsyncGenerator<LogEntry, void, undefined> {
    let next = opts.from === undefined ? this.durableN + 1 : Math.max(toIndex('from', opts.from), this.firstIndexN());
    for (;;) {
      if (this.state === State.Closed || this.state === State.Failed) return;
      if (next > this.written + 1) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entries before ${next} were truncated`, { file: this.dir });
      }
      if (next <= this.durableN) {
        for await (const e of this.entries({ from: BigInt(next), to: BigInt(this.durableN) })) {
          yield e;
          next = Number(e.index) + 1;
        }
        continue;
      }
      if (this.state === State.Closing) return;
      await this.waitDurable(next);
    }
  }

  /** The data of entry `index` (a copy). ERR_WAL_OUT_OF_RANGE when it is not in [firstIndex, lastIndex]. */
  async get(index: bigint): Promise<Uint8Array> {
    const e = await this.readEntry(toIndex('index', index));
    return e.data.slice();
  }

  private async readEntry(index: number): Promise<{ data: Uint8Array; term: bigint }> {
    this.checkReadable();
    if (index < this.firstIndexN() || index > this.written) {
      throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} is outside [${this.firstIndexN()}, ${this.written}]`);
    }
    const si = findSegment(this.segments, index);
    if (si < 0) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} is no longer in the log`, { file: this.dir });
    const seg = this.segments[si]!;
    const { dec } = await this.openAtCheckpoint(seg, index);
    let found: { data: Uint8Array; term: bigint } | null = null;
    try {
      await forEachRecord(dec, (d) => {
        if (d.recType !== RecordType.entry) return false;
        const e = parseEntry(recordData(d)!);
        if (e !== null && e.index === index) found = { data: e.data, term: e.term };
        return found !== null;
      });
    } finally {
      await closeSegment(dec);
    }
    if (found !== null) return found;
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} not found`, { file: seg.path });
  }

  private checkReadable(): void {
    if (this.state === State.Closed) throw this.unusable();
  }

  // ------------------------------------------------------------------------------------------
  // Consumers (src/log/consumer*.ts; docs/consumers.md)

  /** The log's stable random id (32 hex digits), kept across reopens and truncations. */
  get id(): string {
    return this.logId;
  }

  /** Opens the durable consumer `name`, creating it at `start` if it does not exist. */
  consumer(name: string, opts?: ConsumerOptions): Promise<Consumer> {
    if (this.state !== State.Open) return Promise.reject(this.unusable());
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
    return {
      dir: this.dir,
      io: this.io,
      id: this.logId,
      firstIndex: () => this.firstIndexN(),
      durableIndex: () => this.durableN,
      entries: (from, to) => this.entries({ from: BigInt(from), to: BigInt(to) }),
      lagBytes: (after) => segmentBytesAfter(this.segments, after),
      closed: () => this.state === State.Closed || this.state === State.Failed,
      onCut: (to, cuts) => this.publisher?.publish(Math.min(this.durableN, to), this.firstIndexN(), cuts),
    };
  }

  /** Tells read-only opens how far the log is durable (durable-file.ts); a 40-byte page-cache write. */
  private publish(): void {
    if (this.publisher !== null) this.publisher.publish(this.durableN, this.firstIndexN(), this.host!.cutCount);
  }

  // ------------------------------------------------------------------------------------------
  // Truncation

  /**
   * Drops entries below `index` (they become unreadable; firstIndex = index) the etcd way: a
   * snapshot record {index-1, term} is written and synced, then every whole segment that etcd's
   * `Open` at that snapshot would not select is unlinked, then the directory is fsynced.
   */
  async truncateFront(index: bigint, opts: { force?: boolean } = {}): Promise<void> {
    const idx = toIndex('index', index);
    return this.exclusive(async () => {
      if (idx <= this.firstIndexN()) return;
      if (idx > this.written + 1) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `truncateFront(${idx}) is past lastIndex + 1 (${this.written + 1})`);
      }
      if (opts.force !== true) await checkFrontTruncation(this.host!, idx);
      const snapIndex = idx - 1;
      const term = snapIndex === this.snapshotIndex ? this.snapshotTerm : (await this.readEntry(snapIndex)).term;
      await this.writeSnapshotRecord(snapIndex, term);
      // Keep from the last segment whose name index <= snapIndex (etcd searchIndex): Open at the
      // snapshot still finds its file; earlier ones only hold compacted entries.
      let keep = 0;
      for (let k = 0; k < this.segments.length; k++) if (this.segments[k]!.nameIndex <= snapIndex) keep = k;
      // Oldest first, each unlink made durable before the next: a crash part-way leaves a
      // contiguous run of segments (a gap in the sequence would make the directory unreadable).
      while (keep-- > 0) {
        const seg = this.segments.shift()!;
        await this.io.unlink(seg.path);
        await this.io.fsyncDir(this.dir);
      }
    });
  }

  private async writeSnapshotRecord(index: number, term: bigint): Promise<void> {
    const tailSeg = this.segments[this.segments.length - 1]!;
    const frame = encodeSnapshotFrame(this.io, BigInt(index), term, this.writer.crc);
    const at = this.writer.pos;
    this.writer.stageFrames(frame.bytes, frame.crc);
    const t0 = process.hrtime.bigint();
    await this.writer.commit(true);
    this.recordSync(Number(process.hrtime.bigint() - t0) / 1000, 0, 0);
    tailSeg.end = this.writer.pos;
    this.durableN = this.written;
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.snapshotAt = { seq: tailSeg.seq, offset: at };
    this.notifyDurable();
  }

  /**
   * Drops entries after `index` (lastIndex = index; the next append gets index + 1). Physically:
   * later segments are unlinked and the bytes from entry index+1 on are overwritten with zeros and
   * synced, so neither this Log nor etcd's ReadAll can see them again, even after a reopen.
   */
  async truncateBack(index: bigint): Promise<void> {
    const idx = toIndex('index', index);
    return this.exclusive(async () => {
      if (idx >= this.written) return;
      if (idx < this.firstIndexN() - 1) {
        throw new WalError(WalErrorCodes.OUT_OF_RANGE, `truncateBack(${idx}) is below firstIndex - 1 (${this.firstIndexN() - 1})`);
      }
      await this.host!.beforeTruncateBack(idx);
      const dropFrom = idx + 1;
      const si = findSegment(this.segments, dropFrom);
      const seg = this.segments[si]!;
      const at = await this.locate(seg, dropFrom);
      const tailIdx = this.segments.length - 1;
      const snap = this.snapshotAt;
      // The front-truncation record lies in the bytes about to be dropped: keep it in a marker
      // file until it is written again (see front-marker.ts).
      const snapDropped = snap !== null && this.snapshotIndex > 0 && (snap.seq > seg.seq || (snap.seq === seg.seq && snap.offset >= at.offset));
      if (snapDropped) await writeFrontMarker(this.io, this.dir, this.snapshotIndex, this.snapshotTerm);
      if (si !== tailIdx) {
        const nf = await this.io.open(seg.path, { read: true, write: true, direct: this.opts.direct });
        await lockOrClose(nf);
        // Newest first, each made durable before the next, so a crash part-way leaves a shorter
        // but contiguous log.
        for (let k = tailIdx; k > si; k--) {
          await this.io.unlink(this.segments[k]!.path);
          await this.io.fsyncDir(this.dir);
        }
        const oldFile = this.writer.file;
        await this.writer.switchTo(nf, at.offset, at.crc);
        await oldFile.close();
        this.segments.length = si + 1;
      }
      await this.writer.rewind(at.offset, at.crc, si !== tailIdx ? Math.max(seg.end, this.opts.segmentSize) : seg.end);
      seg.end = at.offset;
      seg.last = idx;
      if (seg.last < seg.first) seg.first = idx + 1;
      dropCheckpointsFrom(seg, at.offset);
      this.written = idx;
      this.durableN = idx;
      if (snapDropped) {
        await this.writeSnapshotRecord(this.snapshotIndex, this.snapshotTerm);
        await removeFrontMarker(this.io, this.dir);
      }
    });
  }

  /** After a crash inside truncateBack: write the front's snapshot record again from the marker. */
  private async restoreFront(): Promise<void> {
    const marker = await readFrontMarker(this.io, this.dir);
    if (marker === null) {
      // A marker that never got renamed into place.
      await this.io.unlink(path.join(this.dir, `${FRONT_MARKER}.new`)).catch(() => undefined);
      return;
    }
    if (marker.index > this.snapshotIndex) await this.writeSnapshotRecord(marker.index, marker.term);
    await removeFrontMarker(this.io, this.dir);
  }

  /** A decoder over `seg` starting at the nearest checkpoint at or before entry `index`. */
  private async openAtCheckpoint(seg: SegmentInfo, index: number) {
    const cp = checkpointFor(seg, index);
    const dec = await openSegment(this.io, seg.path, {
      offset: cp.offset,
      crc: cp.crc,
      limit: seg.end,
      last: false,
      bufferBytes: 2 * CHECKPOINT_BYTES,
    });
    return { cp, dec };
  }

  /** File offset of entry `index`'s frame in `seg` and the running CRC before it. */
  private async locate(seg: SegmentInfo, index: number): Promise<{ offset: number; crc: number }> {
    const { cp, dec } = await this.openAtCheckpoint(seg, index);
    let found: { offset: number; crc: number } | null = null;
    try {
      let before = cp.crc;
      await forEachRecord(dec, (d) => {
        if (d.recType === RecordType.entry && parseEntry(recordData(d)!)?.index === index) {
          found = { offset: d.recOffset, crc: before };
          return true;
        }
        before = d.crc;
        return false;
      });
    } finally {
      await closeSegment(dec);
    }
    if (found !== null) return found;
    throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${index} not found`, { file: seg.path });
  }

  // ------------------------------------------------------------------------------------------
  // Stats, failure, close

  /** Counters, fsync latency percentiles and the state of the queue. */
  stats(): LogStats {
    return {
      ...this.counters,
      fsyncLatency: this.hist.summary(),
      queueDepth: this.qData.length - this.qHead,
      queuedBytes: this.queuedBytes,
      blockedAppends: this.blocked.length,
      segments: this.segments.length,
      firstIndex: this.firstIndex,
      lastIndex: this.lastIndex,
      durableIndex: this.durableIndex,
      backend: this.io.kind,
      direct: this.writer.direct,
      directUnavailable: this.opts.direct && !this.writer.direct
        ? this.io.kind === 'fallback'
          ? 'the fallback backend cannot do O_DIRECT'
          : 'the filesystem refused O_DIRECT'
        : null,
      repaired: this.repaired,
      preparation: this.preparer.preparation,
    };
  }

  private unusable(): WalError {
    if (this.failure !== null) return this.failure;
    return new WalError(WalErrorCodes.CLOSED, 'the log is closed', { file: this.dir });
  }

  /** A write or sync failed: after fsync errors the page cache cannot be trusted, so stop. */
  private fail(err: unknown): void {
    if (this.state === State.Failed) return;
    this.state = State.Failed;
    this.failure = new WalError(WalErrorCodes.FAILED, `the log failed and refuses further writes: ${String((err as Error)?.message ?? err)}`, {
      file: this.dir,
      cause: err,
    });
    const rejected: Promise<never> = Promise.reject(this.failure);
    rejected.catch(() => undefined); // only the appends' own promises should report it
    for (let i = this.qHead; i < this.qRes.length; i++) this.qRes[i]?.(rejected);
    this.qData = [];
    this.qRes = [];
    this.qHead = 0;
    for (const b of this.blocked) b.reject(this.failure);
    this.blocked = [];
    for (const op of this.ops) op.reject(this.failure);
    this.ops = [];
    const ws = this.durableWaiters;
    this.durableWaiters = [];
    for (const w of ws) w.resolve();
  }

  /**
   * Writes and syncs everything appended, then closes the files and releases the lock. Appends
   * after close() reject with ERR_WAL_CLOSED; followers (`tail()`) end.
   */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    await this.host?.closeAll();
    if (this.state === State.Open) {
      this.state = State.Closing;
      try {
        while (this.blocked.length > 0 || this.qData.length > this.qHead) await this.exclusive(async () => undefined);
        await this.sync();
      } catch {
        // The failure was reported to the appends; still release the files below.
      }
    }
    if (this.timer !== null) clearInterval(this.timer);
    this.state = this.state === State.Failed ? State.Failed : State.Closed;
    const ws = this.durableWaiters;
    this.durableWaiters = [];
    for (const w of ws) w.resolve();
    this.host?.onDurable();
    await this.publisher?.close();
    await this.preparer.close();
    await this.writer.file.close();
  }
}

/** Creates the first segment as etcd's Create does (crc, metadata, snapshot {0,0}), zero tail prepared. */
async function createFirstSegment(io: IoBackend, dir: string, opts: ResolvedLogOptions): Promise<void> {
  const tmp = path.join(dir, '0.tmp');
  const header = encodeSegmentHeader(io, 0, true);
  const f = await io.open(tmp, { read: false, write: true, create: true, truncate: true });
  try {
    await prepareRange(f, 0, opts.segmentSize, initialPreparation(opts.preallocation));
    await f.write([header.bytes], 0, { datasync: true });
  } finally {
    await f.close();
  }
  await io.rename(tmp, path.join(dir, walName(0n, 0n)));
  await io.fsyncDir(dir);
  await io.fsyncDir(path.dirname(path.resolve(dir)));
}

/** Locks a just-opened segment; on failure closes it, so a failed cut or truncation leaks no descriptor. */
async function lockOrClose(file: WalFile): Promise<void> {
  try {
    await file.lock({ wait: false });
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}
