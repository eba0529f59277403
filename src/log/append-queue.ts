/**
 * The appends not yet written, and backpressure: appends beyond `maxQueuedBytes` wait (or are
 * refused) until a batch frees room. The batch writer takes the next run of records as a
 * `PendingBatch` and settles it (resolving the appends' promises) once it is written.
 */
import { WalError, WalErrorCodes } from '../errors';
import { abortError, onAbort } from './abort';
import { MAX_ENTRY_DATA } from './frames';

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
  /** Removes the AbortSignal listener once the append is admitted. */
  detach: () => void;
}

/** The hand-off from `append` to the batch writer: the next run of queued records, written as one batch. */
export interface PendingBatch {
  /** The queue's records; the batch is `datas[from..from+count)`, `bytes` data bytes in all. */
  readonly datas: readonly Uint8Array[];
  readonly from: number;
  readonly count: number;
  readonly bytes: number;
}

const EMPTY = new Uint8Array(0);
/** A module-local copy: read on every append (an imported binding can cost a getter call per read). */
const MAX_DATA = MAX_ENTRY_DATA;

export function toData(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (!(data instanceof Uint8Array)) throw new TypeError('Log.append: data must be a Uint8Array, Buffer or string');
  if (data.length > MAX_DATA) {
    throw new WalError(WalErrorCodes.RECORD_TOO_LARGE, `record of ${data.length} bytes exceeds ${MAX_ENTRY_DATA}`);
  }
  return data;
}

export class AppendQueue {
  // Parallel arrays; head index instead of shift().
  private qData: Uint8Array[] = [];
  private qRes: Resolve[] = [];
  private qHead = 0;
  /** Next record to take into a batch: [qHead, qNext) are taken (being written) but not settled. */
  private qNext = 0;
  queuedBytes = 0;
  private blocked: Blocked[] = [];
  /** Records accepted into the queue, and taken out of it into batches, since open. */
  accepted = 0;
  taken = 0;

  constructor(
    private readonly maxQueuedBytes: number,
    private readonly onQueueFull: 'wait' | 'reject',
    /** Called whenever records enter the queue (the writer schedules a batch). */
    private readonly onQueued: () => void,
    /** True while retention holds appends (they wait as for a full queue). */
    private readonly held: () => boolean,
  ) {}

  /** Records waiting to be taken into a batch. */
  get length(): number {
    return this.qData.length - this.qNext;
  }

  /** Records whose appends have not settled yet (waiting, or in a batch being written). */
  get depth(): number {
    return this.qData.length - this.qHead;
  }

  get blockedCount(): number {
    return this.blocked.length;
  }

  /** Appends one record. */
  append(data: Uint8Array | string, signal: AbortSignal | undefined): Promise<bigint> {
    let d: Uint8Array;
    if (data instanceof Uint8Array && data.length <= MAX_DATA) d = data;
    else {
      try {
        d = toData(data);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.blocked.length > 0 || this.held() || (this.queuedBytes + d.length > this.maxQueuedBytes && this.qData.length > this.qHead)) {
      return this.backpressure([d], d.length, signal);
    }
    const promise = new Promise<bigint>(capture as (resolve: (v: bigint) => void) => void);
    this.qData.push(d);
    this.qRes.push(captured);
    this.queuedBytes += d.length;
    this.accepted++;
    this.onQueued();
    return promise;
  }

  /** Appends records as consecutive entries; resolves with the index of the last one. */
  appendBatch(datas: readonly (Uint8Array | string)[], signal: AbortSignal | undefined): Promise<bigint> {
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
    if (this.blocked.length > 0 || this.held() || (this.queuedBytes + bytes > this.maxQueuedBytes && this.qData.length > this.qHead)) {
      return this.backpressure(list, bytes, signal);
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
    this.onQueued();
  }

  private backpressure(datas: Uint8Array[], bytes: number, signal: AbortSignal | undefined): Promise<bigint> {
    if (this.onQueueFull === 'reject') {
      return Promise.reject(
        new WalError(WalErrorCodes.QUEUE_FULL, `append queue holds ${this.queuedBytes} bytes (maxQueuedBytes ${this.maxQueuedBytes})`),
      );
    }
    return new Promise<bigint>((resolve, reject) => {
      const b: Blocked = { datas, bytes, resolve: resolve as Resolver, reject, detach: () => undefined };
      // Aborted while waiting for space: leave the wait queue whole; nothing of it was queued.
      b.detach = onAbort(signal, () => {
        const at = this.blocked.indexOf(b);
        if (at < 0) return;
        this.blocked.splice(at, 1);
        reject(abortError(signal!, 'append'));
        this.admitBlocked();
      });
      this.blocked.push(b);
    });
  }

  /** Moves waiting appends into the queue while there is room (always at least one when it is empty). */
  admitBlocked(): void {
    if (this.held()) return;
    while (this.blocked.length > 0) {
      const b = this.blocked[0]!;
      const empty = this.qData.length === this.qHead;
      if (!empty && this.queuedBytes + b.bytes > this.maxQueuedBytes) break;
      this.blocked.shift();
      b.detach();
      this.enqueue(b.datas, b.bytes, b.resolve);
    }
  }

  /** The next batch: at most `limit` records, at most `maxBytes` (one larger record goes alone). */
  nextBatch(limit: number, maxBytes: number): PendingBatch {
    const from = this.qNext;
    const q = this.qData;
    let count = 0;
    let bytes = 0;
    while (count < limit) {
      const len = q[from + count]!.length;
      if (count > 0 && bytes + len > maxBytes) break;
      bytes += len;
      count++;
    }
    this.qNext += count;
    this.taken += count;
    return { datas: q, from, count, bytes };
  }

  /**
   * The oldest unsettled batch, `batch`, is written (and durable, as the policy asks) as entries
   * from `first` on: resolve its appends and drop it from the queue. Batches settle in the order taken.
   */
  settle(batch: PendingBatch, first: number): void {
    const from = this.qHead;
    const count = batch.count;
    const q = this.qData;
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
    this.queuedBytes -= batch.bytes;
    if (this.qHead === q.length) {
      this.qData = [];
      this.qRes = [];
      this.qHead = 0;
      this.qNext = 0;
    } else if (this.qHead >= 4096 && this.qHead * 2 >= q.length) {
      // Appends keep arriving during every write, so the queue never drains: drop the consumed half.
      this.qData = q.slice(this.qHead);
      this.qRes = this.qRes.slice(this.qHead);
      this.qNext -= this.qHead;
      this.qHead = 0;
    }
  }

  /** The log failed: every queued and waiting append rejects with `failure`. */
  rejectAll(failure: WalError): void {
    const rejected: Promise<never> = Promise.reject(failure);
    rejected.catch(() => undefined); // only the appends' own promises should report it
    for (let i = this.qHead; i < this.qRes.length; i++) this.qRes[i]?.(rejected);
    this.qData = [];
    this.qRes = [];
    this.qHead = 0;
    this.qNext = 0;
    for (const b of this.blocked) b.reject(failure);
    this.blocked = [];
  }
}
