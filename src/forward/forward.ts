/**
 * `forward(log, { consumer, sink })`: runs a durable consumer of `log` and hands its records to
 * `sink` in batches, committing the consumer only after the sink has durably stored everything up
 * to that index. With a sink that knows what it holds (`lastForwarded`), the start resumes after
 * the downstream's last index rather than after the consumer's commit, so a crash between the
 * sink's ack and the commit forwards nothing twice, whatever the batch boundaries are this time.
 */
import { WalError, WalErrorCodes, isWalError } from '../errors';
import { LatencyHistogram } from '../log/histogram';
import type { LatencySummary } from '../log/histogram';
import { encodeBatchBody, encodedRecordSize } from './batch';
import { BatchBody } from './batch-body';
import type { Sink, SinkRecord } from './sink';

/** The part of a durable consumer (Log#consumer) the forwarder uses. */
export interface ForwardConsumer {
  readonly name: string;
  readonly committed: bigint;
  read(opts?: {
    maxRecords?: number;
    maxBytes?: number;
    timeoutMs?: number;
    signal?: AbortSignal;
  }): Promise<{ index: bigint; data: Uint8Array }[]>;
  /**
   * Optional (Consumer has it): the next records appended to `body` as a batch body. With a sink
   * that has `sendBatch`, the forwarder then reads and sends without an object per record.
   */
  readEncoded?(body: BatchBody, opts?: { maxRecords?: number; timeoutMs?: number; signal?: AbortSignal }): Promise<number>;
  seek(index: bigint): void;
  commit(index: bigint): Promise<void>;
  info(): { lagRecords: bigint; lagBytes: number };
  close(): Promise<void>;
}

/** The part of a Log the forwarder uses: its id and its consumers. */
export interface ForwardSource {
  readonly id: string;
  consumer(name: string, opts?: { start?: 'oldest' | 'newest' | bigint }): Promise<ForwardConsumer>;
}

export interface ForwardOptions {
  /** A consumer name (opened, and closed when the forwarder stops) or an open consumer (left open). */
  consumer: string | ForwardConsumer;
  /** Where a consumer opened by name starts when it is new (default 'oldest'). */
  start?: 'oldest' | 'newest' | bigint;
  sink: Sink;
  /** Most records in one batch (default 65536). Batches are as large as what is waiting, up to this and the sink's maxBatchBytes. */
  maxRecords?: number;
  /** Stops the forwarder as `stop()` does. */
  signal?: AbortSignal;
}

export type ForwardState = 'running' | 'stopping' | 'stopped' | 'failed';

/** What `Forwarder#stats()` reports. Latencies in microseconds. */
export interface ForwardStats {
  state: ForwardState;
  /** Records and bytes (record data) the sink acknowledged since the start. */
  forwardedRecords: number;
  forwardedBytes: number;
  forwardedBatches: number;
  /** Batches sent and not yet acknowledged. */
  inFlightBatches: number;
  /** Highest index the sink acknowledged (or resumed from). */
  lastForwarded: bigint;
  /** The consumer's durable commit. */
  committed: bigint;
  /** Records and bytes of the log not yet acknowledged downstream. */
  lagRecords: bigint;
  lagBytes: number;
  /** From `send` to its resolution. */
  ackLatency: LatencySummary;
  /** Index the forwarder resumed after at its start, and where that came from. */
  resumedAfter: bigint;
  resumedFrom: 'sink' | 'consumer';
  error: Error | null;
}

export interface Forwarder extends AsyncDisposable {
  /** Resolves when the forwarder has stopped after `stop()`; rejects with the error that stopped it. */
  readonly done: Promise<void>;
  /**
   * Stops reading, waits for the batches in flight (up to `graceMs`, default 10 s, then gives up
   * on them: they count as not forwarded), commits what was acknowledged.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  stats(): ForwardStats;
}

const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
const DEFAULT_MAX_RECORDS = 65536;
/** How long one read waits for records before checking for a stop again. */
const READ_WAIT_MS = 1000;

type ReadRecord = { index: bigint; data: Uint8Array };

interface InFlight {
  last: bigint;
  records: number;
  bytes: number;
  status: 'sent' | 'acked' | 'failed';
}

/** Starts forwarding; resolves once the forwarder has resumed (rejects on a start-up error). */
export async function forward(log: ForwardSource, options: ForwardOptions): Promise<Forwarder> {
  const { sink } = options;
  const owned = typeof options.consumer === 'string';
  const consumer =
    typeof options.consumer === 'string' ? await log.consumer(options.consumer, { start: options.start ?? 'oldest' }) : options.consumer;
  try {
    const runner = new Runner(log.id, consumer, owned, sink, options);
    await runner.resume();
    runner.start();
    return runner;
  } catch (err) {
    if (owned) await consumer.close().catch(() => undefined);
    throw err;
  }
}

class Runner implements Forwarder {
  done!: Promise<void>;
  private state: ForwardState = 'running';
  private readonly stopper = new AbortController();
  private readonly sendAbort = new AbortController();
  private readonly inFlight: InFlight[] = [];
  private slotFreed: (() => void) | null = null;
  private readonly hist = new LatencyHistogram();
  private readonly maxBytes: number;
  private readonly maxRecords: number;
  private readonly maxInFlight: number;
  private forwardedRecords = 0;
  private forwardedBytes = 0;
  private forwardedBatches = 0;
  private lastForwarded = 0n;
  private resumedAfter = 0n;
  private resumedFrom: 'sink' | 'consumer' = 'consumer';
  private error: Error | null = null;
  private poisoned = false;
  /** Encoded bytes per data byte of the last read (length prefixes), slightly rounded up. */
  private prefixRatio = 1.05;
  private commits: Promise<void> = Promise.resolve();
  /** Read and send batch bodies (consumer.readEncoded, sink.sendBatch) rather than records. */
  private readonly encoded: boolean;
  /** Encoded size of the last body sent: the next one starts with room for twice that. */
  private lastBodySize = 0;

  constructor(
    private readonly logId: string,
    private readonly consumer: ForwardConsumer,
    private readonly owned: boolean,
    private readonly sink: Sink,
    options: ForwardOptions,
  ) {
    this.maxBytes = positive(sink.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES, 'sink.maxBatchBytes');
    this.maxRecords = positive(options.maxRecords, DEFAULT_MAX_RECORDS, 'maxRecords');
    this.maxInFlight = positive(sink.maxInFlight, 1, 'sink.maxInFlight');
    this.encoded = typeof sink.sendBatch === 'function' && typeof consumer.readEncoded === 'function';
    if (options.signal) {
      if (options.signal.aborted) this.stopper.abort();
      else options.signal.addEventListener('abort', () => void this.stop().catch(() => undefined), { once: true });
    }
  }

  /** The downstream is the record of what was forwarded: continue right after its last index. */
  async resume(): Promise<void> {
    const committed = this.consumer.committed;
    if (this.sink.lastForwarded === undefined) {
      this.resumedAfter = committed;
      this.lastForwarded = committed;
      this.consumer.seek(committed); // an open consumer may have delivered past its commit
      return;
    }
    const last = await this.sink.lastForwarded(this.logId);
    this.resumedFrom = 'sink';
    this.resumedAfter = last;
    this.lastForwarded = last;
    // Below the commit: the downstream lost acknowledged batches (purged, or a store whose ack was
    // not durable); forward them again from the log if it still has them.
    try {
      this.consumer.seek(last);
    } catch (err) {
      if (!isWalError(err, WalErrorCodes.OUT_OF_RANGE)) throw err;
      // The downstream holds indexes this log does not (durably) have: a truncateBack after they
      // were forwarded, or another log's records under this id. Never guess which records are which.
      throw new WalError(
        WalErrorCodes.FORWARD_DIVERGED,
        `the sink holds this log up to index ${last}, beyond what the log has: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (last > committed) await this.consumer.commit(last);
  }

  start(): void {
    this.done = this.run();
    this.done.catch(() => undefined); // observed through `done`/`stop()`; never an unhandled rejection
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopper.signal.aborted && this.error === null) {
        if (this.encoded) {
          // Read the next batch while the previous one is in flight…
          const body = await this.readBody(null, READ_WAIT_MS);
          if (body.count === 0) continue;
          await this.slot();
          // Stopping while waiting for a slot: this batch was read, not sent; it is read again next time.
          if (this.error !== null || this.stopper.signal.aborted) break;
          // …then top it up with what arrived during that wait: full batches under load.
          this.sendBody(await this.readBody(body, 0));
          continue;
        }
        const batch = await this.readBatch([], READ_WAIT_MS);
        if (batch.length === 0) continue;
        await this.slot();
        if (this.error !== null || this.stopper.signal.aborted) break;
        this.send(await this.readBatch(batch, 0));
      }
    } catch (err) {
      if (!this.stopper.signal.aborted || !isAbort(err)) this.fail(err);
    }
    while (this.inFlight.length > 0) await new Promise<void>((r) => (this.slotFreed = r));
    try {
      await this.commits;
    } catch (err) {
      this.fail(err);
    }
    if (this.owned) await this.consumer.close().catch((err: unknown) => this.fail(err));
    this.state = this.error === null ? 'stopped' : 'failed';
    if (this.error !== null) throw this.error;
  }

  /**
   * Appends to `batch` what the consumer has, up to the sink's byte budget counted encoded (a read
   * limits data bytes; the sink counts length prefixes too) and maxRecords; what does not fit is
   * given back with a seek. Waits up to `waitMs` for a first record.
   */
  private async readBatch(batch: ReadRecord[], waitMs: number): Promise<ReadRecord[]> {
    let bytes = 0;
    for (const r of batch) bytes += encodedRecordSize(r.data.length);
    const roomRecords = this.maxRecords - batch.length;
    const roomBytes = this.maxBytes - bytes;
    if (roomRecords <= 0 || (batch.length > 0 && roomBytes <= 1)) return batch;
    // Ask for data bytes that will fit once length prefixes are added (ratio seen last time), so the
    // consumer stops by itself: a seek back drops its read position (costly on a read-only open).
    const got = await this.consumer.read({
      maxRecords: roomRecords,
      maxBytes: Math.max(1, Math.floor(roomBytes / this.prefixRatio)),
      timeoutMs: waitMs,
      signal: this.stopper.signal,
    });
    let data = 0;
    let encoded = 0;
    for (const r of got) {
      data += r.data.length;
      encoded += encodedRecordSize(r.data.length);
    }
    if (data > 0) this.prefixRatio = Math.min(6, Math.max(1, (encoded / data) * 1.02));
    let n = 0;
    while (n < got.length) {
      const size = encodedRecordSize(got[n]!.data.length);
      // A record larger than the budget still travels alone (the sink then says whether it fits).
      if ((batch.length > 0 || n > 0) && bytes + size > this.maxBytes) break;
      bytes += size;
      n++;
    }
    if (n < got.length) this.consumer.seek(n > 0 ? got[n - 1]!.index : batch[batch.length - 1]!.index);
    if (batch.length === 0) return n < got.length ? got.slice(0, n) : got;
    for (let i = 0; i < n; i++) batch.push(got[i]!);
    return batch;
  }

  private async slot(): Promise<void> {
    while (this.inFlight.length >= this.maxInFlight && this.error === null) {
      await new Promise<void>((r) => (this.slotFreed = r));
    }
  }

  /** Appends to `body` (a new one when null) what the consumer has, up to the sink's byte budget and maxRecords. */
  private async readBody(body: BatchBody | null, waitMs: number): Promise<BatchBody> {
    const b = body ?? new BatchBody(this.maxBytes, Math.min(this.maxBytes, Math.max(4096, 2 * this.lastBodySize)));
    if (b.count < this.maxRecords) {
      await this.consumer.readEncoded!(b, { maxRecords: this.maxRecords, timeoutMs: waitMs, signal: this.stopper.signal });
    }
    return b;
  }

  private sendBody(body: BatchBody): void {
    this.lastBodySize = body.size;
    const batch = encodeBatchBody(this.logId, body);
    this.dispatch(batch.last, body.count, body.dataBytes, () => this.sink.sendBatch!(batch, { signal: this.sendAbort.signal }));
  }

  private send(batch: ReadRecord[]): void {
    const records: SinkRecord[] = batch.map((r) => ({ logId: this.logId, index: r.index, data: r.data }));
    let bytes = 0;
    for (const r of batch) bytes += r.data.length;
    this.dispatch(batch[batch.length - 1]!.index, batch.length, bytes, () => this.sink.send(records, { signal: this.sendAbort.signal }));
  }

  /** Starts a send and tracks it in flight until the sink resolves it. */
  private dispatch(last: bigint, records: number, bytes: number, start: () => Promise<void>): void {
    const entry: InFlight = { last, records, bytes, status: 'sent' };
    this.inFlight.push(entry);
    const t0 = performance.now();
    let sent: Promise<void>;
    try {
      sent = Promise.resolve(start());
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => {
        this.hist.record((performance.now() - t0) * 1000);
        entry.status = 'acked';
        this.settle();
      },
      (err: unknown) => {
        entry.status = 'failed';
        // A send given up because stop()'s grace ran out is not an error: it counts as not stored.
        if (!(this.sendAbort.signal.aborted && isAbort(err))) this.fail(err);
        this.settle();
      },
    );
  }

  /** Commits the acknowledged prefix of the in-flight batches, in order; nothing behind a failed one. */
  private settle(): void {
    let last: bigint | null = null;
    while (this.inFlight.length > 0 && this.inFlight[0]!.status !== 'sent') {
      const e = this.inFlight.shift()!;
      if (e.status === 'failed') this.poisoned = true;
      if (this.poisoned) continue;
      this.forwardedBatches++;
      this.forwardedRecords += e.records;
      this.forwardedBytes += e.bytes;
      last = e.last;
    }
    if (last !== null) {
      this.lastForwarded = last;
      const index = last;
      // Commits coalesce in the consumer; chaining keeps them in order and surfaces a failure.
      this.commits = this.commits.then(() => this.consumer.commit(index));
      this.commits.catch((err: unknown) => this.fail(err));
    }
    const wake = this.slotFreed;
    this.slotFreed = null;
    wake?.();
  }

  private fail(err: unknown): void {
    if (this.error === null) this.error = err instanceof Error ? err : new Error(String(err));
    this.stopper.abort();
    const wake = this.slotFreed;
    this.slotFreed = null;
    wake?.();
  }

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.state === 'running') this.state = 'stopping';
    this.stopper.abort();
    const timer = setTimeout(() => this.sendAbort.abort(), options.graceMs ?? 10_000);
    try {
      await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  stats(): ForwardStats {
    let lagRecords = 0n;
    let lagBytes = 0;
    try {
      ({ lagRecords, lagBytes } = this.consumer.info());
    } catch {
      // closed consumer: lag unknown after stop
    }
    return {
      state: this.state,
      forwardedRecords: this.forwardedRecords,
      forwardedBytes: this.forwardedBytes,
      forwardedBatches: this.forwardedBatches,
      inFlightBatches: this.inFlight.length,
      lastForwarded: this.lastForwarded,
      committed: this.consumer.committed,
      lagRecords,
      lagBytes,
      ackLatency: this.hist.summary(),
      resumedAfter: this.resumedAfter,
      resumedFrom: this.resumedFrom,
      error: this.error,
    };
  }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new WalError(WalErrorCodes.INVALID_OPTION, `forward: ${name} must be a positive integer, got ${v}`);
  return v;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR');
}
